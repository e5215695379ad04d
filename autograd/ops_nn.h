// Neural-network ops: fused kernels with hand-written gradients.
//
//   softmax / log_softmax over `dim` (numerically stable: max subtracted first).
//   embedding(weight (V, d), ids int64 (...)) -> (..., d); the row `padding_idx` (if >= 0)
//     receives no gradient. Out-of-range ids throw, naming the id and V.
//   dropout(x, p, training): inverted dropout, kept elements scaled by 1/(1-p); the mask comes
//     from the counter-based generator, so it does not depend on the thread count.
//   layer_norm(x, weight, bias, eps): normalises over the last dim (size = weight.numel()).
//
//   Tensor e = embedding(table, tokens, /*padding_idx=*/0);
//   Tensor h = dropout(e, 0.1, /*training=*/true);
//   Tensor y = layer_norm(h, gamma, beta, 1e-5);
#pragma once
#include "core/random.h"
#include "core/tensor.h"

namespace pmx {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
Tensor embedding(const Tensor& weight, const Tensor& ids, int64_t padding_idx = -1);
Tensor dropout(const Tensor& x, double p, bool training, Generator& g = default_generator());
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

}  // namespace pmx
