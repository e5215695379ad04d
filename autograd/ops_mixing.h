// The Paramixer mixing step as an autograd op: out = (I + W) V for one sparse factor.
//
//   out[b,i,:] = V[b,i,:] + sum_k W[b,i,k] * V[b,(i+o_k) mod N,:]
//
// V (B, N, d), W (B, N, K), offsets (K) from kernels/mixing.h (chord_offsets, cdil_offsets).
// Backward calls the fused kernel that produces dV and dW in one pass (see docs/MIXER.md).
//
//   auto o = kernels::chord_offsets(N, M);
//   Tensor v1 = mix(v0, w_m, o);        // one factor with its residual
#pragma once
#include <vector>

#include "core/tensor.h"

namespace pmx {

Tensor mix(const Tensor& v, const Tensor& w, const std::vector<long>& offsets);

}  // namespace pmx
