// factor_mlps: Paramixer's M factor MLPs f_m (Linear(d, h) -> GELU -> Linear(h, K)), all applied
// to the same rows X, as ONE op that never materialises the (R, M h) hidden layer.
//
//   out[m] (R, K) = GELU(X W1_m^T + b1_m) W2_m^T + b2_m        for m = 0..M-1
//   x (R, d); w1[m] (h, d); b1[m] (h); w2[m] (K, h); b2[m] (K) (PyTorch Linear layouts); out (M, R, K)
//
// Forward and backward run in row chunks that stay in L1/L2 (kernels/fmlp.h); backward
// recomputes each chunk's hidden layer from X, so the graph keeps only X, the weights and
// nothing of size (R, M h). Gradients reach x and every weight and bias that requires one; the
// results are bit-identical at any thread count.
//
// factor_mlps_groups returns the M results as M tensors (R, K) (views of one buffer) with one
// small node each that hands its gradient, uncopied, to the shared node (slicing would hand the
// engine M full-size, mostly-zero gradients); the kernel reads the M gradients where they lie.
//
//   Tensor x2 = reshape(x, {B * N, d});                             // (R, d)
//   std::vector<Tensor> w = factor_mlps_groups(x2, w1, b1, w2, b2);  // M x (R, K)
//   Tensor all = factor_mlps(x2, w1, b1, w2, b2);                    // (M, R, K)
#pragma once
#include <vector>

#include "core/tensor.h"

namespace pmx {

// All tensors of one floating dtype; M = w1.size() >= 1 and b1, w2, b2 hold M tensors each.
// Throws pmx::Error naming the op and the shapes otherwise.
Tensor factor_mlps(const Tensor& x, const std::vector<Tensor>& w1, const std::vector<Tensor>& b1,
                   const std::vector<Tensor>& w2, const std::vector<Tensor>& b2);
// The same numbers as M tensors (R, K): element m is factor_mlps(...)[m].
std::vector<Tensor> factor_mlps_groups(const Tensor& x, const std::vector<Tensor>& w1,
                                       const std::vector<Tensor>& b1, const std::vector<Tensor>& w2,
                                       const std::vector<Tensor>& b2);

}  // namespace pmx
