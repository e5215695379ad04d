// Sparse-factor mixing: one Paramixer factor applied to a batch of sequences, and its backward.
//
// A factor is an N x N matrix with K non-zeros per row on a circulant pattern (the protocol):
// row i, slot k points to column (i + o_k) mod N (modulo non-negative). The mixing step adds the
// factor to the identity (the residual the official code puts around every factor):
//
//   out[b,i,:] = V[b,i,:] + sum_k W[b,i,k] * V[b,(i+o_k) mod N,:]            i.e. out = (I + W) V
//
// and its gradients, given dOut:
//
//   dW[b,i,k] = <dOut[b,i,:], V[b,(i+o_k) mod N,:]>
//   dV[b,j,:] = dOut[b,j,:] + sum_k W[b,(j-o_k) mod N,k] * dOut[b,(j-o_k) mod N,:]   ((I + W)^T dOut)
//
// Because the pattern is circulant, the transpose is again a shifted gather, so every output row
// (of out, dV and dW) is written by exactly one thread: no atomics, and the bits do not depend on
// the thread count. Colliding slots (same column twice in a row) need no special case; their
// weights simply add. Offsets may be negative or larger than N; the kernels reduce them mod N.
//
// Protocols: CHORD, K = M + 1, offsets [0, 1, 2, 4, ..., 2^(M-1)] for every factor of a block;
// CDIL, K = 9, factor m (0-based) has s = 2^m and offsets [0, s, 2s, 3s, 4s, -s, -2s, -3s, -4s].
// M = ceil(log2 N) by default (floor as an option). See docs/MIXER.md for a worked example.
//
// Shapes (row-major, contiguous): v, out, d_out, d_v: (B, N, d); w, d_w: (B, N, K).
//
//   long M = pmx::kernels::num_factors(N);                          // ceil(log2 N)
//   std::vector<long> o = pmx::kernels::chord_offsets(N, M);        // K = M + 1
//   pmx::kernels::mix_forward(out, v, w, o.data(), (long)o.size(), B, N, d);
//   pmx::kernels::mix_backward(d_v, d_w, d_out, v, w, o.data(), (long)o.size(), B, N, d);
//   // d_v, d_w are OVERWRITTEN (not accumulated); pass nullptr to skip one of them.
//
// The raw kernels do not validate or throw, and allocate nothing but the one-gather backward's
// scratch (4 MiB, or K (N + 16) floats if more, from the caching allocator: after the first
// call a free-list pop; if it fails, the two-pass backward runs instead); the offset helpers
// validate and throw pmx::Error. The fast kernels use AVX-512 (chosen at run time) or AVX2+FMA
// for float, a portable loop for double; the *_naive twins are the obvious loops, kept as the
// reference for tests.
#pragma once
#include <vector>

namespace pmx {
namespace kernels {

enum class Protocol { Chord, Cdil };

// The longest sequence num_factors accepts: 2^62 (62 factors, the most chord_offsets allows).
constexpr long kMaxFactorsLen = 1L << 62;

// Number of factors per block for sequence length n: ceil(log2 n), or floor(log2 n) if
// use_floor. Throws pmx::Error naming n unless 2 <= n <= kMaxFactorsLen.
long num_factors(long n, bool use_floor = false);

// CHORD offsets [0, 1, 2, 4, ..., 2^(m_factors-1)] (K = m_factors + 1). Throws unless n >= 2,
// 1 <= m_factors <= 62. Offsets >= n are kept as is (the kernels reduce them mod n).
std::vector<long> chord_offsets(long n, long m_factors);

// CDIL offsets of factor `factor_index` (0-based): s = 2^factor_index,
// [0, s, 2s, 3s, 4s, -s, -2s, -3s, -4s] (K = 9). Throws unless 0 <= factor_index <= 59.
std::vector<long> cdil_offsets(long factor_index);

// Offsets of factor `factor_index` of a block with `m_factors` factors for sequence length n.
// Throws unless n >= 2 and 0 <= factor_index < m_factors.
std::vector<long> protocol_offsets(Protocol protocol, long n, long factor_index, long m_factors);

// out = (I + W) V for one factor.
// out: (B, N, d), must not alias v.  v: (B, N, d).  w: (B, N, K).  offsets: (K).
template <class T>
void mix_forward(T* out, const T* v, const T* w, const long* offsets, long K, long B, long N,
                 long d);

// Gradients of mix_forward. OVERWRITES d_v and d_w (the autograd layer hands in fresh buffers);
// either may be nullptr to skip it.
// d_v: (B, N, d), must not alias d_out.  d_w: (B, N, K).  d_out, v: (B, N, d).  w: (B, N, K).
template <class T>
void mix_backward(T* d_v, T* d_w, const T* d_out, const T* v, const T* w, const long* offsets,
                  long K, long B, long N, long d);

// Reference twins: the formulas above as plain single-threaded loops (same contracts).
template <class T>
void mix_forward_naive(T* out, const T* v, const T* w, const long* offsets, long K, long B,
                       long N, long d);
template <class T>
void mix_backward_naive(T* d_v, T* d_w, const T* d_out, const T* v, const T* w,
                        const long* offsets, long K, long B, long N, long d);

// Which code path the float kernels take. Auto picks AVX-512 when the CPU has it, else AVX2.
// Forcing a path is for tests and benchmarks (forcing Avx512 on a CPU without it falls back to
// Auto). Not thread-safe: set it before calling the kernels.
enum class MixIsa { Auto, Portable, Avx2, Avx512 };
void set_mix_isa(MixIsa isa);
// The path the float kernels take now (Auto resolved to the concrete one).
MixIsa mix_isa();

// The order in which the kernels visit rows. Auto walks down the chains r, r + g, r + 2g, ...
// when every offset is a multiple of a large stride g (CDIL's larger dilations), so each source
// row is read from memory once; Rows always goes down the sequence in row order. Both give the
// same bits; forcing Rows is for tests and benchmarks. Not thread-safe, like set_mix_isa.
enum class MixOrder { Auto, Rows };
void set_mix_order(MixOrder order);
// How the float backward gets both gradients. TwoPass: the dots (a gather of V rows), then the
// dV gather (of dOut rows). OneGather: one gather of the dOut rows feeds both (row order,
// K <= 16, N >= 16, d = 16, 32 or 64; AVX-512 or AVX2; elsewhere TwoPass;
// see kernels/mixing_avx2.cpp and kernels/mixing_avx512.cpp).
// Auto: OneGather where some slot reaches 64 KiB or more away (CHORD from N = 1024 at d = 32),
// where it was measured faster. All give the same bits; forcing one is for tests and benchmarks.
// Not thread-safe, like set_mix_isa.
enum class MixBackward { Auto, TwoPass, OneGather };
void set_mix_backward(MixBackward how);
// Whether the float backward takes the one-gather path for these arguments now.
bool mix_backward_one_gather(const long* offsets, long K, long N, long d);
// The chain stride g the kernels walk for these offsets at this N and d, or 0 for row order.
long mix_chain_stride(const long* offsets, long K, long N, long d);

}  // namespace kernels
}  // namespace pmx
