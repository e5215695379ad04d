// self_attention: fused multi-head scaled dot-product attention on a packed Q|K|V projection,
// with its gradient. Memory-light: no (N, N) matrix is stored, only each row's softmax max and
// 1/sum, (B, H, N, 2).
//
//   qkv (B, N, 3d) = [Q | K | V] (PyTorch's in_proj layout), heads H, dh = d / H:
//   out[b, :, h*dh:(h+1)*dh] = softmax(Q_bh K_bh^T / sqrt(dh)) V_bh                out (B, N, d)
// The heads are read in place from qkv (row stride 3d); the backward recomputes the probabilities
// block by block from those (kernels/attention.h), so forward + backward need
// O(block * N) scratch instead of the O(B H N^2) scores and probabilities a composed
// matmul -> softmax -> matmul keeps (4 GiB each at B = 16, H = 4, N = 4096 in float32).
// No dropout on the probabilities (use the composed path in layers/attention.cpp for that).
//
//   Tensor qkv = linear(x, in_proj_weight, in_proj_bias);   // (B, N, 3d)
//   Tensor ctx = self_attention(qkv, /*heads=*/4);           // (B, N, d)
#pragma once
#include "core/tensor.h"

namespace pmx {

Tensor self_attention(const Tensor& qkv, int64_t heads);

}  // namespace pmx
