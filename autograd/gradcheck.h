// gradcheck: compares the autograd gradient of a function with central differences.
//
// Use float64 inputs. The function's output is contracted with a fixed random tensor R, so
// every output element's gradient is checked: analytic = d<f(x), R>/dx by backward(R),
// numeric = (<f(x+eps), R> - <f(x-eps), R>) / 2 eps per input element.
//
//   Tensor a = randn({3, 4}, DType::Float64).set_requires_grad(true);
//   auto r = gradcheck([](const std::vector<Tensor>& in) { return tanh(in[0]); }, {a});
//   CHECK_MESSAGE(r.ok, r.message);
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace pmx {

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  std::string message;  // which input and element failed, with both values
};

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-6,
                          double rtol = 1e-4);

}  // namespace pmx
