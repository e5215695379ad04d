// clip_grad_norm_: rescales gradients so their global L2 norm is at most max_norm
// (torch.nn.utils.clip_grad_norm_).
//
//   total = sqrt(sum over parameters with a gradient of sum g^2)
//   if total > max_norm: every g *= max_norm / (total + 1e-6)      (in place)
// Returns total (before clipping). Parameters without a gradient are skipped. A total that is
// not finite (a NaN or inf gradient) scales nothing and is returned as it is, for the caller to
// act on (the apps' trainer stops with an error); PyTorch would spread the NaN to every gradient. The sum is
// accumulated in double over fixed 4096-element chunks added in order, so the result is the same
// at any thread count.
//
//   loss.backward();
//   double norm = pmx::optim::clip_grad_norm_(model.parameters(), 1.0);
//   opt.step();
#pragma once
#include <vector>

#include "core/tensor.h"

namespace pmx::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm);

// The global L2 norm of the tensors' own values, summed as clip_grad_norm_ sums (same bits at any
// thread count). Not finite when an element is not: the apps' trainer checks the parameters
// with it after every update.
double global_norm(const std::vector<Tensor>& tensors);

}  // namespace pmx::optim
