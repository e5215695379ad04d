// exp_avx2 (kernels/exp_avx2.h) on 16 lanes: the same operations in the same order, so the same
// bits per lane. For the AVX-512 files only (gelu_avx512.cpp, attention_avx512.cpp): include it
// AFTER their `#pragma GCC target("avx512f")`, so that these inline functions are compiled for
// AVX-512 and never into a file built for the library's baseline (AVX2).
#pragma once

#include "kernels/gelu_coeffs.h"

namespace pmx::kernels::avx512 {

// horner8 of kernels/exp_avx2.h on 16 lanes.
template <int K>
[[gnu::always_inline]] inline __m512 horner16(__m512 x, const float (&c)[K]) {
  __m512 p = _mm512_set1_ps(c[0]);
#pragma GCC unroll 8
  for (int i = 1; i < K; ++i) p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(c[i]));
  return p;
}

// exp(t) for t in [-87, 0], as exp_avx2. Always inlined: the small-head attention kernel uses it
// in several loops, and GCC then made it a call of its own (39 % of a step's perf samples).
[[gnu::always_inline]] inline __m512 exp16(__m512 t) {
  t = _mm512_max_ps(t, _mm512_set1_ps(gelu_coeffs::kExpMin));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(gelu_coeffs::kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(gelu_coeffs::kLn2Hi), t);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(gelu_coeffs::kLn2Lo), r);
  const __m512 p = horner16(r, gelu_coeffs::kExpP);
  __m512 y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
  y = _mm512_add_ps(y, _mm512_set1_ps(1.f));
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

}  // namespace pmx::kernels::avx512
