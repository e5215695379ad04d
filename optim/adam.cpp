#include "optim/adam.h"

#include <cmath>

#include "autograd/node.h"

namespace pmx::optim {

Adam::Adam(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay)
    : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, false) {}

Adam::Adam(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay,
           bool decoupled)
    : Optimizer(std::move(params), lr), beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay),
      decoupled_(decoupled) {
  const std::string op = "[" + type_name() + "] ";
  PMX_CHECK(beta1 >= 0 && beta1 < 1, op, "beta1 must be in [0, 1), got ", beta1);
  PMX_CHECK(beta2 >= 0 && beta2 < 1, op, "beta2 must be in [0, 1), got ", beta2);
  PMX_CHECK(eps >= 0, op, "eps must be non-negative, got ", eps);
  PMX_CHECK(weight_decay >= 0, op, "weight_decay must be non-negative, got ", weight_decay);
}

struct AdamCoefficients {
  double beta1, beta2, eps;
  double step_size;        // lr / (1 - beta1^t)
  double inv_sqrt_bc2;     // 1 / sqrt(1 - beta2^t)
  double l2;               // coupled weight decay (Adam)
  double decay;            // decoupled multiplier 1 - lr * wd (AdamW), 1 otherwise
};

// param, exp_avg, exp_avg_sq, grad: (n). Each element is read and written once.
template <class T>
static void adam_update(T* param, T* exp_avg, T* exp_avg_sq, const T* grad, int64_t n, const AdamCoefficients& c) {
  const T beta1 = T(c.beta1), beta2 = T(c.beta2), eps = T(c.eps), l2 = T(c.l2), decay = T(c.decay);
  const T step_size = T(c.step_size), inv_sqrt_bc2 = T(c.inv_sqrt_bc2);
  const T one_minus_beta1 = T(1 - c.beta1), one_minus_beta2 = T(1 - c.beta2);
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    T p = param[i] * decay;
    T g = grad[i] + l2 * param[i];
    T m = beta1 * exp_avg[i] + one_minus_beta1 * g;
    T v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p - step_size * m / (std::sqrt(v) * inv_sqrt_bc2 + eps);
  }
}

void Adam::step() {
  NoGradGuard no_grad;
  ++step_count_;  // once per step, shared by every parameter's bias correction
  double t = double(step_count_);
  AdamCoefficients c;
  c.beta1 = beta1_;
  c.beta2 = beta2_;
  c.eps = eps_;
  c.step_size = lr_ / (1 - std::pow(beta1_, t));
  c.inv_sqrt_bc2 = 1 / std::sqrt(1 - std::pow(beta2_, t));
  c.l2 = decoupled_ ? 0 : weight_decay_;
  c.decay = decoupled_ ? 1 - lr_ * weight_decay_ : 1;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = gradient(i);
    if (!g.defined()) continue;
    const Tensor& p = params_[i];
    state(i, 1);  // sizes the slots first, so the references below stay valid
    Tensor& m = state(i, 0);
    Tensor& v = state(i, 1);
    if (!m.defined()) m = zeros(p.shape(), p.dtype());
    if (!v.defined()) v = zeros(p.shape(), p.dtype());
    PMX_DISPATCH_FLOATING(p.dtype(), type_name().c_str(), [&] {
      adam_update<scalar_t>(p.data<scalar_t>(), m.data<scalar_t>(), v.data<scalar_t>(), g.data<scalar_t>(),
                            p.numel(), c);
    });
  }
}

}  // namespace pmx::optim
