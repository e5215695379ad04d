// AVX-512F twin of the attention softmax's float exp pass (exp_shifted in kernels/attention.cpp),
// chosen there at run time when the CPU has AVX-512F. 16 lanes per exp, but the row sum is kept
// in the AVX2 loop's 8-lane accumulator and fed in the same order (low half, then high half), so
// values and sum are the AVX2 path's bits (tests/test_attention.cpp checks that).
//
// Why: the exp pass was ~20 % of a Transformer step (d = 32, 4 heads, N = 1024); one 1024-float
// row took 0.38-0.40 ns per element with 8 lanes and 0.27 with 16 on the Zen 5 EPYC (one
// thread, throw-away harness, rows in L1).
//
// Compiled with the library's baseline flags (AVX2); the pragma below switches code generation
// to AVX-512F for everything after it (as in gelu_avx512.cpp).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/gelu_coeffs.h"  // constants only

#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/exp_avx512.h"  // inline, so only here: after the pragma

namespace pmx::kernels::detail {

namespace {

// horizontal_sum8 of kernels/exp_avx2.h (the AVX2 path's), operation for operation; a copy of
// its own because that header's inline functions must not be compiled after the AVX-512 pragma.
inline float horizontal_sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256 high_half(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }

}  // namespace

float exp_shifted_avx512(float* x, int64_t n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 e = avx512::exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), s));
    _mm512_storeu_ps(x + j, e);
    acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
    acc = _mm256_add_ps(acc, high_half(e));
  }
  if (j + 8 <= n) {  // one more 8-lane block, as the AVX2 loop would take it
    const __m512 e = avx512::exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(0x00FF, x + j), s));
    _mm512_mask_storeu_ps(x + j, 0x00FF, e);
    acc = _mm256_add_ps(acc, _mm512_castps512_ps256(e));
    j += 8;
  }
  float total = horizontal_sum8(acc);
  for (; j < n; ++j) {
    x[j] = std::exp(x[j] - shift);
    total += x[j];
  }
  return total;
}

}  // namespace pmx::kernels::detail

#pragma GCC diagnostic pop
#pragma GCC pop_options
