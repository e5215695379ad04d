// grouped_linear: G independent Linear maps, each reading its own column block of one matrix.
//
//   H (R, G*h) holds G blocks side by side: block m is H[:, m*h : (m+1)*h].
//   out[m] (R, K) = H[:, block m] W_m^T + b_m,   W_m (K, h) as in PyTorch, b_m (K)
//   out: (G, R, K), contiguous, so out[m] is a dense (R, K) slab (a free view).
//
// Why it exists: Paramixer's M factor MLPs f_m all read the same X. Their first layers run as one
// GEMM (d -> M*h) and one GELU, which leaves the M hidden layers side by side in H. Slicing H into
// column blocks would copy it; GEMM takes a leading dimension, so each block is read in place
// with ld = G*h. Backward mirrors it: dH's column block m is written in place (ldc = G*h),
// dW_m = dOut_m^T H_m, db_m = column sum of dOut_m. Every input's gradient is skipped when that
// input needs none.
//
// grouped_linear_groups returns the same numbers as G separate (R, K) tensors (views of one
// buffer). Use it instead of slicing the (G, R, K) result: slice's backward would hand the engine
// G full-size, mostly-zero gradients; here each group writes only its own block of one shared
// gradient buffer.
//
//   Tensor hid = gelu(linear(x2d, w1_all, b1_all));               // (R, G*h)
//   Tensor w = grouped_linear(hid, {w2_0, w2_1}, {b2_0, b2_1});    // (2, R, K)
//   std::vector<Tensor> ws = grouped_linear_groups(hid, {w2_0, w2_1}, {b2_0, b2_1});  // 2 x (R, K)
#pragma once
#include <vector>

#include "core/tensor.h"

namespace pmx {

// hidden (R, G*h); weights: G tensors (K, h); biases: G tensors (K), or empty for no bias.
// All of one floating dtype. Returns (G, R, K).
Tensor grouped_linear(const Tensor& hidden, const std::vector<Tensor>& weights,
                      const std::vector<Tensor>& biases);
// The same, as G tensors (R, K): element m is out[m].
std::vector<Tensor> grouped_linear_groups(const Tensor& hidden, const std::vector<Tensor>& weights,
                                          const std::vector<Tensor>& biases);

}  // namespace pmx
