// AVX-512F row kernels of the mixing step (float). Chosen at run time by kernels/mixing.cpp
// when the CPU has AVX-512F; see there for what "gather" and "dots" compute.
//
// This file is compiled with the library's baseline flags (AVX2); the pragma below switches
// code generation to AVX-512F for everything after it. All standard headers are included
// before the pragma and nothing after it is inline library code, so no AVX-512 copy of a
// shared inline function can leak into the rest of the program.
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f")
// GCC 12 warns about the deliberately undefined pass-through operand inside its own AVX-512
// intrinsics (_mm512_undefined_ps); the warning is about the header, not this code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pmx {
namespace kernels {
namespace detail {
namespace {

// Mask of the first n (0..16) lanes.
inline __mmask16 lanes(long n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// R rows x C vectors of 16 columns starting at c0; the last vector is masked to `last` lanes
// when Masked. All R*C accumulators live in registers; the slot loop is outermost so each
// element's sum runs base + w_0 s_0 + w_1 s_1 + ... in slot order, whatever R and C are.
template <int R, int C, bool Masked>
inline void gather_block(float* dst, const float* base, const float* src, const float* w,
                         const long* sh, long K, long N, long d, long i0, long c0,
                         __mmask16 last, bool w_at_src) {
  auto load = [&](const float* p, int c) {
    return (Masked && c == C - 1) ? _mm512_maskz_loadu_ps(last, p + 16 * c)
                                  : _mm512_loadu_ps(p + 16 * c);
  };
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = load(base + (i0 + r) * d + c0, c);
  for (long k = 0; k < K; ++k) {
    for (int r = 0; r < R; ++r) {
      long j = i0 + r + sh[k];
      if (j >= N) j -= N;
      const __m512 wv = _mm512_set1_ps(w[(w_at_src ? j : i0 + r) * K + k]);
      const float* s = src + j * d + c0;
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv, load(s, c), acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float* p = dst + (i0 + r) * d + c0 + 16 * c;
      if (Masked && c == C - 1)
        _mm512_mask_storeu_ps(p, last, acc[r][c]);
      else
        _mm512_storeu_ps(p, acc[r][c]);
    }
}

// R rows, all d columns: chunks of 4 vectors (64 columns), then the remainder.
template <int R>
void gather_rowblock(float* dst, const float* base, const float* src, const float* w,
                     const long* sh, long K, long N, long d, long i0, bool w_at_src) {
  long c0 = 0;
  for (; c0 + 64 <= d; c0 += 64)
    gather_block<R, 4, false>(dst, base, src, w, sh, K, N, d, i0, c0, 0, w_at_src);
  const long rem = d - c0;
  if (rem == 0) return;
  const long nv = (rem + 15) / 16;
  const __mmask16 last = lanes(rem - 16 * (nv - 1));
  const bool masked = rem % 16 != 0;
#define PMX_CASE(C)                                                                             \
  case C:                                                                                       \
    if (masked)                                                                                 \
      gather_block<R, C, true>(dst, base, src, w, sh, K, N, d, i0, c0, last, w_at_src);         \
    else                                                                                        \
      gather_block<R, C, false>(dst, base, src, w, sh, K, N, d, i0, c0, last, w_at_src);        \
    break;
  switch (nv) {
    PMX_CASE(1)
    PMX_CASE(2)
    PMX_CASE(3)
    default:
      PMX_CASE(4)
  }
#undef PMX_CASE
}

// Sum of each of 16 vectors as one vector (lane t = sum of a[t]): a transpose-and-add tree,
// 15 adds instead of 16 separate horizontal reductions.
inline __m512 reduce16(const __m512* a) {
  __m512 l1[8], l2[4], l3[2];
  for (int p = 0; p < 8; ++p)  // 256-bit halves: lanes 0-7 partials of a[2p], 8-15 of a[2p+1]
    l1[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                          _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  for (int p = 0; p < 4; ++p)  // 128-bit quarters: quarter q holds 4 partials of a[4p+q]
    l2[p] = _mm512_add_ps(_mm512_shuffle_f32x4(l1[2 * p], l1[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_f32x4(l1[2 * p], l1[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  for (int p = 0; p < 2; ++p)  // quarter q: 2 partials of a[8p+q], then 2 of a[8p+4+q]
    l3[p] = _mm512_add_ps(_mm512_shuffle_ps(l2[2 * p], l2[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                          _mm512_shuffle_ps(l2[2 * p], l2[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // Lane 4q + p now holds the sum of a[4p + q]; permute to lane t = a[t].
  const __m512 s = _mm512_add_ps(_mm512_shuffle_ps(l3[0], l3[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_ps(l3[0], l3[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(idx, s);
}

// dW for one row and KN (1..16) slots starting at k0: KN independent accumulator chains over
// the columns, then one reduce16 and one masked store of KN contiguous dW values.
template <int KN>
void dot_group(float* dw, const float* g, const float* v, const long* sh, long K, long N, long d,
               long i, long k0) {
  const float* s[KN];
  for (int t = 0; t < KN; ++t) {
    long j = i + sh[k0 + t];
    if (j >= N) j -= N;
    s[t] = v + j * d;
  }
  const float* gi = g + i * d;
  __m512 acc[16];
  for (int t = 0; t < 16; ++t) acc[t] = _mm512_setzero_ps();
  long c = 0;
  for (; c + 16 <= d; c += 16) {
    const __m512 gv = _mm512_loadu_ps(gi + c);
    for (int t = 0; t < KN; ++t) acc[t] = _mm512_fmadd_ps(gv, _mm512_loadu_ps(s[t] + c), acc[t]);
  }
  if (c < d) {
    const __mmask16 m = lanes(d - c);
    const __m512 gv = _mm512_maskz_loadu_ps(m, gi + c);
    for (int t = 0; t < KN; ++t)
      acc[t] = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(m, s[t] + c), acc[t]);
  }
  _mm512_mask_storeu_ps(dw + i * K + k0, lanes(KN), reduce16(acc));
}

using DotFn = void (*)(float*, const float*, const float*, const long*, long, long, long, long,
                       long);
const DotFn kDotGroup[17] = {
    nullptr,        dot_group<1>,  dot_group<2>,  dot_group<3>,  dot_group<4>,  dot_group<5>,
    dot_group<6>,   dot_group<7>,  dot_group<8>,  dot_group<9>,  dot_group<10>, dot_group<11>,
    dot_group<12>,  dot_group<13>, dot_group<14>, dot_group<15>, dot_group<16>};

}  // namespace

void gather_rows_avx512(float* dst, const float* base, const float* src, const float* w,
                        const long* sh, long K, long N, long d, long i0, long i1,
                        bool w_at_src) {
  // 8-12 independent accumulators hide the FMA latency (R rows x C vectors).
  const long nv = (d + 15) / 16;
  long i = i0;
  if (nv <= 1)
    for (; i + 8 <= i1; i += 8) gather_rowblock<8>(dst, base, src, w, sh, K, N, d, i, w_at_src);
  else if (nv <= 2)
    for (; i + 4 <= i1; i += 4) gather_rowblock<4>(dst, base, src, w, sh, K, N, d, i, w_at_src);
  else if (nv <= 3)
    for (; i + 3 <= i1; i += 3) gather_rowblock<3>(dst, base, src, w, sh, K, N, d, i, w_at_src);
  else
    for (; i + 2 <= i1; i += 2) gather_rowblock<2>(dst, base, src, w, sh, K, N, d, i, w_at_src);
  for (; i < i1; ++i) gather_rowblock<1>(dst, base, src, w, sh, K, N, d, i, w_at_src);
}

void dot_rows_avx512(float* dw, const float* g, const float* v, const long* sh, long K, long N,
                     long d, long i0, long i1) {
  for (long i = i0; i < i1; ++i)
    for (long k0 = 0; k0 < K; k0 += 16)
      kDotGroup[K - k0 < 16 ? K - k0 : 16](dw, g, v, sh, K, N, d, i, k0);
}

}  // namespace detail
}  // namespace kernels
}  // namespace pmx

#pragma GCC diagnostic pop
#pragma GCC pop_options
