#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels/attention_small_head_layout.h"
#include "kernels/attention_tiled_layout.h"
#include "kernels/blas.h"
#include "kernels/cpu_features.h"
#include "kernels/exp_avx2.h"

namespace pmx::kernels {

namespace detail {
// Defined in kernels/attention_avx512.cpp (compiled for AVX-512F): exp_shifted<float>'s contract
// and bits, 16 lanes at a time.
float exp_shifted_avx512(float* x, int64_t n, float shift);
// The float kernels' entry points: attention_forward/backward's contract (kernels/attention.h)
// without `block`, which they do not use.
using ForwardKernel = void(float* out, int64_t ld_out, float* stats, const float* q, const float* k, const float* v,
                           int64_t ld, int64_t N, int64_t dh, float scale, float* scratch);
using BackwardKernel = void(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out,
                            int64_t ld_out, const float* stats, const float* q, const float* k, const float* v,
                            int64_t ld, int64_t N, int64_t dh, float scale, float* scratch);
// Defined in kernels/attention_small_head_avx512.cpp and _avx2.cpp: float heads of dh <= kSmallHead,
// 16 or 8 keys per vector.
ForwardKernel attention_forward_small_head_avx512, attention_forward_small_head_avx2;
BackwardKernel attention_backward_small_head_avx512, attention_backward_small_head_avx2;
// Defined in kernels/attention_tiled_avx512.cpp and _avx2.cpp: float heads of 32 to 128 (AVX2: 64)
// channels, multiples of 16.
ForwardKernel attention_forward_tiled_avx512, attention_forward_tiled_avx2;
BackwardKernel attention_backward_tiled_avx512, attention_backward_tiled_avx2;
}  // namespace detail

namespace {

bool g_attention_avx512_allowed = true;
AttentionKernel g_attention_small_head = AttentionKernel::kAuto;
AttentionKernel g_attention_tiled = AttentionKernel::kAuto;

// Head sizes the tiled kernel is built for, whether or not it runs.
bool tiled_head(int64_t dh) { return dh >= kTiledHeadMin && dh <= kTiledHeadMax && dh % 16 == 0; }

// The row passes of the softmax. They touch every one of the N^2 scores once or twice, and with
// a head size of 8 there are only 16 FMAs of GEMM work per score, so a scalar std::exp here costs
// more than both GEMMs together. Float rows run 8 lanes at a time (exp_avx2, ~1 ulp), double
// rows (gradchecks) plain loops. Every row is summed in one fixed order, whatever the thread count.

// max_j x[j]
template <class T>
T row_max(const T* x, int64_t n) {
  T top = x[0];
  for (int64_t j = 1; j < n; ++j) top = std::max(top, x[j]);
  return top;
}

// x[j] = exp(x[j] - shift) for all j; returns their sum (the backward ignores it).
template <class T>
T exp_shifted(T* x, int64_t n, T shift) {
  T total = 0;
  for (int64_t j = 0; j < n; ++j) total += (x[j] = std::exp(x[j] - shift));
  return total;
}

// x[j] *= factor for all j: the normalisation, one multiply per score in forward and backward
// alike, so the backward's probabilities are the forward's bits.
template <class T>
void scale_row(T* x, int64_t n, T factor) {
  for (int64_t j = 0; j < n; ++j) x[j] *= factor;
}

#ifdef PMX_EXP_AVX2
template <>
float row_max<float>(const float* x, int64_t n) {
  int64_t j = 0;
  float top = x[0];
  if (n >= 8) {
    __m256 m = _mm256_loadu_ps(x);
    for (j = 8; j + 8 <= n; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + j));
    top = horizontal_max8(m);
  }
  for (; j < n; ++j) top = std::max(top, x[j]);
  return top;
}

template <>
float exp_shifted<float>(float* x, int64_t n, float shift) {
  if (attention_avx512_active()) return detail::exp_shifted_avx512(x, n, shift);
  const __m256 s = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + j), s));
    _mm256_storeu_ps(x + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float total = horizontal_sum8(acc);
  for (; j < n; ++j) {
    x[j] = std::exp(x[j] - shift);
    total += x[j];
  }
  return total;
}
#endif

}  // namespace

void set_attention_avx512(bool allowed) { g_attention_avx512_allowed = allowed; }
bool attention_avx512_active() { return g_attention_avx512_allowed && cpu_has_avx512f(); }

void set_attention_small_head(AttentionKernel where) { g_attention_small_head = where; }

// kAuto's rules (kernels/attention.h): how far each kernel beat the GEMM path depended on
// whether OpenBLAS's kernels were as wide as the kernel's own vectors.
bool attention_small_head_active(int64_t dh) {
  if (g_attention_small_head == AttentionKernel::kOff || dh > kSmallHead) return false;
  const bool everywhere = g_attention_small_head == AttentionKernel::kEverywhere;
  if (attention_avx512_active()) return everywhere || blas_fma_bits() < 512 || dh <= kSmallHeadFma;
#ifdef PMX_EXP_AVX2
  return everywhere || blas_fma_bits() == 0 || dh <= kSmallHeadFmaAvx2;
#else
  return false;
#endif
}

void set_attention_tiled(AttentionKernel where) { g_attention_tiled = where; }

bool attention_tiled_active(int64_t dh) {
  if (g_attention_tiled == AttentionKernel::kOff || !tiled_head(dh)) return false;
  const bool everywhere = g_attention_tiled == AttentionKernel::kEverywhere || blas_fma_bits() == 0;
  if (attention_avx512_active())
    return everywhere || dh == 32 || (blas_fma_bits() < 512 && dh <= kTiledHeadAgainstAvx2);
#ifdef PMX_EXP_AVX2
  return everywhere && dh <= kTiledHeadMaxAvx2;
#else
  return false;
#endif
}

namespace {

// The float kernel that runs for dh, or none (the GEMM path).
struct FloatKernel {
  detail::ForwardKernel* forward = nullptr;
  detail::BackwardKernel* backward = nullptr;
};

FloatKernel float_kernel(int64_t dh) {
  const bool wide = attention_avx512_active();
  if (attention_small_head_active(dh)) {
    if (wide) return {detail::attention_forward_small_head_avx512, detail::attention_backward_small_head_avx512};
#ifdef PMX_EXP_AVX2
    return {detail::attention_forward_small_head_avx2, detail::attention_backward_small_head_avx2};
#endif
  }
  if (attention_tiled_active(dh)) {
    if (wide) return {detail::attention_forward_tiled_avx512, detail::attention_backward_tiled_avx512};
#ifdef PMX_EXP_AVX2
    return {detail::attention_forward_tiled_avx2, detail::attention_backward_tiled_avx2};
#endif
  }
  return {};
}

}  // namespace

int64_t attention_scratch_size(int64_t N, int64_t dh, int64_t block) {
  const int64_t small_head = dh <= kSmallHead ? detail::small_head::scratch_floats(N, dh) : 0;
  const int64_t tiled = tiled_head(dh) ? detail::tiled::scratch_floats(N, dh) : 0;
  return std::max({2 * block * N + block, small_head, tiled});
}

template <class T>
void attention_forward(T* out, int64_t ld_out, T* stats, const T* q, const T* k, const T* v, int64_t ld,
                       int64_t N, int64_t dh, T scale, T* scratch, int64_t block) {
  if constexpr (std::is_same_v<T, float>)
    if (const FloatKernel kernel = float_kernel(dh); kernel.forward)
      return kernel.forward(out, ld_out, stats, q, k, v, ld, N, dh, scale, scratch);
  T* scores = scratch;  // (block, N)
  for (int64_t r0 = 0; r0 < N; r0 += block) {
    const int64_t rb = std::min(block, N - r0);
    gemm(false, true, rb, N, dh, scale, q + r0 * ld, ld, k, ld, T(0), scores, N);
    for (int64_t i = 0; i < rb; ++i) {
      T* row = scores + i * N;
      const T top = row_max(row, N);
      const T inv = T(1) / exp_shifted(row, N, top);
      scale_row(row, N, inv);
      stats[2 * (r0 + i)] = top;
      stats[2 * (r0 + i) + 1] = inv;
    }
    gemm(false, false, rb, dh, N, T(1), scores, N, v, ld, T(0), out + r0 * ld_out, ld_out);
  }
}

template <class T>
void attention_backward(T* d_q, T* d_k, T* d_v, const T* d_out, const T* out, int64_t ld_out, const T* stats,
                        const T* q, const T* k, const T* v, int64_t ld, int64_t N, int64_t dh, T scale,
                        T* scratch, int64_t block) {
  if constexpr (std::is_same_v<T, float>)
    if (const FloatKernel kernel = float_kernel(dh); kernel.backward)
      return kernel.backward(d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, dh, scale, scratch);
  T* probs = scratch;                   // (block, N), rebuilt from the stats as the forward made them
  T* d_scores = scratch + block * N;    // (block, N): dP, then dS in place
  T* row_dot = scratch + 2 * block * N; // (block): D_i = <dO_i, O_i>
  for (int64_t r0 = 0; r0 < N; r0 += block) {
    const int64_t rb = std::min(block, N - r0);
    const T* d_out_blk = d_out + r0 * ld_out;
    gemm(false, true, rb, N, dh, scale, q + r0 * ld, ld, k, ld, T(0), probs, N);
    gemm(false, true, rb, N, dh, T(1), d_out_blk, ld_out, v, ld, T(0), d_scores, N);
    for (int64_t i = 0; i < rb; ++i) {
      T dot = 0;
      for (int64_t c = 0; c < dh; ++c) dot += d_out_blk[i * ld_out + c] * out[(r0 + i) * ld_out + c];
      row_dot[i] = dot;
      exp_shifted(probs + i * N, N, stats[2 * (r0 + i)]);
      scale_row(probs + i * N, N, stats[2 * (r0 + i) + 1]);
    }
    gemm(true, false, N, dh, rb, T(1), probs, N, d_out_blk, ld_out, T(1), d_v, ld);
    for (int64_t i = 0; i < rb; ++i) {
      const T* p = probs + i * N;
      T* ds = d_scores + i * N;
      for (int64_t j = 0; j < N; ++j) ds[j] = p[j] * (ds[j] - row_dot[i]);
    }
    gemm(false, false, rb, dh, N, scale, d_scores, N, k, ld, T(0), d_q + r0 * ld, ld);
    gemm(true, false, N, dh, rb, scale, d_scores, N, q + r0 * ld, ld, T(1), d_k, ld);
  }
}

template <class T>
void attention_forward_naive(T* out, int64_t ld_out, T* stats, const T* q, const T* k, const T* v, int64_t ld,
                             int64_t N, int64_t dh, T scale) {
  std::vector<double> s(N);
  for (int64_t i = 0; i < N; ++i) {
    double top = -INFINITY, total = 0;
    for (int64_t j = 0; j < N; ++j) {
      double dot = 0;
      for (int64_t c = 0; c < dh; ++c) dot += double(q[i * ld + c]) * k[j * ld + c];
      s[j] = dot * scale;
      top = std::max(top, s[j]);
    }
    for (int64_t j = 0; j < N; ++j) total += std::exp(s[j] - top);
    stats[2 * i] = T(top);
    stats[2 * i + 1] = T(1 / total);
    for (int64_t c = 0; c < dh; ++c) {
      double acc = 0;
      for (int64_t j = 0; j < N; ++j) acc += std::exp(s[j] - top) / total * v[j * ld + c];
      out[i * ld_out + c] = T(acc);
    }
  }
}

template <class T>
void attention_backward_naive(T* d_q, T* d_k, T* d_v, const T* d_out, const T* out, int64_t ld_out,
                              const T* stats, const T* q, const T* k, const T* v, int64_t ld, int64_t N,
                              int64_t dh, T scale) {
  for (int64_t i = 0; i < N; ++i) {
    double row_dot = 0;
    for (int64_t c = 0; c < dh; ++c) row_dot += double(d_out[i * ld_out + c]) * out[i * ld_out + c];
    std::vector<double> dq(dh, 0.0);
    for (int64_t j = 0; j < N; ++j) {
      double s = 0, dp = 0;
      for (int64_t c = 0; c < dh; ++c) {
        s += double(q[i * ld + c]) * k[j * ld + c];
        dp += double(d_out[i * ld_out + c]) * v[j * ld + c];
      }
      const double p = std::exp(s * scale - stats[2 * i]) * stats[2 * i + 1];
      const double ds = p * (dp - row_dot);
      for (int64_t c = 0; c < dh; ++c) {
        d_v[j * ld + c] += T(p * d_out[i * ld_out + c]);
        d_k[j * ld + c] += T(scale * ds * q[i * ld + c]);
        dq[c] += scale * ds * k[j * ld + c];
      }
    }
    for (int64_t c = 0; c < dh; ++c) d_q[i * ld + c] = T(dq[c]);
  }
}

#define PMX_ATTENTION_INSTANTIATE(T)                                                                        \
  template void attention_forward<T>(T*, int64_t, T*, const T*, const T*, const T*, int64_t, int64_t,       \
                                     int64_t, T, T*, int64_t);                                              \
  template void attention_backward<T>(T*, T*, T*, const T*, const T*, int64_t, const T*, const T*,          \
                                      const T*, const T*, int64_t, int64_t, int64_t, T, T*, int64_t);       \
  template void attention_forward_naive<T>(T*, int64_t, T*, const T*, const T*, const T*, int64_t,          \
                                           int64_t, int64_t, T);                                            \
  template void attention_backward_naive<T>(T*, T*, T*, const T*, const T*, int64_t, const T*, const T*,    \
                                            const T*, const T*, int64_t, int64_t, int64_t, T);
PMX_ATTENTION_INSTANTIATE(float)
PMX_ATTENTION_INSTANTIATE(double)
#undef PMX_ATTENTION_INSTANTIATE

}  // namespace pmx::kernels
