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
//   Tensor hid = gelu(linear(x2d, w1_all, b1_all));        // (R, G*h)
//   Tensor w = grouped_linear(hid, {w2_0, w2_1}, {b2_0, b2_1});   // (2, R, K)
//   Tensor w0 = reshape(select_block(w, 0), {B, N, K});    // e.g. slice(w, 0, 0, 1)
#pragma once
#include <vector>

#include "core/tensor.h"

namespace pmx {

// hidden (R, G*h); weights: G tensors (K, h); biases: G tensors (K), or empty for no bias.
// All of one floating dtype. Returns (G, R, K).
Tensor grouped_linear(const Tensor& hidden, const std::vector<Tensor>& weights,
                      const std::vector<Tensor>& biases);

}  // namespace pmx
