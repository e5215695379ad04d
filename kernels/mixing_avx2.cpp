// AVX2 + FMA row kernels of the mixing step (float): the library's baseline ISA, chosen by
// kernels/mixing.cpp when the CPU has no AVX-512F (or when a test or benchmark forces it); see
// there for what "gather" and "dots" compute, and kernels/mixing_rows.h for the contracts.
// Every kernel here gives the same bits at any thread count and in any tile order, like the
// AVX-512 ones in kernels/mixing_avx512.cpp.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/mixing_rows.h"

namespace pmx {
namespace kernels {
namespace detail {

namespace {

// R rows x C vectors of 8 columns starting at column c0, all accumulators in registers. Every
// element's sum runs base + w_0 s_0 + w_1 s_1 + ... in slot order, whatever R and C are.
// Contiguous: no slot's source rows wrap around N inside the block (checked by the caller).
// stream: non-temporal stores, as the AVX-512 gather. (Its software prefetches were tried here
// too, measured with the AVX2 path forced on the Intel Xeon: -1 to -10 % at N = 32768, B = 16,
// one thread, but +3 to +9 % at N <= 4096 and up to +40 % on two threads at N = 16384; left
// out, so the AVX2 kernels rely on the hardware prefetchers.)
template <int R, int C, bool Contiguous>
inline void gather_block_avx2(float* dst, const float* base, const float* src, const float* w,
                              const long* sh, long K, long N, long d, long i0, long c0,
                              bool w_at_src, bool stream) {
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_loadu_ps(base + (i0 + r) * d + c0 + 8 * c);
  for (long k = 0; k < K; ++k) {
    long j0 = i0 + sh[k];
    if (j0 >= N) j0 -= N;
    const float* wp = w_at_src ? w + j0 * K + k : w + i0 * K + k;
    for (int r = 0; r < R; ++r) {
      long j = j0 + r;
      if (!Contiguous && j >= N) j -= N;
      const __m256 wv = _mm256_set1_ps(Contiguous ? wp[r * K] : w[(w_at_src ? j : i0 + r) * K + k]);
      const float* s = src + j * d + c0;
      for (int c = 0; c < C; ++c)
        acc[r][c] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(s + 8 * c), acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float* p = dst + (i0 + r) * d + c0 + 8 * c;
      if (stream)  // rows of whole aligned lines, and dst too big to stay in cache anyway
        _mm256_stream_ps(p, acc[r][c]);
      else
        _mm256_storeu_ps(p, acc[r][c]);
    }
}

// Columns [c0, d) that do not fill a vector: scalar FMA, same slot order.
inline void gather_tail_scalar(float* dst, const float* base, const float* src, const float* w,
                               const long* sh, long K, long N, long d, long i, long c0,
                               bool w_at_src) {
  for (long c = c0; c < d; ++c) {
    float acc = base[i * d + c];
    for (long k = 0; k < K; ++k) {
      long j = i + sh[k];
      if (j >= N) j -= N;
      acc = std::fma(w[(w_at_src ? j : i) * K + k], src[j * d + c], acc);
    }
    dst[i * d + c] = acc;
  }
}

template <int R, bool Contiguous>
void gather_rowblock_avx2(float* dst, const float* base, const float* src, const float* w,
                          const long* sh, long K, long N, long d, long i0, bool w_at_src,
                          bool stream) {
  const long nv = d / 8;
  long v = 0;
  for (; v + 4 <= nv; v += 4)
    gather_block_avx2<R, 4, Contiguous>(dst, base, src, w, sh, K, N, d, i0, 8 * v, w_at_src,
                                        stream);
  const long c0 = 8 * v;
  auto last = [&](auto vectors) {
    gather_block_avx2<R, decltype(vectors)::value, Contiguous>(dst, base, src, w, sh, K, N, d, i0,
                                                              c0, w_at_src, stream);
  };
  switch (nv - v) {
    case 3: last(std::integral_constant<int, 3>()); break;
    case 2: last(std::integral_constant<int, 2>()); break;
    case 1: last(std::integral_constant<int, 1>()); break;
    default: break;
  }
  if (d % 8)
    for (int r = 0; r < R; ++r)
      gather_tail_scalar(dst, base, src, w, sh, K, N, d, i0 + r, 8 * nv, w_at_src);
}

// Rows [i, i + R): the contiguous variant unless some slot's source rows wrap inside them.
template <int R>
void gather_rowblock_avx2(float* dst, const float* base, const float* src, const float* w,
                          const long* sh, long K, long N, long d, long i, bool w_at_src,
                          bool stream) {
  bool contiguous = true;
  for (long k = 0; k < K; ++k) {
    long j0 = i + sh[k];
    if (j0 >= N) j0 -= N;
    contiguous &= j0 + R <= N;
  }
  if (contiguous)
    gather_rowblock_avx2<R, true>(dst, base, src, w, sh, K, N, d, i, w_at_src, stream);
  else
    gather_rowblock_avx2<R, false>(dst, base, src, w, sh, K, N, d, i, w_at_src, stream);
}

}  // namespace

void gather_rows_avx2(float* dst, const float* base, const float* src, const float* w,
                      const long* sh, long K, long N, long d, long i0, long i1, bool w_at_src,
                      const RowHints& hints) {
  const bool stream = hints.stream;
  // Enough independent accumulators (8-12) to hide the FMA latency.
  const long nv = d / 8;
  auto blocks = [&](auto rows, long& i) {  // rows [i, i1) in blocks of R, while they fill one
    constexpr int R = decltype(rows)::value;
    for (; i + R <= i1; i += R)
      gather_rowblock_avx2<R>(dst, base, src, w, sh, K, N, d, i, w_at_src, stream);
  };
  long i = i0;
  if (nv <= 1)
    blocks(std::integral_constant<int, 8>(), i);
  else if (nv <= 3)
    blocks(std::integral_constant<int, 4>(), i);
  else
    blocks(std::integral_constant<int, 2>(), i);
  for (; i < i1; ++i)
    gather_rowblock_avx2<1, true>(dst, base, src, w, sh, K, N, d, i, w_at_src, stream);
}

namespace {

// Sum of each of 8 vectors, returned as one vector (lane t = sum of a[t]).
inline __m256 reduce8(const __m256* a) {
  __m256 h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);
  __m256 h45 = _mm256_hadd_ps(a[4], a[5]), h67 = _mm256_hadd_ps(a[6], a[7]);
  __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = _mm256_hadd_ps(h45, h67);
  return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
}

// dW for rows [i0, i1) and KN (1..8) slots starting at k0: KN independent accumulator chains
// over d per row, one reduce8, then the scalar column tail. Rows are walked in runs where no
// slot's source row wraps around N, so inside a run every source pointer moves by d per row.
template <int KN>
void dot_rows_avx2_t(float* dw, const float* g, const float* v, const long* sh, long K, long N,
                     long d, long i0, long i1, long k0) {
  const long d8 = d / 8 * 8;
  long j[KN];
  for (int t = 0; t < KN; ++t) {
    j[t] = i0 + sh[k0 + t];
    if (j[t] >= N) j[t] -= N;
  }
  for (long i = i0; i < i1;) {
    long run = i1 - i;
    for (int t = 0; t < KN; ++t) run = std::min(run, N - j[t]);
    for (long r = 0; r < run; ++r) {
      const float* gi = g + (i + r) * d;
      const float* s[KN];
      for (int t = 0; t < KN; ++t) s[t] = v + (j[t] + r) * d;
      __m256 acc[8];
      for (int t = 0; t < 8; ++t) acc[t] = _mm256_setzero_ps();
      for (long c = 0; c < d8; c += 8) {
        const __m256 gv = _mm256_loadu_ps(gi + c);
        for (int t = 0; t < KN; ++t)
          acc[t] = _mm256_fmadd_ps(gv, _mm256_loadu_ps(s[t] + c), acc[t]);
      }
      alignas(32) float out[8];
      _mm256_store_ps(out, reduce8(acc));
      for (int t = 0; t < KN; ++t) {
        float tail = 0.f;
        for (long c = d8; c < d; ++c) tail = std::fma(gi[c], s[t][c], tail);
        dw[(i + r) * K + k0 + t] = out[t] + tail;
      }
    }
    i += run;
    for (int t = 0; t < KN; ++t) {
      j[t] += run;
      if (j[t] >= N) j[t] -= N;
    }
  }
}

}  // namespace

void dot_rows_avx2(float* dw, const float* g, const float* v, const long* sh, long K, long N,
                   long d, long i0, long i1, const RowHints&) {
  using Fn = void (*)(float*, const float*, const float*, const long*, long, long, long, long,
                      long, long);
  static const Fn group[9] = {nullptr,            dot_rows_avx2_t<1>, dot_rows_avx2_t<2>,
                              dot_rows_avx2_t<3>, dot_rows_avx2_t<4>, dot_rows_avx2_t<5>,
                              dot_rows_avx2_t<6>, dot_rows_avx2_t<7>, dot_rows_avx2_t<8>};
  for (long k0 = 0; k0 < K; k0 += 8)
    group[std::min(8L, K - k0)](dw, g, v, sh, K, N, d, i0, i1, k0);
}

// ---- AVX2 one-gather backward (float, d = 16, 32 or 64, K <= 16) --------------------------
//
// The AVX2 twin of kernels/mixing_avx512.cpp's one-gather backward (see backward_one_gather):
// row j's dV gather reads dOut[s], s = j - o_k, and those rows also give the dots of
// dW[s, k] = <dOut[s], V[j]>. Bit for bit the two AVX2 passes above: dV by gather_block_avx2's
// slot-order FMAs; each dot by dot_rows_avx2_t's chain over the 8-column chunks from zero, the
// same reduce8 (its lane t depends only on vector t, so grouping the 8 slots of one row j
// instead of one row s changes no bit), and the same "+ tail", which is + 0.f at these d.
// One row at a time: V[j] and dV[j] take 2 C of the 16 ymm registers (8 at d = 32; at d = 64
// V[j] stays in L1). A first version that kept a group's 8 dots for one reduce8 call went
// through the stack and was 20-50 % slower than the two passes; folded pairwise (below) it is
// faster (see backward_one_gather).

namespace {

// 8 x 8 transpose: r[t] lane u -> r[u] lane t.
inline void transpose8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Row j: dV[j] and, in dots[g] lane t, dW[(j - o_k) mod N, k] for k = 8 g + t (zero past K).
// A group's 8 dots are folded by reduce8's hadd tree as soon as each pair is done (the same
// operations), so they never need 8 registers at once. KC > 0 fixes K (weights at immediate
// offsets, no test for missing slots).
template <long D, long KC>
inline void one_gather_row_avx2(float* dv, __m256* dots, const float* g, const float* v,
                                const float* w, const long* sh, long K_rt, long N, long j,
                                bool stream) {
  constexpr int C = int(D / 8);
  // V[j] in registers up to d = 32; at d = 64 dV's 8 accumulators leave no room for it, so
  // the dots take it from L1 (one more load per FMA).
  constexpr bool kVjInRegs = D <= 32;
  constexpr int CV = kVjInRegs ? C : 1;
  const long K = KC > 0 ? KC : K_rt;
  const float* vrow = v + j * D;
  __m256 vj[CV], acc[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    if (kVjInRegs) vj[c % CV] = _mm256_loadu_ps(vrow + 8 * c);
    acc[c] = _mm256_loadu_ps(g + j * D + 8 * c);
  }
  auto slot = [&](long k) {  // dV's FMAs of slot k, and the chain of its dot
    __m256 dot = _mm256_setzero_ps();
    if (k >= K) return dot;
    long s = j + sh[k];
    if (s >= N) s -= N;
    const float* src = g + s * D;
    const __m256 wk = _mm256_set1_ps(w[s * K + k]);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      const __m256 x = _mm256_loadu_ps(src + 8 * c);
      acc[c] = _mm256_fmadd_ps(wk, x, acc[c]);
      dot = _mm256_fmadd_ps(x, kVjInRegs ? vj[c % CV] : _mm256_loadu_ps(vrow + 8 * c), dot);
    }
    return dot;
  };
#pragma GCC unroll 2
  for (int grp = 0; grp < 2; ++grp) {
    const long k0 = 8 * grp;
    if (k0 >= K) {  // no slots in this group (a compile-time test when KC > 0)
      dots[grp] = _mm256_setzero_ps();
      continue;
    }
    __m256 h[4];
#pragma GCC unroll 4
    for (int pair = 0; pair < 4; ++pair) {
      const __m256 a = slot(k0 + 2 * pair);
      h[pair] = _mm256_hadd_ps(a, slot(k0 + 2 * pair + 1));
    }
    const __m256 q0 = _mm256_hadd_ps(h[0], h[1]), q1 = _mm256_hadd_ps(h[2], h[3]);
    const __m256 sum = _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20),
                                     _mm256_permute2f128_ps(q0, q1, 0x31));
    dots[grp] = _mm256_add_ps(sum, _mm256_setzero_ps());  // dot_rows_avx2_t's "+ tail"
  }
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) {
    if (stream)
      _mm256_stream_ps(dv + j * D + 8 * c, acc[c]);
    else
      _mm256_storeu_ps(dv + j * D + 8 * c, acc[c]);
  }
}

// Rows [i0, i1) (i0 a multiple of 8), 8 at a time, the 8 rows' dots transposed into dWt's K
// runs of N + 16 floats (the first 8 rows also written after row N - 1, so move_dots_rows_avx2
// reads any 8 consecutive rows from (i + o_k) mod N without a wrap).
template <long D, long KC>
void one_gather_rows_avx2_t(float* dv, float* dwt, const float* g, const float* v,
                            const float* w, const long* sh, long K, long N, long i0, long i1,
                            bool stream) {
  const long run = N + 16;
  for (long g0 = i0; g0 < i1; g0 += 8) {
    const long n = std::min(8L, i1 - g0);
    __m256 dots[2][8];  // [slot group][row]
    for (long r = 0; r < 8; ++r) {
      if (r < n) {
        __m256 two[2];
        one_gather_row_avx2<D, KC>(dv, two, g, v, w, sh, K, N, g0 + r, stream);
        dots[0][r] = two[0], dots[1][r] = two[1];
      } else {
        dots[0][r] = dots[1][r] = _mm256_setzero_ps();
      }
    }
    for (long grp = 0; grp * 8 < K; ++grp) {
      transpose8(dots[grp]);  // dots[grp][t]: slot 8 grp + t of rows g0 .. g0 + 7
      for (long t = 0; t < 8 && 8 * grp + t < K; ++t) {
        float* dst = dwt + (8 * grp + t) * run;
        if (n == 8) {
          _mm256_storeu_ps(dst + g0, dots[grp][t]);
          if (g0 == 0) _mm256_storeu_ps(dst + N, dots[grp][t]);
          continue;
        }
        alignas(32) float row[8];
        _mm256_store_ps(row, dots[grp][t]);
        std::copy(row, row + n, dst + g0);
        if (g0 == 0) std::copy(row, row + n, dst + N);
      }
    }
  }
}

}  // namespace

void one_gather_rows_avx2(float* d_v, float* d_wt, const float* d_out, const float* v,
                          const float* w, const long* sh_b, long K, long N, long d, long i0,
                          long i1, bool stream) {
  if (d == 16)
    return one_gather_rows_avx2_t<16, 0>(d_v, d_wt, d_out, v, w, sh_b, K, N, i0, i1, stream);
  if (d == 64)
    return one_gather_rows_avx2_t<64, 0>(d_v, d_wt, d_out, v, w, sh_b, K, N, i0, i1, stream);
  switch (K) {  // CHORD's K for N = 513 .. 32768 as compile-time constants, as in the gathers
#define PMX_CASE(KC) \
  case KC:           \
    return one_gather_rows_avx2_t<32, KC>(d_v, d_wt, d_out, v, w, sh_b, K, N, i0, i1, stream);
    PMX_CASE(10) PMX_CASE(11) PMX_CASE(12) PMX_CASE(13) PMX_CASE(14) PMX_CASE(15) PMX_CASE(16)
#undef PMX_CASE
    default:
      return one_gather_rows_avx2_t<32, 0>(d_v, d_wt, d_out, v, w, sh_b, K, N, i0, i1, stream);
  }
}

// dW[i, k] = dWt[k][(i + o_k) mod N]: per 8 rows and group of 8 slots, 8 loads and a transpose.
void move_dots_rows_avx2(float* d_w, const float* d_wt, const long* sh_f, long K, long N,
                         long i0, long i1, bool stream) {
  const long run = N + 16;
  for (long g0 = i0; g0 < i1; g0 += 8) {
    const long n = std::min(8L, i1 - g0);
    for (long k0 = 0; k0 < K; k0 += 8) {
      const long kn = std::min(8L, K - k0);
      __m256 t[8];
      for (long u = 0; u < 8; ++u) {
        if (u >= kn) {
          t[u] = _mm256_setzero_ps();
          continue;
        }
        long s = g0 + sh_f[k0 + u];
        if (s >= N) s -= N;
        t[u] = _mm256_loadu_ps(d_wt + (k0 + u) * run + s);
      }
      transpose8(t);  // t[r]: slots k0 .. k0 + 7 of row g0 + r
      for (long r = 0; r < n; ++r) {
        if (kn == 8 && stream && K == 16) {  // half of a full aligned line (the caller checked)
          _mm256_stream_ps(d_w + (g0 + r) * K + k0, t[r]);
        } else if (kn == 8) {
          _mm256_storeu_ps(d_w + (g0 + r) * K + k0, t[r]);
        } else {
          alignas(32) float row[8];
          _mm256_store_ps(row, t[r]);
          std::copy(row, row + kn, d_w + (g0 + r) * K + k0);
        }
      }
    }
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace pmx
