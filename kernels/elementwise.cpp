// Elementwise kernels (see elementwise.h). Each op is a template parameter, not a per-element
// switch, so the loops vectorise; only the float GELU is written with intrinsics.
#include "kernels/elementwise.h"

#include <cmath>
#include <type_traits>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define PMX_ELEM_AVX2 1
#endif

namespace pmx {
namespace kernels {

#ifdef PMX_ELEM_AVX2
namespace detail {
// Defined in kernels/elementwise_avx512.cpp (compiled for AVX-512F): the float GELU drivers
// below with 16 lanes, the same operations in the same order, so the same bits.
void gelu_forward_avx512(float* out, const float* in, long begin, long end);
void gelu_backward_avx512(float* d_in, const float* d_out, const float* in, long begin, long end);
void gelu_both_avx512(float* out, float* d_in, const float* in, const float* d_out, long begin, long end);
}  // namespace detail
#endif

namespace {

// Below this many elements a parallel region costs more than it saves.
constexpr long kParallelMin = 1 << 15;

template <BinaryOp OP, class T>
inline T bin(T a, T b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  else if constexpr (OP == BinaryOp::Sub) return a - b;
  else if constexpr (OP == BinaryOp::Mul) return a * b;
  else return a / b;
}

// Calls f with the op as a compile-time constant.
template <class F>
void with_binary_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add: f(std::integral_constant<BinaryOp, BinaryOp::Add>()); break;
    case BinaryOp::Sub: f(std::integral_constant<BinaryOp, BinaryOp::Sub>()); break;
    case BinaryOp::Mul: f(std::integral_constant<BinaryOp, BinaryOp::Mul>()); break;
    case BinaryOp::Div: f(std::integral_constant<BinaryOp, BinaryOp::Div>()); break;
  }
}

// Storage offset of row `row` (all dims but the last) of a strided tensor.
inline int64_t row_offset(long row, const int64_t* strides, const int64_t* shape, int ndim) {
  int64_t off = 0;
  for (int d = ndim - 2; d >= 0; --d) {
    off += (row % shape[d]) * strides[d];
    row /= shape[d];
  }
  return off;
}

// One contiguous output row of a strided binary op; the common stride pairs get their own
// loops so they vectorise.
template <BinaryOp OP, class T>
inline void strided_row(T* out, const T* a, int64_t sa, const T* b, int64_t sb, long len) {
  if (sa == 1 && sb == 1) {
    for (long j = 0; j < len; ++j) out[j] = bin<OP>(a[j], b[j]);
  } else if (sa == 1 && sb == 0) {
    const T s = b[0];
    for (long j = 0; j < len; ++j) out[j] = bin<OP>(a[j], s);
  } else if (sa == 0 && sb == 1) {
    const T s = a[0];
    for (long j = 0; j < len; ++j) out[j] = bin<OP>(s, b[j]);
  } else {
    for (long j = 0; j < len; ++j) out[j] = bin<OP>(a[j * sa], b[j * sb]);
  }
}

// For an input walked across its fast dim (a transposed view), row-by-row order touches one
// cache line per element. Walking the last two dims in 32 x 32 tiles keeps those lines hot
// until all their elements are used. Each element is still written once, by one thread.
constexpr long kTransposeTile = 32;

template <BinaryOp OP, class T>
void strided_tiled(T* out, const T* a, const int64_t* sa, const T* b, const int64_t* sb,
                   const int64_t* shape, int ndim) {
  const long L = long(shape[ndim - 1]), P = long(shape[ndim - 2]);
  long batches = 1;
  for (int d = 0; d < ndim - 2; ++d) batches *= long(shape[d]);
  const long ptiles = (P + kTransposeTile - 1) / kTransposeTile;
  const int64_t ap = sa[ndim - 2], al = sa[ndim - 1], bp = sb[ndim - 2], bl = sb[ndim - 1];
#pragma omp parallel for schedule(static) if (batches * P * L > kParallelMin)
  for (long t = 0; t < batches * ptiles; ++t) {
    const long batch = t / ptiles, p0 = (t % ptiles) * kTransposeTile;
    const long p1 = p0 + kTransposeTile < P ? p0 + kTransposeTile : P;
    // row_offset over the leading ndim - 1 dims maps a batch index to its offset.
    const T* ab = a + (ndim > 2 ? row_offset(batch, sa, shape, ndim - 1) : 0);
    const T* bb = b + (ndim > 2 ? row_offset(batch, sb, shape, ndim - 1) : 0);
    T* ob = out + batch * P * L;  // (P, L)
    for (long j0 = 0; j0 < L; j0 += kTransposeTile) {
      const long j1 = j0 + kTransposeTile < L ? j0 + kTransposeTile : L;
      for (long p = p0; p < p1; ++p)
        for (long j = j0; j < j1; ++j) ob[p * L + j] = bin<OP>(ab[p * ap + j * al], bb[p * bp + j * bl]);
    }
  }
}

}  // namespace

template <class T>
void binary_same(T* out, const T* a, const T* b, long n, BinaryOp op) {
  with_binary_op(op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (long i = 0; i < n; ++i) out[i] = bin<OP>(a[i], b[i]);
  });
}

template <class T>
void binary_scalar(T* out, const T* x, T s, long n, BinaryOp op, bool scalar_on_left) {
  with_binary_op(op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
    if (scalar_on_left) {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (long i = 0; i < n; ++i) out[i] = bin<OP>(s, x[i]);
    } else {
#pragma omp parallel for schedule(static) if (n > kParallelMin)
      for (long i = 0; i < n; ++i) out[i] = bin<OP>(x[i], s);
    }
  });
}

template <class T>
void binary_row(T* out, const T* x, const T* row, long M, long n, BinaryOp op, bool row_on_left) {
  with_binary_op(op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
#pragma omp parallel for schedule(static) if (M * n > kParallelMin)
    for (long m = 0; m < M; ++m) {
      const T* xm = x + m * n;  // (n)
      T* om = out + m * n;      // (n)
      if (row_on_left)
        for (long j = 0; j < n; ++j) om[j] = bin<OP>(row[j], xm[j]);
      else
        for (long j = 0; j < n; ++j) om[j] = bin<OP>(xm[j], row[j]);
    }
  });
}

template <class T>
void binary_strided(T* out, const T* a, const int64_t* a_strides, const T* b,
                    const int64_t* b_strides, const int64_t* shape, int ndim, BinaryOp op) {
  if (ndim == 0) {
    binary_same(out, a, b, 1, op);
    return;
  }
  const long len = long(shape[ndim - 1]);
  long rows = 1;
  for (int d = 0; d < ndim - 1; ++d) rows *= long(shape[d]);
  if (len == 0 || rows == 0) return;
  const bool across = (a_strides[ndim - 1] != 0 && a_strides[ndim - 1] != 1) ||
                      (b_strides[ndim - 1] != 0 && b_strides[ndim - 1] != 1);
  with_binary_op(op, [&](auto tag) {
    constexpr BinaryOp OP = decltype(tag)::value;
    if (across && ndim >= 2 && len >= 8) {
      strided_tiled<OP>(out, a, a_strides, b, b_strides, shape, ndim);
      return;
    }
#pragma omp parallel for schedule(static) if (rows * len > kParallelMin)
    for (long r = 0; r < rows; ++r) {
      const T* ar = a + row_offset(r, a_strides, shape, ndim);
      const T* br = b + row_offset(r, b_strides, shape, ndim);
      strided_row<OP>(out + r * len, ar, a_strides[ndim - 1], br, b_strides[ndim - 1], len);
    }
  });
}

template <class T>
void binary_naive(T* out, const T* a, const int64_t* a_strides, const T* b,
                  const int64_t* b_strides, const int64_t* shape, int ndim, BinaryOp op) {
  long n = 1;
  for (int d = 0; d < ndim; ++d) n *= long(shape[d]);
  for (long e = 0; e < n; ++e) {
    int64_t oa = 0, ob = 0;
    long rest = e;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t i = rest % shape[d];
      rest /= long(shape[d]);
      oa += i * a_strides[d];
      ob += i * b_strides[d];
    }
    T x = a[oa], y = b[ob];
    switch (op) {
      case BinaryOp::Add: out[e] = x + y; break;
      case BinaryOp::Sub: out[e] = x - y; break;
      case BinaryOp::Mul: out[e] = x * y; break;
      case BinaryOp::Div: out[e] = x / y; break;
    }
  }
}

#define PMX_INSTANTIATE_BINARY(T)                                                             \
  template void binary_same<T>(T*, const T*, const T*, long, BinaryOp);                       \
  template void binary_scalar<T>(T*, const T*, T, long, BinaryOp, bool);                      \
  template void binary_row<T>(T*, const T*, const T*, long, long, BinaryOp, bool);            \
  template void binary_strided<T>(T*, const T*, const int64_t*, const T*, const int64_t*,     \
                                  const int64_t*, int, BinaryOp);                             \
  template void binary_naive<T>(T*, const T*, const int64_t*, const T*, const int64_t*,       \
                                const int64_t*, int, BinaryOp);
PMX_INSTANTIATE_BINARY(float)
PMX_INSTANTIATE_BINARY(double)
#undef PMX_INSTANTIATE_BINARY

// ---- unary ----

namespace {

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

template <UnaryOp OP, class T>
inline T unary_value(T x, T p) {
  if constexpr (OP == UnaryOp::Exp) return std::exp(x);
  else if constexpr (OP == UnaryOp::Log) return std::log(x);
  else if constexpr (OP == UnaryOp::Sqrt) return std::sqrt(x);
  else if constexpr (OP == UnaryOp::Tanh) return std::tanh(x);
  else if constexpr (OP == UnaryOp::Sigmoid) return T(1) / (T(1) + std::exp(-x));
  else if constexpr (OP == UnaryOp::Relu) return x < T(0) ? T(0) : x;  // NaN stays NaN
  else if constexpr (OP == UnaryOp::Gelu) return gelu_from_erf(x, std::erf(x * T(kInvSqrt2)));
  else if constexpr (OP == UnaryOp::Neg) return -x;
  else if constexpr (OP == UnaryOp::Pow) return std::pow(x, p);
  else if constexpr (OP == UnaryOp::AddScalar) return x + p;
  else return x * p;
}

// d_out * f'(x), given x and y = f(x).
template <UnaryOp OP, class T>
inline T unary_grad(T g, T x, T y, T p) {
  if constexpr (OP == UnaryOp::Exp) return g * y;
  else if constexpr (OP == UnaryOp::Log) return g / x;
  else if constexpr (OP == UnaryOp::Sqrt) return g / (T(2) * y);
  else if constexpr (OP == UnaryOp::Tanh) return g * (T(1) - y * y);
  else if constexpr (OP == UnaryOp::Sigmoid) return g * y * (T(1) - y);
  else if constexpr (OP == UnaryOp::Relu) return x > T(0) ? g : T(0);
  else if constexpr (OP == UnaryOp::Gelu) return gelu_grad_from_erf(g, x, std::erf(x * T(kInvSqrt2)));
  else if constexpr (OP == UnaryOp::Neg) return -g;
  else if constexpr (OP == UnaryOp::Pow) return p == T(0) ? T(0) : g * p * std::pow(x, p - T(1));
  else if constexpr (OP == UnaryOp::AddScalar) return g;
  else return g * p;
}

template <class F>
void with_unary_op(UnaryOp op, F&& f) {
#define PMX_UNARY_CASE(name) \
  case UnaryOp::name: f(std::integral_constant<UnaryOp, UnaryOp::name>()); break;
  switch (op) {
    PMX_UNARY_CASE(Exp) PMX_UNARY_CASE(Log) PMX_UNARY_CASE(Sqrt) PMX_UNARY_CASE(Tanh)
    PMX_UNARY_CASE(Sigmoid) PMX_UNARY_CASE(Relu) PMX_UNARY_CASE(Gelu) PMX_UNARY_CASE(Neg)
    PMX_UNARY_CASE(Pow) PMX_UNARY_CASE(AddScalar) PMX_UNARY_CASE(MulScalar)
  }
#undef PMX_UNARY_CASE
}

#ifdef PMX_ELEM_AVX2
// erf(z) ~= z P(z^2) / Q(z^2) for |z| <= 3.92; past that erf rounds to +-1 in float. The
// coefficients are a reweighted least-squares rational fit (P0 = 2/sqrt(pi) exactly) with
// relative error 5.6e-8 in exact arithmetic, ~1e-7 after float rounding: float precision, no
// exp, no branch, one division per 8 values.
inline __m256 erf_avx2(__m256 z) {
  const __m256 lim = _mm256_set1_ps(3.92f);
  const __m256 sign = _mm256_and_ps(z, _mm256_set1_ps(-0.f));
  // Past the fit range erf is +-1 exactly, so gelu(-20) is 0, not 20 * (1 - rational(3.92)).
  const __m256 saturated = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), z), lim, _CMP_GE_OQ);
  z = _mm256_max_ps(_mm256_min_ps(z, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim));
  const __m256 w = _mm256_mul_ps(z, z);
  __m256 p = _mm256_set1_ps(1.9917291292217287e-8f);
  p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(-1.9471778378556419e-6f));
  p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(1.3982728455499368e-4f));
  p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(3.6247190718425112e-3f));
  p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(5.0337609572704405e-2f));
  p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(1.9817541067302953e-1f));
  p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(1.1283791670955126f));
  __m256 q = _mm256_set1_ps(9.3677407001384815e-4f);
  q = _mm256_fmadd_ps(q, w, _mm256_set1_ps(1.4200452605136041e-2f));
  q = _mm256_fmadd_ps(q, w, _mm256_set1_ps(1.1427102597842555e-1f));
  q = _mm256_fmadd_ps(q, w, _mm256_set1_ps(5.0896065288069947e-1f));
  q = _mm256_fmadd_ps(q, w, _mm256_set1_ps(1.f));
  // Rounding can push |erf| a few ulps past 1 near the clamp; 1 + erf must not go negative.
  const __m256 one = _mm256_set1_ps(1.f);
  __m256 e = _mm256_div_ps(_mm256_mul_ps(z, p), q);
  e = _mm256_max_ps(_mm256_min_ps(e, one), _mm256_sub_ps(_mm256_setzero_ps(), one));
  return _mm256_blendv_ps(e, _mm256_or_ps(sign, one), saturated);
}

// exp(t) for t in [-87, 0] (Cephes expf): t = n ln2 + r with |r| <= ln2/2, a degree-7
// polynomial for exp(r), 2^n built in the exponent bits. ~1 ulp.
inline __m256 exp_avx2(__m256 t) {
  t = _mm256_max_ps(t, _mm256_set1_ps(-87.f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), t);  // ln2 split hi + lo so
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);     // r carries no rounding
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.f));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
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
  // Past |x| = 10 the density term is below 1e-21; clamping keeps exp in range.
  const __m256 lim = _mm256_set1_ps(10.f);
  const __m256 xc = _mm256_max_ps(_mm256_min_ps(x, lim), _mm256_sub_ps(_mm256_setzero_ps(), lim));
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
#endif  // PMX_ELEM_AVX2

// Whether the float GELU runs the AVX-512 twins (kernels/elementwise_avx512.cpp).
bool g_gelu_avx512_allowed = true;
bool gelu_avx512() {
#ifdef PMX_ELEM_AVX2
  static const bool has = __builtin_cpu_supports("avx512f");
  return has && g_gelu_avx512_allowed;
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

template <class T>
void gelu_forward_range(T* out, const T* in, long begin, long end) {
#ifdef PMX_ELEM_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (gelu_avx512()) return detail::gelu_forward_avx512(out, in, begin, end);
    return gelu_forward_avx2(out, in, begin, end);
  }
#endif
  for (long i = begin; i < end; ++i) out[i] = unary_value<UnaryOp::Gelu>(in[i], T(0));
}

template <class T>
void gelu_backward_range(T* d_in, const T* d_out, const T* in, long begin, long end) {
#ifdef PMX_ELEM_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (gelu_avx512()) return detail::gelu_backward_avx512(d_in, d_out, in, begin, end);
    return gelu_backward_avx2(d_in, d_out, in, begin, end);
  }
#endif
  for (long i = begin; i < end; ++i) d_in[i] = unary_grad<UnaryOp::Gelu>(d_out[i], in[i], T(0), T(0));
}

template <class T>
void gelu_both_range(T* out, T* d_in, const T* in, const T* d_out, long begin, long end) {
#ifdef PMX_ELEM_AVX2
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
void gelu_forward_backward(T* out, T* d_in, const T* in, const T* d_out, long n) {
  for_gelu_blocks(n, [&](long begin, long end) { gelu_both_range(out, d_in, in, d_out, begin, end); });
}

template <class T>
void unary_forward(T* out, const T* in, long n, UnaryOp op, T param) {
  if (op == UnaryOp::Gelu)
    return for_gelu_blocks(n, [&](long begin, long end) { gelu_forward_range(out, in, begin, end); });
  with_unary_op(op, [&](auto tag) {
    constexpr UnaryOp OP = decltype(tag)::value;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (long i = 0; i < n; ++i) out[i] = unary_value<OP>(in[i], param);
  });
}

template <class T>
void unary_backward(T* d_in, const T* d_out, const T* in, const T* out, long n, UnaryOp op,
                    T param) {
  if (op == UnaryOp::Gelu)
    return for_gelu_blocks(n, [&](long begin, long end) { gelu_backward_range(d_in, d_out, in, begin, end); });
  with_unary_op(op, [&](auto tag) {
    constexpr UnaryOp OP = decltype(tag)::value;
    // Read only the pointers this op's derivative needs (callers may pass nullptr for the other).
    constexpr bool reads_out = OP == UnaryOp::Exp || OP == UnaryOp::Sqrt || OP == UnaryOp::Tanh ||
                               OP == UnaryOp::Sigmoid;
    constexpr bool reads_in = OP == UnaryOp::Log || OP == UnaryOp::Relu || OP == UnaryOp::Gelu ||
                              OP == UnaryOp::Pow;
#pragma omp parallel for schedule(static) if (n > kParallelMin)
    for (long i = 0; i < n; ++i)
      d_in[i] = unary_grad<OP>(d_out[i], reads_in ? in[i] : T(0), reads_out ? out[i] : T(0), param);
  });
}

template <class T>
void unary_forward_naive(T* out, const T* in, long n, UnaryOp op, T param) {
  for (long i = 0; i < n; ++i) {
    const T x = in[i];
    switch (op) {
      case UnaryOp::Exp: out[i] = std::exp(x); break;
      case UnaryOp::Log: out[i] = std::log(x); break;
      case UnaryOp::Sqrt: out[i] = std::sqrt(x); break;
      case UnaryOp::Tanh: out[i] = std::tanh(x); break;
      case UnaryOp::Sigmoid: out[i] = T(1) / (T(1) + std::exp(-x)); break;
      case UnaryOp::Relu: out[i] = x > T(0) ? x : (x == x ? T(0) : x); break;
      case UnaryOp::Gelu: out[i] = T(0.5) * x * (T(1) + std::erf(x / std::sqrt(T(2)))); break;
      case UnaryOp::Neg: out[i] = -x; break;
      case UnaryOp::Pow: out[i] = std::pow(x, param); break;
      case UnaryOp::AddScalar: out[i] = x + param; break;
      case UnaryOp::MulScalar: out[i] = x * param; break;
    }
  }
}

template <class T>
void unary_backward_naive(T* d_in, const T* d_out, const T* in, const T* out, long n,
                          UnaryOp op, T param) {
  const T pi = T(3.14159265358979323846);
  for (long i = 0; i < n; ++i) {
    const T g = d_out[i];
    switch (op) {
      case UnaryOp::Exp: d_in[i] = g * out[i]; break;
      case UnaryOp::Log: d_in[i] = g / in[i]; break;
      case UnaryOp::Sqrt: d_in[i] = g * T(0.5) / out[i]; break;
      case UnaryOp::Tanh: d_in[i] = g * (T(1) - out[i] * out[i]); break;
      case UnaryOp::Sigmoid: d_in[i] = g * out[i] * (T(1) - out[i]); break;
      case UnaryOp::Relu: d_in[i] = in[i] > T(0) ? g : T(0); break;
      case UnaryOp::Gelu: {
        const T x = in[i];
        const T cdf = T(0.5) * (T(1) + std::erf(x / std::sqrt(T(2))));
        d_in[i] = g * (cdf + x * std::exp(-x * x / T(2)) / std::sqrt(T(2) * pi));
        break;
      }
      case UnaryOp::Neg: d_in[i] = -g; break;
      case UnaryOp::Pow: d_in[i] = param == T(0) ? T(0) : g * param * std::pow(in[i], param - T(1)); break;
      case UnaryOp::AddScalar: d_in[i] = g; break;
      case UnaryOp::MulScalar: d_in[i] = g * param; break;
    }
  }
}

#define PMX_INSTANTIATE_UNARY(T)                                                              \
  template void gelu_forward_backward<T>(T*, T*, const T*, const T*, long);                   \
  template void unary_forward<T>(T*, const T*, long, UnaryOp, T);                             \
  template void unary_backward<T>(T*, const T*, const T*, const T*, long, UnaryOp, T);        \
  template void unary_forward_naive<T>(T*, const T*, long, UnaryOp, T);                       \
  template void unary_backward_naive<T>(T*, const T*, const T*, const T*, long, UnaryOp, T);
PMX_INSTANTIATE_UNARY(float)
PMX_INSTANTIATE_UNARY(double)
#undef PMX_INSTANTIATE_UNARY

}  // namespace kernels
}  // namespace pmx
