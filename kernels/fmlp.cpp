// Row-chunked factor MLPs (see fmlp.h). The float micro-kernel is AVX2 + FMA intrinsics, with an
// AVX-512F twin (kernels/fmlp_avx512.cpp, same bits) chosen at run time; double (gradient checks
// only) runs a plain loop with the same contract.
#include "kernels/fmlp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/blas.h"
#include "kernels/cpu_features.h"
#include "kernels/elementwise.h"
#include "kernels/gelu.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define PMX_FMLP_AVX2 1
#endif

namespace pmx::kernels {

namespace detail {
// Defined in kernels/fmlp_avx512.cpp (compiled for AVX-512F); fmlp_small_gemm's float contract.
void fmlp_small_gemm_avx512(float* c, long ldc, const float* a, long a_row, long a_col,
                            const float* b, long ldb, const float* bias, long rows, long n, long k,
                            bool accumulate);
}  // namespace detail

namespace {

bool g_fmlp_avx512_allowed = true;

// Below this much work (rows x factors x hidden) one thread is faster than a parallel region.
constexpr long kParallelMin = 1 << 14;

#ifdef PMX_FMLP_AVX2
// Lanes [0, w) on, w in [0, 8].
inline __m256i lane_mask(long w) {
  alignas(32) static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + 8 - w));
}

// Stores lanes [0, w) of v, w in [1, 8]. A masked store is slow on AMD, and a copy loop through
// a spilled row compiles to `rep movsq`, whose start-up cost was ~40 % of the masked tile's
// time (the forward's K = 11 output columns): 4-, 2- and 1-lane stores instead.
inline void store_first(float* p, __m256 v, long w) {
  if (w == 8) return _mm256_storeu_ps(p, v);
  __m128 part = _mm256_castps256_ps128(v);
  if (w >= 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(v, 1);
    p += 4, w -= 4;
  }
  if (w >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
    part = _mm_movehl_ps(part, part);
    p += 2, w -= 2;
  }
  if (w) _mm_store_ss(p, part);
}

template <bool full>
inline __m256 load8(const float* p, __m256i mask) {
  if constexpr (full) return _mm256_loadu_ps(p);
  else return _mm256_maskload_ps(p, mask);
}

// One tile: MR rows x up to 8 * NV columns (w of them valid) of C. The MR x NV accumulators
// stay in registers over the whole k loop; B is read in place (no packing), A is broadcast.
// Every element sums its k products in order with one FMA each, so the tile shape does not
// change any bit.
template <int MR, int NV, bool full>
inline void tile(float* c, long ldc, const float* a, long a_row, long a_col, const float* b, long ldb,
                 const float* bias, long w, long k, bool accumulate) {
  const __m256i mask0 = lane_mask(w < 8 ? w : 8);
  const __m256i mask1 = lane_mask(w - 8 < 0 ? 0 : (w - 8 > 8 ? 8 : w - 8));
  __m256 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const __m256i mv = v == 0 ? mask0 : mask1;
      __m256 init = accumulate ? load8<full>(c + r * ldc + 8 * v, mv) : _mm256_setzero_ps();
      acc[r][v] = bias ? _mm256_add_ps(init, load8<full>(bias + 8 * v, mv)) : init;
    }
  for (long p = 0; p < k; ++p) {
    const float* bp = b + p * ldb;
    const __m256 b0 = load8<full>(bp, mask0);
    const __m256 b1 = NV > 1 ? load8<full>(bp + 8, mask1) : b0;
    const float* ap = a + p * a_col;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(ap + r * a_row);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      if constexpr (NV > 1) acc[r][NV - 1] = _mm256_fmadd_ps(av, b1, acc[r][NV - 1]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    if constexpr (full) {
      _mm256_storeu_ps(c + r * ldc, acc[r][0]);
      if constexpr (NV > 1) _mm256_storeu_ps(c + r * ldc + 8, acc[r][NV - 1]);
    } else if constexpr (NV > 1) {
      _mm256_storeu_ps(c + r * ldc, acc[r][0]);  // a partial tile of two vectors has w > 8
      store_first(c + r * ldc + 8, acc[r][1], w - 8);
    } else {
      store_first(c + r * ldc, acc[r][0], w);
    }
  }
}

template <int NV, bool full>
inline void tile_rows(long mr, float* c, long ldc, const float* a, long a_row, long a_col, const float* b,
                      long ldb, const float* bias, long w, long k, bool accumulate) {
  switch (mr) {
    case 6: tile<6, NV, full>(c, ldc, a, a_row, a_col, b, ldb, bias, w, k, accumulate); break;
    case 5: tile<5, NV, full>(c, ldc, a, a_row, a_col, b, ldb, bias, w, k, accumulate); break;
    case 4: tile<4, NV, full>(c, ldc, a, a_row, a_col, b, ldb, bias, w, k, accumulate); break;
    case 3: tile<3, NV, full>(c, ldc, a, a_row, a_col, b, ldb, bias, w, k, accumulate); break;
    case 2: tile<2, NV, full>(c, ldc, a, a_row, a_col, b, ldb, bias, w, k, accumulate); break;
    default: tile<1, NV, full>(c, ldc, a, a_row, a_col, b, ldb, bias, w, k, accumulate); break;
  }
}
#endif

template <class T>
void small_gemm_loop(T* c, long ldc, const T* a, long a_row, long a_col, const T* b, long ldb, const T* bias,
                     long rows, long n, long k, bool accumulate) {
  for (long i = 0; i < rows; ++i) {
    T* ci = c + i * ldc;  // (n)
    for (long j = 0; j < n; ++j) ci[j] = (accumulate ? ci[j] : T(0)) + (bias ? bias[j] : T(0));
    for (long p = 0; p < k; ++p) {
      const T av = a[i * a_row + p * a_col];
      const T* bp = b + p * ldb;  // (n)
      for (long j = 0; j < n; ++j) ci[j] += av * bp[j];
    }
  }
}

// The same contract through OpenBLAS; A must have a unit stride on one side. BLAS also wants
// the leading dimension at least the stored rows' length: with h = 1 or K = 1 the weight
// gradients' A (1, rows) has both strides 1, and lda = 1 made OpenBLAS refuse the call ("parameter
// 10 had an illegal value") and leave C as it was. A stride over a dimension of size 1 is never
// used, so it is raised to that length.
template <class T>
void small_gemm_blas(T* c, long ldc, const T* a, long a_row, long a_col, const T* b, long ldb, const T* bias,
                     long rows, long n, long k, bool accumulate) {
  T beta = accumulate ? T(1) : T(0);
  if (bias) {
    for (long i = 0; i < rows; ++i)
      for (long j = 0; j < n; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : T(0)) + bias[j];
    beta = T(1);
  }
  const bool trans_a = !(a_col == 1 && (a_row >= k || rows == 1));
  const long lda = trans_a ? std::max({a_col, rows, 1L}) : std::max({a_row, k, 1L});
  gemm(trans_a, false, rows, n, k, T(1), a, lda, b, ldb, beta, c, ldc);
}

template <class T>
void any_gemm(FmlpGemm g, T* c, long ldc, const T* a, long a_row, long a_col, const T* b, long ldb,
              const T* bias, long rows, long n, long k, bool accumulate) {
  if (g == FmlpGemm::Blas)
    small_gemm_blas(c, ldc, a, a_row, a_col, b, ldb, bias, rows, n, k, accumulate);
  else
    fmlp_small_gemm(c, ldc, a, a_row, a_col, b, ldb, bias, rows, n, k, accumulate);
}

// Chunks and ranges: a function of R alone (see fmlp.h).
struct Split {
  long chunks, ranges;
  long chunk_begin(long r) const { return r * chunks / ranges; }
};
Split split_rows(long R) {
  long chunks = (R + kFmlpChunk - 1) / kFmlpChunk;
  return {chunks, chunks < kFmlpMaxRanges ? (chunks > 0 ? chunks : 1) : kFmlpMaxRanges};
}

long partial_size(const FmlpSizes& s) { return s.M * (s.h * s.d + s.h + s.K * s.h + s.K); }

// dst (rows, cols) = src^T, src (cols, rows).
template <class T>
void transpose(T* dst, const T* src, long rows, long cols) {
  for (long i = 0; i < rows; ++i)
    for (long j = 0; j < cols; ++j) dst[i * cols + j] = src[j * rows + i];
}

// w1t: (M, d, h) and w2t: (M, h, K), the weights as the micro-kernel's B operand.
template <class T>
void transpose_weights(T* w1t, T* w2t, const T* w1, const T* w2, const FmlpSizes& s) {
  for (long m = 0; m < s.M; ++m) {
    transpose(w1t + m * s.d * s.h, w1 + m * s.h * s.d, s.d, s.h);
    if (w2t) transpose(w2t + m * s.h * s.K, w2 + m * s.K * s.h, s.h, s.K);
  }
}

// acc[j] += sum over rows of a[i * cols + j]: the bias gradients of one chunk, summed in
// registers rather than with a load-add-store of acc for every row (which cost 4 % of a
// training step at N = 1024). The sum order depends on the sizes only. This generic version
// (double, and float without AVX2) keeps blocks of up to 16 columns in a local array.
template <class T>
void add_column_sums(T* acc, const T* a, long rows, long cols) {
  for (long j0 = 0; j0 < cols; j0 += 16) {
    const long w = cols - j0 < 16 ? cols - j0 : 16;
    T s[16] = {};
    for (long i = 0; i < rows; ++i)
      for (long j = 0; j < w; ++j) s[j] += a[i * cols + j0 + j];
    for (long j = 0; j < w; ++j) acc[j0 + j] += s[j];
  }
}

#ifdef PMX_FMLP_AVX2
// The float twin: 8 columns per ymm (masked loads for the last few), rows in pairs so that two
// add chains hide the add latency.
inline void add_column_sums(float* acc, const float* a, long rows, long cols) {
  for (long j0 = 0; j0 < cols; j0 += 8) {
    const long w = cols - j0 < 8 ? cols - j0 : 8;
    const __m256i mask = lane_mask(w);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    long i = 0;
    for (; i + 2 <= rows; i += 2) {
      s0 = _mm256_add_ps(s0, _mm256_maskload_ps(a + i * cols + j0, mask));
      s1 = _mm256_add_ps(s1, _mm256_maskload_ps(a + (i + 1) * cols + j0, mask));
    }
    if (i < rows) s0 = _mm256_add_ps(s0, _mm256_maskload_ps(a + i * cols + j0, mask));
    store_first(acc + j0, _mm256_add_ps(_mm256_maskload_ps(acc + j0, mask), _mm256_add_ps(s0, s1)), w);
  }
}
#endif

template <class T>
inline T gelu_exact(T x) {
  return T(0.5 * double(x) * (1.0 + std::erf(double(x) / std::sqrt(2.0))));
}
template <class T>
inline T gelu_grad_exact(T x) {
  const double xd = double(x);
  return T(0.5 * (1.0 + std::erf(xd / std::sqrt(2.0))) + xd * std::exp(-0.5 * xd * xd) / std::sqrt(2.0 * M_PI));
}

}  // namespace

template <class T>
void fmlp_small_gemm(T* c, long ldc, const T* a, long a_row, long a_col, const T* b, long ldb, const T* bias,
                     long rows, long n, long k, bool accumulate) {
#ifdef PMX_FMLP_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (fmlp_avx512_active())
      return detail::fmlp_small_gemm_avx512(c, ldc, a, a_row, a_col, b, ldb, bias, rows, n, k,
                                            accumulate);
    // Column blocks outside: one (k, 16) block of B stays in L1 while all row tiles read it.
    for (long j0 = 0; j0 < n; j0 += 16) {
      const long w = n - j0 < 16 ? n - j0 : 16;
      for (long i0 = 0; i0 < rows; i0 += 6) {
        const long mr = rows - i0 < 6 ? rows - i0 : 6;
        const float* ai = a + i0 * a_row;
        float* ci = c + i0 * ldc + j0;
        const float* bias_j = bias ? bias + j0 : nullptr;
        if (w == 16)
          tile_rows<2, true>(mr, ci, ldc, ai, a_row, a_col, b + j0, ldb, bias_j, w, k, accumulate);
        else if (w > 8)
          tile_rows<2, false>(mr, ci, ldc, ai, a_row, a_col, b + j0, ldb, bias_j, w, k, accumulate);
        else if (w == 8)
          tile_rows<1, true>(mr, ci, ldc, ai, a_row, a_col, b + j0, ldb, bias_j, w, k, accumulate);
        else
          tile_rows<1, false>(mr, ci, ldc, ai, a_row, a_col, b + j0, ldb, bias_j, w, k, accumulate);
      }
    }
    return;
  }
#endif
  small_gemm_loop(c, ldc, a, a_row, a_col, b, ldb, bias, rows, n, k, accumulate);
}

void set_fmlp_avx512(bool allowed) { g_fmlp_avx512_allowed = allowed; }

bool fmlp_avx512_active() {
#ifdef PMX_FMLP_AVX2
  return cpu_has_avx512f() && g_fmlp_avx512_allowed;
#else
  return false;
#endif
}

long fmlp_forward_workspace(const FmlpSizes& s) {
  return s.M * s.d * s.h + s.M * s.h * s.K + split_rows(s.R).ranges * kFmlpChunk * s.h;
}

long fmlp_backward_workspace(const FmlpSizes& s) {
  return s.M * s.d * s.h + split_rows(s.R).ranges * (2 * kFmlpChunk * s.h + partial_size(s));
}

template <class T>
void fmlp_forward(T* out, const T* x, const T* w1, const T* b1, const T* w2, const T* b2, T* workspace,
                  const FmlpSizes& s, FmlpGemm gemm) {
  const long R = s.R, d = s.d, h = s.h, K = s.K, M = s.M;
  T* w1t = workspace;                 // (M, d, h)
  T* w2t = w1t + M * d * h;           // (M, h, K)
  T* scratch = w2t + M * h * K;       // ranges x (kFmlpChunk, h)
  transpose_weights(w1t, w2t, w1, w2, s);
  const Split sp = split_rows(R);
  const bool parallel = gemm == FmlpGemm::Micro && R * M * h > kParallelMin;
#pragma omp parallel for schedule(static) if (parallel)
  for (long r = 0; r < sp.ranges; ++r) {
    T* hid = scratch + r * kFmlpChunk * h;  // (rows, h): pre, then GELU in place
    for (long c = sp.chunk_begin(r); c < sp.chunk_begin(r + 1); ++c) {
      const long r0 = c * kFmlpChunk, rows = R - r0 < kFmlpChunk ? R - r0 : kFmlpChunk;
      for (long m = 0; m < M; ++m) {
        any_gemm<T>(gemm, hid, h, x + r0 * d, d, 1, w1t + m * d * h, h, b1 + m * h, rows, h, d, false);
        unary_forward(hid, hid, rows * h, UnaryOp::Gelu, T(0));
        any_gemm<T>(gemm, out + (m * R + r0) * K, K, hid, h, 1, w2t + m * h * K, K, b2 + m * K, rows, K, h, false);
      }
    }
  }
}

namespace {

// fmlp_backward for both ways of passing d_out: factor_grad(m) is factor m's (R, K) gradient, or
// nullptr where it is zero.
template <class T, class FactorGrad>
void fmlp_backward_impl(T* d_x, T* d_w1, T* d_b1, T* d_w2, T* d_b2, FactorGrad factor_grad, const T* x,
                        const T* w1, const T* b1, const T* w2, T* workspace, const FmlpSizes& s, FmlpGemm gemm) {
  const long R = s.R, d = s.d, h = s.h, K = s.K, M = s.M;
  const long P = partial_size(s);
  const long range_size = 2 * kFmlpChunk * h + P;
  T* w1t = workspace;               // (M, d, h)
  T* ranges_ws = w1t + M * d * h;   // ranges x [hid, d_pre (kFmlpChunk, h) each, partials (P)]
  transpose_weights<T>(w1t, nullptr, w1, nullptr, s);
  const Split sp = split_rows(R);
  const bool params = d_w1 != nullptr;
  const bool parallel = gemm == FmlpGemm::Micro && R * M * h > kParallelMin;
#pragma omp parallel for schedule(static) if (parallel)
  for (long r = 0; r < sp.ranges; ++r) {
    T* hid = ranges_ws + r * range_size;    // (rows, h): pre, then GELU(pre) in place
    T* d_pre = hid + kFmlpChunk * h;        // (rows, h): d_hid, then d_pre in place
    T* part = d_pre + kFmlpChunk * h;       // (P): dW1 (M, h, d), db1 (M, h), dW2 (M, K, h), db2 (M, K)
    T* p_w1 = part;
    T* p_b1 = p_w1 + M * h * d;
    T* p_w2 = p_b1 + M * h;
    T* p_b2 = p_w2 + M * K * h;
    if (params) std::memset(part, 0, sizeof(T) * size_t(P));
    for (long c = sp.chunk_begin(r); c < sp.chunk_begin(r + 1); ++c) {
      const long r0 = c * kFmlpChunk, rows = R - r0 < kFmlpChunk ? R - r0 : kFmlpChunk;
      const T* x_c = x + r0 * d;  // (rows, d)
      bool d_x_written = false;
      for (long m = 0; m < M; ++m) {
        const T* dy_m = factor_grad(m);
        if (!dy_m) continue;  // a zero gradient contributes nothing
        const T* dy = dy_m + r0 * K;  // (rows, K)
        any_gemm<T>(gemm, hid, h, x_c, d, 1, w1t + m * d * h, h, b1 + m * h, rows, h, d, false);
        any_gemm<T>(gemm, d_pre, h, dy, K, 1, w2 + m * K * h, h, nullptr, rows, h, K, false);
        // GELU and its derivative share one erf: both products above first, then one pass.
        gelu_forward_backward(hid, d_pre, hid, d_pre, rows * h);
        if (d_x) any_gemm<T>(gemm, d_x + r0 * d, d, d_pre, h, 1, w1 + m * h * d, d, nullptr, rows, d, h, d_x_written);
        d_x_written = true;
        if (!params) continue;
        // dW1_m (h, d) += d_pre^T x_c;  dW2_m (K, h) += dy^T hid: A read transposed in place.
        any_gemm<T>(gemm, p_w1 + m * h * d, d, d_pre, 1, h, x_c, d, nullptr, h, d, rows, true);
        any_gemm<T>(gemm, p_w2 + m * K * h, h, dy, 1, K, hid, h, nullptr, K, h, rows, true);
        add_column_sums(p_b1 + m * h, d_pre, rows, h);
        add_column_sums(p_b2 + m * K, dy, rows, K);
      }
      if (d_x && !d_x_written) std::memset(d_x + r0 * d, 0, sizeof(T) * size_t(rows * d));
    }
  }
  if (!params) return;
  // Partials added in range order, each element by one thread.
  T* outs[4] = {d_w1, d_b1, d_w2, d_b2};
  const long sizes[4] = {M * h * d, M * h, M * K * h, M * K};
#pragma omp parallel for schedule(static) if (parallel && P * sp.ranges > kParallelMin)
  for (long e = 0; e < P; ++e) {
    long seg = 0, off = e;
    while (off >= sizes[seg]) off -= sizes[seg++];
    T acc = ranges_ws[2 * kFmlpChunk * h + e];
    for (long r = 1; r < sp.ranges; ++r) acc += ranges_ws[r * range_size + 2 * kFmlpChunk * h + e];
    outs[seg][off] = acc;
  }
}

}  // namespace

template <class T>
void fmlp_backward(T* d_x, T* d_w1, T* d_b1, T* d_w2, T* d_b2, const T* d_out, const T* x, const T* w1,
                   const T* b1, const T* w2, T* workspace, const FmlpSizes& s, FmlpGemm gemm) {
  auto factor_grad = [&](long m) { return d_out + m * s.R * s.K; };
  fmlp_backward_impl(d_x, d_w1, d_b1, d_w2, d_b2, factor_grad, x, w1, b1, w2, workspace, s, gemm);
}

template <class T>
void fmlp_backward(T* d_x, T* d_w1, T* d_b1, T* d_w2, T* d_b2, const T* const* d_outs, const T* x,
                   const T* w1, const T* b1, const T* w2, T* workspace, const FmlpSizes& s, FmlpGemm gemm) {
  auto factor_grad = [&](long m) { return d_outs[m]; };
  fmlp_backward_impl(d_x, d_w1, d_b1, d_w2, d_b2, factor_grad, x, w1, b1, w2, workspace, s, gemm);
}

template <class T>
void fmlp_forward_naive(T* out, const T* x, const T* w1, const T* b1, const T* w2, const T* b2,
                        const FmlpSizes& s) {
  const long R = s.R, d = s.d, h = s.h, K = s.K, M = s.M;
  for (long m = 0; m < M; ++m)
    for (long i = 0; i < R; ++i) {
      T* o = out + (m * R + i) * K;  // (K)
      for (long k = 0; k < K; ++k) o[k] = b2[m * K + k];
      for (long j = 0; j < h; ++j) {
        double pre = b1[m * h + j];
        for (long p = 0; p < d; ++p) pre += double(x[i * d + p]) * double(w1[(m * h + j) * d + p]);
        const T hid = gelu_exact(T(pre));
        for (long k = 0; k < K; ++k) o[k] += hid * w2[(m * K + k) * h + j];
      }
    }
}

template <class T>
void fmlp_backward_naive(T* d_x, T* d_w1, T* d_b1, T* d_w2, T* d_b2, const T* d_out, const T* x,
                         const T* w1, const T* b1, const T* w2, const FmlpSizes& s) {
  const long R = s.R, d = s.d, h = s.h, K = s.K, M = s.M;
  if (d_x) std::memset(d_x, 0, sizeof(T) * size_t(R * d));
  if (d_w1) {
    std::memset(d_w1, 0, sizeof(T) * size_t(M * h * d));
    std::memset(d_b1, 0, sizeof(T) * size_t(M * h));
    std::memset(d_w2, 0, sizeof(T) * size_t(M * K * h));
    std::memset(d_b2, 0, sizeof(T) * size_t(M * K));
  }
  for (long m = 0; m < M; ++m)
    for (long i = 0; i < R; ++i) {
      const T* dy = d_out + (m * R + i) * K;  // (K)
      for (long j = 0; j < h; ++j) {
        double pre = b1[m * h + j];
        for (long p = 0; p < d; ++p) pre += double(x[i * d + p]) * double(w1[(m * h + j) * d + p]);
        double d_hid = 0;
        for (long k = 0; k < K; ++k) d_hid += double(dy[k]) * double(w2[(m * K + k) * h + j]);
        const T d_pre = T(d_hid * double(gelu_grad_exact(T(pre))));
        if (d_x)
          for (long p = 0; p < d; ++p) d_x[i * d + p] += d_pre * w1[(m * h + j) * d + p];
        if (!d_w1) continue;
        for (long p = 0; p < d; ++p) d_w1[(m * h + j) * d + p] += d_pre * x[i * d + p];
        d_b1[m * h + j] += d_pre;
        const T hid = gelu_exact(T(pre));
        for (long k = 0; k < K; ++k) d_w2[(m * K + k) * h + j] += dy[k] * hid;
      }
      if (d_w1)
        for (long k = 0; k < K; ++k) d_b2[m * K + k] += dy[k];
    }
}

#define PMX_INSTANTIATE_FMLP(T)                                                                          \
  template void fmlp_forward<T>(T*, const T*, const T*, const T*, const T*, const T*, T*, const FmlpSizes&, \
                                FmlpGemm);                                                               \
  template void fmlp_backward<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, const T*, T*, \
                                 const FmlpSizes&, FmlpGemm);                                            \
  template void fmlp_backward<T>(T*, T*, T*, T*, T*, const T* const*, const T*, const T*, const T*,    \
                                 const T*, T*, const FmlpSizes&, FmlpGemm);                              \
  template void fmlp_small_gemm<T>(T*, long, const T*, long, long, const T*, long, const T*, long, long, \
                                   long, bool);                                                          \
  template void fmlp_forward_naive<T>(T*, const T*, const T*, const T*, const T*, const T*,              \
                                      const FmlpSizes&);                                                 \
  template void fmlp_backward_naive<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*,       \
                                       const T*, const FmlpSizes&);
PMX_INSTANTIATE_FMLP(float)
PMX_INSTANTIATE_FMLP(double)

}  // namespace pmx::kernels
