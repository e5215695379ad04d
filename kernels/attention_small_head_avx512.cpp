// Dot-product attention for small heads (dh <= 16), float, AVX-512F: 16 keys per vector.
// Chosen by kernels/attention.cpp in place of its GEMM path; same contract (attention.h). The
// kernel's body is kernels/attention_small_head.h, shared with the AVX2 build of the same
// algorithm (attention_small_head_avx2.cpp, 8 keys per vector); this file gives it its vector.
//
// Why: with heads of 8 (the Transformer baseline, d = 32 and 4 heads) a score costs 16 FMAs
// of GEMM work, but the GEMM path writes, zeroes, packs and rereads a (block, N) slab of
// scores around them, and OpenBLAS took ~80 % of the step at N = 1024 (perf, Xeon). Here
// the scores stay in registers, except one row of N of them in the forward (L1).
//
// Layout: K and V are first copied transposed, dh rows of Np = N rounded up to 16 (zeros
// after N), so channel c of 16 consecutive keys is one vector. Q is premultiplied by the
// scale: qs_i = scale q_i, so s_ij = qs_i . k_j (summed over c in order, one FMA per c).
//
// Forward, per query row i:
//   s_j = qs_i . k_j for all keys (kept in a row buffer), m_i = max_j s_j;
//   e_j = exp(s_j - m_i), acc_c += e_j v_jc, sum += e_j;  O_ic = (acc_c summed over lanes) r_i,
//   with r_i = 1 / sum and stats_i = (m_i, r_i), as the GEMM path stores them.
// Backward, with P_ij = exp(s_ij - m_i) r_i rebuilt by the forward's own operations (the same
// bits), dP_ij = dO_i . v_j, D_i = dO_i . O_i and dS_ij = P_ij (dP_ij - D_i), over blocks of
// query rows (up to 64, ~512 KiB of dS):
//   keys outer (16 at a time, their dV and dK in registers), the block's rows inner:
//     dV_j += sum_i P_ij dO_i,   dK_j += sum_i dS_ij qs_i   (= scale dS^T Q),
//   keeping the block's dS; then per row, keys inner:  dQ_i = scale sum_j dS_ij k_j.
// dV and dK collect in transposed arrays and go to their rows once at the end.
// Keeping dS instead of rebuilding it for dQ (a second exp and two more dot products per score)
// made the backward 20-28 % faster (31.5-31.9 -> 22.5-25.2 ns per 16 scores at N = 1024-4096,
// dh = 8; 35.7 -> 30.8 at N = 16384, where a block has 8 rows; throw-away harness).
// The key sweep keeps 2 dh accumulators; above dh = 8 they outgrow the 32 registers and some live
// in L1, which still beat a sweep each for dV and dK (backward 60.7-61.9 against 67.7-69.2 ns per
// 16 scores at N = 1024, dh = 16, before dS was kept).
//
// The loops over channels and rows carry `#pragma GCC unroll`: without it GCC left some of them
// as loops with their accumulators on the stack (the forward went from 15.4-15.7 to 13.4-13.6 ns
// per 16 scores at N = 1024, dh = 8 with it and two rows per step, throw-away harness).
//
// Compiled with the library's baseline flags (AVX2); the pragma below switches code generation
// to AVX-512F for everything after it (as in attention_avx512.cpp).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/attention_small_head_layout.h"  // before the pragma: plain integer code
#include "kernels/gelu_coeffs.h"  // constants only

#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/exp_avx512.h"  // inline, so only here: after the pragma

#include "kernels/attention_vec512.h"
#include "kernels/attention_small_head.h"

namespace pmx::kernels::detail {

void attention_forward_small_head_avx512(float* out, int64_t ld_out, float* stats, const float* q,
                                         const float* k, const float* v, int64_t ld, int64_t N, int64_t dh,
                                         float scale, float* scratch) {
  Dispatch<Vec512, kSmallHead>::forward(dh, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
}

void attention_backward_small_head_avx512(float* d_q, float* d_k, float* d_v, const float* d_out,
                                          const float* out, int64_t ld_out, const float* stats, const float* q,
                                          const float* k, const float* v, int64_t ld, int64_t N, int64_t dh,
                                          float scale, float* scratch) {
  Dispatch<Vec512, kSmallHead>::backward(dh, d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale,
                                            scratch);
}

}  // namespace pmx::kernels::detail

#pragma GCC diagnostic pop
#pragma GCC pop_options
