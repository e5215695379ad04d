// Dot-product attention for heads of 32 to 128 channels (multiples of 16), float, AVX-512F:
// register tiles instead of GEMM calls. Chosen by kernels/attention.cpp in place of its GEMM
// path where AttentionKernel::kAuto says (attention.h); same contract. The kernel's body is
// kernels/attention_tiled.h, shared with the AVX2 build of the same algorithm
// (attention_tiled_avx2.cpp: 8 lanes, tiles of 6 rows); this file gives it its vector.
//
// Why: with heads of 32 (ListOps' Transformer: d = 128, 4 heads) the GEMM path's products have an
// inner size of only dh, and around them a (block, N) slab of scores is zeroed, written, packed
// and read back, and the softmax runs as separate passes. On one core of the Xeon it ran at
// 72-88 GFLOP/s with OpenBLAS's AVX-512 kernels and ~40 with the SSE3 ones OpenBLAS falls back to
// there (docs/ATTENTION.md). Here every product is a small register tile fed straight from L1/L2,
// in one of two shapes:
//   - keys along the lanes: S = Q K^T and dP = dO V^T, 8 query rows x 32 keys (16 registers),
//     one FMA per (row, channel, 16 keys), from K^T and V^T copied transposed once per slice;
//   - channels along the lanes: O = P V, dV = P^T dO, dK = dS^T Q and dQ = dS K, 8 rows (or 4
//     keys, for dV and dK together) x 32 channels, one FMA per (row, key, 16 channels), the
//     probabilities broadcast; wider heads in blocks of 32 channels.
// Both shapes load fewer vectors than they issue FMAs, so they run at the FMA ports' pace.
//
// Forward, per block of 8 query rows: the scores of all keys go to a row buffer (8 x N floats);
// then per row its maximum m_i, e = exp(s - m) in place and their sum; then O_i = (sum_j e_ij
// v_j) r_i, r_i = 1 / sum_j e_ij. stats_i = (m_i, r_i), as the GEMM path stores them.
// Backward, per block of rows (~512 KiB of P and dS): P = exp(s - m) r from the same tile code
// as the forward's scores (so the forward's bits), dP by the same tile on dO and V^T, dS =
// P (dP - D_i) with D_i = dO_i . O_i; then dV and dK of a few keys at a time over the block's
// rows (added to d_v and d_k once per block), then dQ of a few rows at a time over all keys.
//
// Compiled with the library's baseline flags (AVX2); the pragma below switches code generation
// to AVX-512F for everything after it (as in attention_avx512.cpp).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/attention_tiled_layout.h"  // before the pragma: plain integer code
#include "kernels/gelu_coeffs.h"            // constants only

#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC diagnostic push  // GCC 12 flags the intrinsics' own undefined registers
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/exp_avx512.h"  // inline, so only here: after the pragma

#include "kernels/attention_vec512.h"
#include "kernels/attention_tiled.h"

namespace pmx::kernels::detail {

void attention_forward_tiled_avx512(float* out, int64_t ld_out, float* stats, const float* q, const float* k,
                                    const float* v, int64_t ld, int64_t N, int64_t dh, float scale, float* scratch) {
  tiled_forward<Vec512, kTiledHeadMax>(dh, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
}

void attention_backward_tiled_avx512(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out,
                                     int64_t ld_out, const float* stats, const float* q, const float* k,
                                     const float* v, int64_t ld, int64_t N, int64_t dh, float scale,
                                     float* scratch) {
  tiled_backward<Vec512, kTiledHeadMax>(dh, d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale,
                                       scratch);
}

}  // namespace pmx::kernels::detail

#pragma GCC diagnostic pop
#pragma GCC pop_options
