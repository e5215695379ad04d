// Losses, fused with their gradients.
//
//   cross_entropy(logits (M, C) or (..., C), targets int64 (M) or (...)): mean over targets that
//     are not ignore_index of -log softmax(logits)[target]; one pass computes the loss and
//     saves softmax for the gradient (softmax - one_hot) / count. Targets out of [0, C) throw.
//   mse_loss(pred, target): mean of (pred - target)^2 over all elements; shapes must match.
//
//   Tensor loss = cross_entropy(model(x), labels);
//   Tensor l2 = mse_loss(y_hat, y);
#pragma once
#include "core/tensor.h"

namespace pmx {

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100);
Tensor mse_loss(const Tensor& pred, const Tensor& target);

}  // namespace pmx
