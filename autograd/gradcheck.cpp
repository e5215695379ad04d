#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/node.h"
#include "core/random.h"

namespace pmx {

// <t, r> over all elements, in double.
static double contract(const Tensor& t, const std::vector<double>& r) {
  std::vector<double> v = t.to_vector<double>();
  double acc = 0;
  for (size_t i = 0; i < v.size(); ++i) acc += v[i] * r[i];
  return acc;
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  GradcheckResult result;
  for (const Tensor& t : inputs)
    PMX_CHECK(!t.defined() || !t.requires_grad() || t.dtype() == DType::Float64,
              "[gradcheck] inputs that require grad must be float64, got ", dtype_name(t.dtype()));
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) t.impl().grad = nullptr;

  Tensor out = fn(inputs);
  PMX_CHECK(out.requires_grad(), "[gradcheck] the function's output does not require grad");
  Generator g(1234);
  Tensor r = randn(out.shape(), DType::Float64, g);
  std::vector<double> rv = r.to_vector<double>();
  out.backward(r.to(out.dtype()));

  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    PMX_CHECK(x.is_contiguous(), "[gradcheck] input ", k, " must be contiguous");
    Tensor analytic = x.grad();
    std::vector<double> a = analytic.defined() ? analytic.to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      double saved = p[i];
      double plus, minus;
      {
        NoGradGuard no_grad;
        p[i] = saved + eps;
        plus = contract(fn(inputs), rv);
        p[i] = saved - eps;
        minus = contract(fn(inputs), rv);
        p[i] = saved;
      }
      double numeric = (plus - minus) / (2 * eps);
      double err = std::abs(numeric - a[i]);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (err > atol + rtol * std::abs(numeric) && result.ok) {
        result.ok = false;
        std::ostringstream msg;
        msg << "input " << k << " " << shape_str(x.shape()) << " element " << i << ": analytic "
            << a[i] << ", numeric " << numeric << " (|diff| " << err << ")";
        result.message = msg.str();
      }
    }
  }
  return result;
}

}  // namespace pmx
