// AVX-512F twins of the float GELU drivers in kernels/gelu.cpp, chosen there at run time when
// the CPU has AVX-512F. Every operation is the AVX2 one on 16 lanes instead of 8, in the same
// order (FMA, division and rounding are exact IEEE operations at any width), so the bits are
// those of the AVX2 path; tests/test_gelu.cpp checks that. See gelu.cpp for the erf and exp
// approximations themselves.
//
// Why 16 lanes on a CPU that splits 512-bit operations in two (Zen 4): half the instructions
// for the same work, and the mask registers replace the padded tail copy.
// Measured on the 2-core EPYC (Zen 4) dev VM, one thread, GELU + derivative over an
// L1-resident 64 x 32 chunk: 0.7 ns per element against 1.0-1.1 for AVX2; inside fmlp
// (R = 16384, M = 10, d = h = 32, K = 11) forward 8.4-8.6 ms against 8.7-8.9, backward
// 18.7-19.1 ms against 19.9-20.4 (CPU time, the two ISAs alternating in one process).
// Replacing the division by rcp + one Newton step was slower on both widths (and not exact).
//
// Compiled with the library's baseline flags (AVX2); the pragma below switches code generation
// to AVX-512F for everything after it. All headers come before it, so no AVX-512 copy of a
// shared inline function can leak into the rest of the program (as in mixing_avx512.cpp); the
// one after it, kernels/exp_avx512.h, holds AVX-512-only code that no other file includes.
#include <immintrin.h>

#include "kernels/gelu_coeffs.h"  // constants only: nothing inline that could be compiled twice

#pragma GCC push_options
#pragma GCC target("avx512f")
// GCC 12 warns about the deliberately undefined pass-through operand inside its own AVX-512
// intrinsics (_mm512_undefined_ps); the warning is about the header, not this code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/exp_avx512.h"  // inline, so only here: after the pragma

namespace pmx {
namespace kernels {
namespace detail {
namespace {

using avx512::exp16;
using avx512::horner16;

// As in gelu.cpp: the double constants, rounded to float where they are used.
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// erf_avx2 on 16 lanes: the same rational fit and clamps (see gelu.cpp for why the clamps alone
// give erf = +-1 exactly past the fit range).
inline __m512 erf16(__m512 z) {
  const __m512 lim = _mm512_set1_ps(gelu_coeffs::kErfClamp);
  z = _mm512_max_ps(_mm512_min_ps(z, lim), _mm512_sub_ps(_mm512_setzero_ps(), lim));
  const __m512 w = _mm512_mul_ps(z, z);
  const __m512 p = horner16(w, gelu_coeffs::kErfP);
  const __m512 q = horner16(w, gelu_coeffs::kErfQ);
  const __m512 one = _mm512_set1_ps(1.f);
  const __m512 e = _mm512_div_ps(_mm512_mul_ps(z, p), q);
  return _mm512_max_ps(_mm512_min_ps(e, one), _mm512_sub_ps(_mm512_setzero_ps(), one));
}

inline __m512 erf16_of_gelu_input(__m512 x) { return erf16(_mm512_mul_ps(x, _mm512_set1_ps(float(kInvSqrt2)))); }

inline __m512 gelu16_from_erf(__m512 x, __m512 e) {
  const __m512 hx = _mm512_mul_ps(x, _mm512_set1_ps(0.5f));
  return _mm512_fmadd_ps(hx, e, hx);
}

inline __m512 gelu_grad16_from_erf(__m512 g, __m512 x, __m512 e) {
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512 cdf = _mm512_fmadd_ps(half, e, half);
  const __m512 lim = _mm512_set1_ps(10.f);  // x second in min and max: NaN passes (gelu.cpp)
  const __m512 xc = _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), lim), _mm512_min_ps(lim, x));
  const __m512 pdf = _mm512_mul_ps(exp16(_mm512_mul_ps(_mm512_mul_ps(xc, xc), _mm512_set1_ps(-0.5f))),
                                   _mm512_set1_ps(float(kInvSqrt2Pi)));
  return _mm512_mul_ps(g, _mm512_fmadd_ps(xc, pdf, cdf));
}

// Lanes [0, n) of 16; the tail is loaded zero-filled and stored masked.
inline __mmask16 lanes(long n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

}  // namespace

// Two vectors per iteration where the range allows, both loaded before either is stored (outputs
// may alias inputs): their dependency chains (~50 cycles each, through the polynomials and the
// division) then overlap (forward 15-25 % faster in L1, fourteenth session). The last vector is
// loaded zero-filled and stored masked.
void gelu_forward_avx512(float* out, const float* in, long begin, long end) {
  long i = begin;
  for (; i + 32 <= end; i += 32) {
    const __m512 x0 = _mm512_loadu_ps(in + i), x1 = _mm512_loadu_ps(in + i + 16);
    const __m512 y0 = gelu16_from_erf(x0, erf16_of_gelu_input(x0));
    const __m512 y1 = gelu16_from_erf(x1, erf16_of_gelu_input(x1));
    _mm512_storeu_ps(out + i, y0);
    _mm512_storeu_ps(out + i + 16, y1);
  }
  for (; i < end; i += 16) {
    const __mmask16 m = lanes(end - i);
    const __m512 x = _mm512_maskz_loadu_ps(m, in + i);
    _mm512_mask_storeu_ps(out + i, m, gelu16_from_erf(x, erf16_of_gelu_input(x)));
  }
}

void gelu_backward_avx512(float* d_in, const float* d_out, const float* in, long begin, long end) {
  long i = begin;
  for (; i + 32 <= end; i += 32) {
    const __m512 x0 = _mm512_loadu_ps(in + i), x1 = _mm512_loadu_ps(in + i + 16);
    const __m512 g0 = _mm512_loadu_ps(d_out + i), g1 = _mm512_loadu_ps(d_out + i + 16);
    const __m512 r0 = gelu_grad16_from_erf(g0, x0, erf16_of_gelu_input(x0));
    const __m512 r1 = gelu_grad16_from_erf(g1, x1, erf16_of_gelu_input(x1));
    _mm512_storeu_ps(d_in + i, r0);
    _mm512_storeu_ps(d_in + i + 16, r1);
  }
  for (; i < end; i += 16) {
    const __mmask16 m = lanes(end - i);
    const __m512 x = _mm512_maskz_loadu_ps(m, in + i), g = _mm512_maskz_loadu_ps(m, d_out + i);
    _mm512_mask_storeu_ps(d_in + i, m, gelu_grad16_from_erf(g, x, erf16_of_gelu_input(x)));
  }
}

void gelu_both_avx512(float* out, float* d_in, const float* in, const float* d_out, long begin, long end) {
  long i = begin;
  for (; i + 32 <= end; i += 32) {
    const __m512 x0 = _mm512_loadu_ps(in + i), x1 = _mm512_loadu_ps(in + i + 16);
    const __m512 g0 = _mm512_loadu_ps(d_out + i), g1 = _mm512_loadu_ps(d_out + i + 16);
    const __m512 e0 = erf16_of_gelu_input(x0), e1 = erf16_of_gelu_input(x1);
    const __m512 y0 = gelu16_from_erf(x0, e0), y1 = gelu16_from_erf(x1, e1);
    const __m512 r0 = gelu_grad16_from_erf(g0, x0, e0), r1 = gelu_grad16_from_erf(g1, x1, e1);
    _mm512_storeu_ps(out + i, y0);
    _mm512_storeu_ps(out + i + 16, y1);
    _mm512_storeu_ps(d_in + i, r0);
    _mm512_storeu_ps(d_in + i + 16, r1);
  }
  for (; i < end; i += 16) {
    const __mmask16 m = lanes(end - i);
    const __m512 x = _mm512_maskz_loadu_ps(m, in + i), g = _mm512_maskz_loadu_ps(m, d_out + i);
    const __m512 e = erf16_of_gelu_input(x);
    _mm512_mask_storeu_ps(out + i, m, gelu16_from_erf(x, e));
    _mm512_mask_storeu_ps(d_in + i, m, gelu_grad16_from_erf(g, x, e));
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace pmx

#pragma GCC diagnostic pop
#pragma GCC pop_options
