// 8-lane float helpers shared by the GELU (kernels/gelu.cpp) and attention (kernels/attention.cpp,
// attention_small_head_avx2.cpp): Horner's rule, exp(t) for t <= 0 (the Cephes expf polynomial,
// constants in kernels/gelu_coeffs.h, ~1 ulp, no branch) and the lanes' sum and maximum. Only with AVX2 + FMA
// (PMX_EXP_AVX2 is then defined); callers keep a scalar path for other builds.
#pragma once

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "kernels/gelu_coeffs.h"

#define PMX_EXP_AVX2 1

namespace pmx::kernels {

// c[0] x^(K-1) + ... + c[K-1] by Horner's rule, one FMA per coefficient (unrolled: K is fixed).
template <int K>
inline __m256 horner8(__m256 x, const float (&c)[K]) {
  __m256 p = _mm256_set1_ps(c[0]);
#pragma GCC unroll 8
  for (int i = 1; i < K; ++i) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[i]));
  return p;
}

// exp(t) for t in [-87, 0] (Cephes expf): t = n ln2 + r with |r| <= ln2/2, a degree-7
// polynomial for exp(r), 2^n built in the exponent bits. ~1 ulp. Below -87 t is clamped, so the
// result is exp(-87) ~ 1.6e-38 rather than 0.
inline __m256 exp_avx2(__m256 t) {
  t = _mm256_max_ps(t, _mm256_set1_ps(gelu_coeffs::kExpMin));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(gelu_coeffs::kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(gelu_coeffs::kLn2Hi), t);  // ln2 split hi + lo so
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(gelu_coeffs::kLn2Lo), r);     // r carries no rounding
  const __m256 p = horner8(r, gelu_coeffs::kExpP);
  __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// The sum and the maximum of the 8 lanes, folded high half onto low, then pairs (a fixed order,
// so the same bits wherever they are used).
inline float horizontal_sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float horizontal_max8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

}  // namespace pmx::kernels

#endif
