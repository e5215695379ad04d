// Matrix products on OpenBLAS (kernels/blas.h), with their gradients.
//
//   matmul: (M, K) x (K, N) -> (M, N); batched (..., M, K) x (..., K, N) with broadcast batch
//           dims; a 2-D right operand is shared by every batch (one GEMM over all rows).
//   linear: y = x W^T + b with x (..., in), W (out, in) as in PyTorch, b (out) or undefined.
//           Fused: the bias is written first and the GEMM accumulates onto it; backward is
//           two GEMMs and a column sum, with no transposed copies.
//
//   Tensor y = linear(x, weight, bias);        // x (B, N, 32), weight (64, 32) -> (B, N, 64)
//   Tensor p = matmul(q, transpose(k, -2, -1)); // (B, H, N, N)
#pragma once
#include "core/tensor.h"

namespace pmx {

Tensor matmul(const Tensor& a, const Tensor& b);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace pmx
