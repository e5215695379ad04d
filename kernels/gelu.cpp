// GELU kernels (see gelu.h): the float path with AVX2 intrinsics, the AVX-512 twins chosen at
// run time (gelu_avx512.cpp), the double path with std::erf, and the block split for threads.
#include "kernels/gelu.h"
#include "kernels/cpu_features.h"
#include "kernels/gelu_coeffs.h"
#include "kernels/exp_avx2.h"

#include <cmath>
#include <type_traits>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define PMX_GELU_AVX2 1
#endif

namespace pmx {
namespace kernels {

#ifdef PMX_GELU_AVX2
namespace detail {
// Defined in kernels/gelu_avx512.cpp (compiled for AVX-512F): the float GELU drivers
// below with 16 lanes, the same operations in the same order, so the same bits.
void gelu_forward_avx512(float* out, const float* in, long begin, long end);
void gelu_backward_avx512(float* d_in, const float* d_out, const float* in, long begin, long end);
void gelu_both_avx512(float* out, float* d_in, const float* in, const float* d_out, long begin, long end);
}  // namespace detail
#endif

namespace {

// Below this many elements a parallel region costs more than it saves (as in elementwise.cpp).
constexpr long kParallelMin = 1 << 15;

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// GELU and its gradient given e = erf(x / sqrt 2): the one code both the separate ops and the
// fused gelu_forward_backward run, so their bits agree.
template <class T>
inline T gelu_from_erf(T x, T e) {
  return T(0.5) * x * (T(1) + e);
}
template <class T>
inline T gelu_grad_from_erf(T g, T x, T e) {
  const T cdf = T(0.5) * (T(1) + e);
  return g * (cdf + x * std::exp(T(-0.5) * x * x) * T(kInvSqrt2Pi));
}

#ifdef PMX_GELU_AVX2
// erf(z) ~= z P(z^2) / Q(z^2) for |z| <= 3.92; past that erf rounds to +-1 in float. The
// coefficients are a reweighted least-squares rational fit (P0 = 2/sqrt(pi) exactly) with
// relative error 5.6e-8 in exact arithmetic, ~1e-7 after float rounding: float precision, no
// exp, no branch, one division per 8 values.
// Past the fit range z is clamped to +-3.92, where the fit gives 1.0000001 (these float
// operations), so the clamp of the result to [-1, 1] returns +-1 exactly: gelu(-20) is 0, not
// 20 * (1 - rational(3.92)), without a separate test for the saturated lanes (an earlier
// version blended them in; dropping the blend kept every bit and made the AVX-512 forward
// ~15 % faster).
inline __m256 erf_avx2(__m256 z) {
  const __m256 lim = _mm256_set1_ps(gelu_coeffs::kErfClamp);
  z = _mm256_max_ps(_mm256_min_ps(z, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim));
  const __m256 w = _mm256_mul_ps(z, z);
  const __m256 p = horner8(w, gelu_coeffs::kErfP);
  const __m256 q = horner8(w, gelu_coeffs::kErfQ);
  // Rounding can push |erf| a few ulps past 1 near the clamp; 1 + erf must not go negative.
  const __m256 one = _mm256_set1_ps(1.f);
  const __m256 e = _mm256_div_ps(_mm256_mul_ps(z, p), q);
  return _mm256_max_ps(_mm256_min_ps(e, one), _mm256_sub_ps(_mm256_setzero_ps(), one));
}

// As gelu_from_erf and gelu_grad_from_erf above: gelu8, gelu_grad8 and the fused gelu_both8
// share these two, so the fused op gives the bits of the separate ones.
inline __m256 erf8_of_gelu_input(__m256 x) {
  return erf_avx2(_mm256_mul_ps(x, _mm256_set1_ps(float(kInvSqrt2))));
}

inline __m256 gelu8_from_erf(__m256 x, __m256 e) {
  const __m256 hx = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
  return _mm256_fmadd_ps(hx, e, hx);
}

inline __m256 gelu_grad8_from_erf(__m256 g, __m256 x, __m256 e) {
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 cdf = _mm256_fmadd_ps(half, e, half);
  // Past |x| = 10 the density term is below 1e-21; clamping keeps exp in range. x is the
  // second operand of min and max, which return it when it is NaN: gelu'(NaN) is NaN, not 1.
  const __m256 lim = _mm256_set1_ps(10.f);
  const __m256 xc = _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), lim), _mm256_min_ps(lim, x));
  const __m256 pdf = _mm256_mul_ps(exp_avx2(_mm256_mul_ps(_mm256_mul_ps(xc, xc), _mm256_set1_ps(-0.5f))),
                                   _mm256_set1_ps(float(kInvSqrt2Pi)));
  return _mm256_mul_ps(g, _mm256_fmadd_ps(xc, pdf, cdf));
}

inline __m256 gelu8(__m256 x) { return gelu8_from_erf(x, erf8_of_gelu_input(x)); }

inline __m256 gelu_grad8(__m256 g, __m256 x) { return gelu_grad8_from_erf(g, x, erf8_of_gelu_input(x)); }

// The drivers below work on a range [begin, end) of a caller's block (see for_gelu_blocks).
// A tail of fewer than 8 goes through the same vector code via a padded copy, so every element
// gets the same arithmetic. Each loads its inputs before storing, so outputs may alias inputs.
void gelu_forward_avx2(float* out, const float* in, long begin, long end) {
  long i = begin;
  for (; i + 8 <= end; i += 8) _mm256_storeu_ps(out + i, gelu8(_mm256_loadu_ps(in + i)));
  if (i < end) {
    alignas(32) float buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (long j = i; j < end; ++j) buf[j - i] = in[j];
    _mm256_store_ps(buf, gelu8(_mm256_load_ps(buf)));
    for (long j = i; j < end; ++j) out[j] = buf[j - i];
  }
}

void gelu_backward_avx2(float* d_in, const float* d_out, const float* in, long begin, long end) {
  long i = begin;
  for (; i + 8 <= end; i += 8)
    _mm256_storeu_ps(d_in + i, gelu_grad8(_mm256_loadu_ps(d_out + i), _mm256_loadu_ps(in + i)));
  if (i < end) {
    alignas(32) float gb[8] = {0, 0, 0, 0, 0, 0, 0, 0}, xb[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (long j = i; j < end; ++j) gb[j - i] = d_out[j], xb[j - i] = in[j];
    _mm256_store_ps(gb, gelu_grad8(_mm256_load_ps(gb), _mm256_load_ps(xb)));
    for (long j = i; j < end; ++j) d_in[j] = gb[j - i];
  }
}

// out = gelu(in) and d_in = d_out * gelu'(in), one erf per element.
void gelu_both_avx2(float* out, float* d_in, const float* in, const float* d_out, long begin, long end) {
  long i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 x = _mm256_loadu_ps(in + i), g = _mm256_loadu_ps(d_out + i);
    const __m256 e = erf8_of_gelu_input(x);
    _mm256_storeu_ps(out + i, gelu8_from_erf(x, e));
    _mm256_storeu_ps(d_in + i, gelu_grad8_from_erf(g, x, e));
  }
  if (i < end) {
    alignas(32) float xb[8] = {0, 0, 0, 0, 0, 0, 0, 0}, gb[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (long j = i; j < end; ++j) xb[j - i] = in[j], gb[j - i] = d_out[j];
    const __m256 x = _mm256_load_ps(xb), e = erf8_of_gelu_input(x);
    const __m256 y = gelu8_from_erf(x, e), d = gelu_grad8_from_erf(_mm256_load_ps(gb), x, e);
    _mm256_store_ps(xb, y);
    _mm256_store_ps(gb, d);
    for (long j = i; j < end; ++j) out[j] = xb[j - i], d_in[j] = gb[j - i];
  }
}
#endif  // PMX_GELU_AVX2

// Whether the float GELU runs the AVX-512 twins (kernels/gelu_avx512.cpp).
bool g_gelu_avx512_allowed = true;
bool gelu_avx512() {
#ifdef PMX_GELU_AVX2
  return cpu_has_avx512f() && g_gelu_avx512_allowed;
#else
  return false;
#endif
}

// Fixed blocks (a multiple of 16) for the parallel loop, so which thread computes an element
// never changes its arithmetic. Small n runs on the calling thread without opening an OpenMP
// region: fmlp calls the GELU per 64-row chunk from inside its own parallel loop, where even a
// one-thread nested region costs a measurable share of the work.
template <class F>
void for_gelu_blocks(long n, F&& f) {
  if (n <= kParallelMin) return f(0L, n);
  constexpr long block = 4096;
  const long blocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static)
  for (long blk = 0; blk < blocks; ++blk) f(blk * block, blk * block + block < n ? blk * block + block : n);
}

// Per block: the float path picks its ISA here, the double path is std::erf and std::exp.
template <class T>
void gelu_forward_range(T* out, const T* in, long begin, long end) {
#ifdef PMX_GELU_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (gelu_avx512()) return detail::gelu_forward_avx512(out, in, begin, end);
    return gelu_forward_avx2(out, in, begin, end);
  }
#endif
  for (long i = begin; i < end; ++i) out[i] = gelu_from_erf(in[i], std::erf(in[i] * T(kInvSqrt2)));
}

template <class T>
void gelu_backward_range(T* d_in, const T* d_out, const T* in, long begin, long end) {
#ifdef PMX_GELU_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (gelu_avx512()) return detail::gelu_backward_avx512(d_in, d_out, in, begin, end);
    return gelu_backward_avx2(d_in, d_out, in, begin, end);
  }
#endif
  for (long i = begin; i < end; ++i) d_in[i] = gelu_grad_from_erf(d_out[i], in[i], std::erf(in[i] * T(kInvSqrt2)));
}

template <class T>
void gelu_both_range(T* out, T* d_in, const T* in, const T* d_out, long begin, long end) {
#ifdef PMX_GELU_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (gelu_avx512()) return detail::gelu_both_avx512(out, d_in, in, d_out, begin, end);
    return gelu_both_avx2(out, d_in, in, d_out, begin, end);
  }
#endif
  for (long i = begin; i < end; ++i) {
    const T x = in[i], g = d_out[i], e = std::erf(x * T(kInvSqrt2));
    out[i] = gelu_from_erf(x, e);
    d_in[i] = gelu_grad_from_erf(g, x, e);
  }
}

}  // namespace

void set_gelu_avx512(bool allowed) { g_gelu_avx512_allowed = allowed; }
bool gelu_avx512_active() { return gelu_avx512(); }

template <class T>
void gelu_forward(T* out, const T* in, long n) {
  for_gelu_blocks(n, [&](long begin, long end) { gelu_forward_range(out, in, begin, end); });
}

template <class T>
void gelu_backward(T* d_in, const T* d_out, const T* in, long n) {
  for_gelu_blocks(n, [&](long begin, long end) { gelu_backward_range(d_in, d_out, in, begin, end); });
}

template <class T>
void gelu_forward_backward(T* out, T* d_in, const T* in, const T* d_out, long n) {
  for_gelu_blocks(n, [&](long begin, long end) { gelu_both_range(out, d_in, in, d_out, begin, end); });
}

#define PMX_INSTANTIATE_GELU(T)                                                               \
  template void gelu_forward<T>(T*, const T*, long);                                          \
  template void gelu_backward<T>(T*, const T*, const T*, long);                               \
  template void gelu_forward_backward<T>(T*, T*, const T*, const T*, long);
PMX_INSTANTIATE_GELU(float)
PMX_INSTANTIATE_GELU(double)
#undef PMX_INSTANTIATE_GELU

}  // namespace kernels
}  // namespace pmx
