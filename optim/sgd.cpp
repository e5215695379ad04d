#include "optim/sgd.h"

#include "autograd/node.h"

namespace pmx::optim {

SGD::SGD(std::vector<Tensor> params, double lr, double momentum, double weight_decay, bool nesterov)
    : Optimizer(std::move(params), lr), momentum_(momentum), weight_decay_(weight_decay), nesterov_(nesterov) {
  PMX_CHECK(momentum >= 0, "[SGD] momentum must be non-negative, got ", momentum);
  PMX_CHECK(weight_decay >= 0, "[SGD] weight_decay must be non-negative, got ", weight_decay);
  PMX_CHECK(!nesterov || momentum > 0, "[SGD] nesterov needs momentum > 0");
}

std::vector<std::string> SGD::state_names() const {
  if (momentum_ == 0) return {};
  return {"momentum_buffer"};
}

// param, buf: (n); grad: (n). buf == nullptr: no momentum. first: buf not yet initialised.
template <class T>
static void sgd_update(T* param, T* buf, const T* grad, int64_t n, T lr, T momentum, T weight_decay,
                       bool nesterov, bool first) {
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) {
    T g = grad[i] + weight_decay * param[i];
    if (buf) {
      T b = first ? g : momentum * buf[i] + g;
      buf[i] = b;
      g = nesterov ? g + momentum * b : b;
    }
    param[i] -= lr * g;
  }
}

void SGD::step() {
  NoGradGuard no_grad;
  ++step_count_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor g = gradient(i);
    if (!g.defined()) continue;
    const Tensor& p = params_[i];
    bool first = false;
    Tensor buf;
    if (momentum_ != 0) {
      Tensor& slot = state(i, 0);
      first = !slot.defined();
      if (first) slot = empty(p.shape(), p.dtype());
      buf = slot;
    }
    PMX_DISPATCH_FLOATING(p.dtype(), "SGD", [&] {
      sgd_update<scalar_t>(p.data<scalar_t>(), buf.defined() ? buf.data<scalar_t>() : nullptr, g.data<scalar_t>(),
                           p.numel(), scalar_t(lr_), scalar_t(momentum_), scalar_t(weight_decay_), nesterov_, first);
    });
  }
}

}  // namespace pmx::optim
