// Fused, row-blocked dot-product attention for one (batch, head) slice, forward and backward.
//
//   S = scale * Q K^T  (N, N),  P = softmax_rows(S),  O = P V
//   stats_i = (m_i, r_i) = (max_j S_ij, 1 / sum_j exp(S_ij - m_i)),  so P_ij = exp(S_ij - m_i) r_i
// Backward, with D_i = <dO_i, O_i> and P rebuilt from the stats:
//   dV = P^T dO,  dS = P * (dO V^T - D),  dQ = scale dS K,  dK = scale dS^T Q
// The backward recomputes S with the forward's GEMM call and P with its exp and multiply, so it
// gets the forward's P to the bit. (It used to keep lse_i = m_i + log sum_j exp(S_ij - m_i), as
// FlashAttention does; in float that sum rounds to half an ulp of lse, and exp(S - lse) then
// misses P by as much relative: with scores near 1e4, dV came out 1.2e-4 off a double reference,
// now 5e-7. dQ is ~2 % off there either way: the float scores' own rounding, which no
// bookkeeping of the softmax removes.)
//
// Rows are processed in blocks of `block` rows: only a (block, N) slab of scores (and of dP in
// backward) ever exists, never the (N, N) matrix, so memory is O(block * N) instead of O(N^2).
// The products are GEMMs (kernels/blas.h); the row-wise softmax between them runs on the
// calling thread. Threads work on whole slices: the op (autograd/ops_attention.cpp) runs the
// (batch, head) slices side by side in one parallel region, each slice on one thread with
// single-threaded GEMMs, so results are bit-identical at any thread count. (Earlier, parallel
// softmax rows made ~12 short parallel regions per slice, 7x slower on a loaded machine; then
// slices ran one after another with OpenBLAS threading each small GEMM, which was slower on 2
// threads than on 1.) dK and dV accumulate over row blocks in a fixed order (beta = 1 GEMMs).
// The softmax rows use a vectorised exp in float (kernels/exp_avx2.h, 8 lanes; 16 lanes with
// the same bits on AVX-512, attention_avx512.cpp): with a head size of 8 the N^2 scalar exps
// cost more than both GEMMs (the Transformer step at N = 1024 went 2.4-2.9x faster with it).
//
// Float heads of up to 16 channels, and of 32 to 128, have kernels that skip the GEMMs and the
// score slabs, taken where they beat the GEMM path (AttentionKernel below): the small-head kernel
// (kernels/attention_small_head.h) keeps the scores in registers (a Transformer step at N = 1024
// with heads of 8: ~2x faster); the tiled kernel (kernels/attention_tiled.h) works in register
// tiles.
//
// Q, K, V, dQ, dK, dV rows are `ld` elements apart (so they can be the Q/K/V columns of one head
// inside a packed (N, 3d) projection, used in place); O and dO rows are `ld_out` apart.
// Shapes: q, k, v, d_q, d_k, d_v: (N, dh) with row stride ld; out, d_out: (N, dh) with row stride
// ld_out; stats: (N, 2); scratch: attention_scratch_size(N, dh, block) in forward and backward.
// d_k and d_v are ACCUMULATED into (zero them first); d_q is overwritten.
// No validation, allocation or exceptions. The *_naive twins (the formulas as plain loops with
// double accumulation and a small row buffer of their own) are used only by tests.
//
//   // one head of a (N, 3d) packed projection qkv, head h, dh = d / H:
//   attention_forward(ctx + h * dh, d, stats, qkv + h * dh, qkv + d + h * dh, qkv + 2 * d + h * dh,
//                     3 * d, N, dh, 1 / sqrt(dh), scratch, 64);
#pragma once
#include <algorithm>
#include <cstdint>

namespace pmx::kernels {

// out: (N, dh) stride ld_out.  stats: (N, 2).  q, k, v: (N, dh) stride ld.  scratch: see above.
template <class T>
void attention_forward(T* out, int64_t ld_out, T* stats, const T* q, const T* k, const T* v, int64_t ld,
                       int64_t N, int64_t dh, T scale, T* scratch, int64_t block);

// d_q (overwritten), d_k, d_v (accumulated): (N, dh) stride ld.  d_out, out: (N, dh) stride ld_out.
// stats: (N, 2) from the forward.  q, k, v: (N, dh) stride ld.  scratch: see above.
template <class T>
void attention_backward(T* d_q, T* d_k, T* d_v, const T* d_out, const T* out, int64_t ld_out, const T* stats,
                        const T* q, const T* k, const T* v, int64_t ld, int64_t N, int64_t dh, T scale,
                        T* scratch, int64_t block);

// The GEMM path's rows per block, as the op uses it: enough for efficient GEMMs, few enough that
// the two (block, N) slabs stay around a few MiB even at N = 16K.
inline int64_t attention_block_rows(int64_t N) {
  return std::min<int64_t>(N, std::clamp<int64_t>((int64_t(1) << 18) / N, 16, 256));
}

// Elements of scratch one slice needs, for whichever path runs: the GEMM path's two (block, N) slabs
// and a row, or the small-head or tiled kernel's transposed K and V, scaled Q and rows.
int64_t attention_scratch_size(int64_t N, int64_t dh, int64_t block);

// Where a kernel other than the GEMM path runs, for the small-head and the tiled kernel alike:
//   kAuto: where it beat the GEMM path on the Xeon (docs/ATTENTION.md), which depends on how wide
//          OpenBLAS's kernels are (blas_fma_bits(): 0 for its Prescott fallback for CPUs it does
//          not know, 256 for its AVX2 kernels, 512 for its AVX-512 ones);
//   kEverywhere: every head size it is built for (tests);  kOff: never (tests, benchmarks).
// Not thread-safe: set it before the kernels run. The *_active(dh) functions say what runs.
enum class AttentionKernel { kOff, kAuto, kEverywhere };

// The small-head kernel is built for float heads of up to kSmallHead channels, with AVX-512 and
// with AVX2 (attention_avx512_active() picks the build). Its bits differ from the GEMM path's and
// between the two builds. kAuto takes its AVX-512 build at every size unless OpenBLAS's kernels
// are AVX-512 too, and then up to kSmallHeadFma channels (1.2-2.5x; 0.8-1.02x at 16). It takes
// the AVX2 build at every size against kernels without FMA, else up to kSmallHeadFmaAvx2 (1.4-1.7x;
// 0.9-1.0x at 8, where its accumulators spill from the 16 registers).
constexpr int64_t kSmallHead = 16, kSmallHeadFma = 14, kSmallHeadFmaAvx2 = 7;
void set_attention_small_head(AttentionKernel where);
bool attention_small_head_active(int64_t dh);

// The tiled kernel (kernels/attention_tiled.h: register tiles fed from transposed copies of K and
// V instead of GEMM calls and score slabs) is built for float heads of kTiledHeadMin to
// kTiledHeadMax channels in steps of 16 with AVX-512, and up to kTiledHeadMaxAvx2 with AVX2. Its
// bits differ from the GEMM path's and between its two builds. kAuto takes it at every size it is
// built for against kernels without FMA (1.35-4x). Its AVX-512 build it takes at dh = 32 against
// any kernels (1.2-1.35x OpenBLAS's AVX-512 ones), and up to kTiledHeadAgainstAvx2 against AVX2
// ones (1.4-1.9x; 0.99x at 128). Against AVX-512 kernels it tied or lost at 48-128 (0.6-1.06x),
// and its AVX2 build tied or lost against OpenBLAS's AVX2 kernels.
constexpr int64_t kTiledHeadMin = 32, kTiledHeadMax = 128, kTiledHeadMaxAvx2 = 64, kTiledHeadAgainstAvx2 = 64;
void set_attention_tiled(AttentionKernel where);
bool attention_tiled_active(int64_t dh);

// The float softmax's exp pass (GEMM path) runs 16-lane AVX-512 code when the CPU has AVX-512F,
// else 8-lane AVX2; both give the same bits. The same switch picks the small-head kernel's build.
// Tests switch AVX-512 off to compare (not thread-safe: set it before the kernels run);
// attention_avx512_active() says which one runs.
void set_attention_avx512(bool allowed);
bool attention_avx512_active();

template <class T>
void attention_forward_naive(T* out, int64_t ld_out, T* stats, const T* q, const T* k, const T* v, int64_t ld,
                             int64_t N, int64_t dh, T scale);
template <class T>
void attention_backward_naive(T* d_q, T* d_k, T* d_v, const T* d_out, const T* out, int64_t ld_out,
                              const T* stats, const T* q, const T* k, const T* v, int64_t ld, int64_t N,
                              int64_t dh, T scale);

}  // namespace pmx::kernels
