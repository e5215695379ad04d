// Layer-norm kernels (see kernels/layer_norm.h for the math, the parallel split and contracts).
#include "kernels/layer_norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/threads.h"

namespace pmx {
namespace kernels {

namespace {

constexpr long kParallelElements = 32768;

// sum_{j < D} f(j) in 8 interleaved lanes added up in a fixed tree at the end. A plain running
// sum is one long dependency chain the compiler may not reorder; lanes let it use one AVX
// register per step, and the order still depends only on D, never on the thread count.
template <class T, class F>
inline T lane_sum(long D, F f) {
  T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long j = 0;
  for (; j + 8 <= D; j += 8)
    for (int k = 0; k < 8; ++k) acc[k] += f(j + k);
  for (int k = 0; j < D; ++j, ++k) acc[k] += f(j);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace

template <class T>
void layer_norm_forward(T* out, T* mean, T* rstd, const T* x, const T* weight, const T* bias,
                        long rows, long D, double eps) {
#pragma omp parallel for schedule(static) if (rows * D > kParallelElements)
  for (long r = 0; r < rows; ++r) {
    const T* xr = x + r * D;  // (D)
    T* yr = out + r * D;      // (D)
    const T m = lane_sum<T>(D, [&](long j) { return xr[j]; }) / T(D);
    const T v = lane_sum<T>(D, [&](long j) { return (xr[j] - m) * (xr[j] - m); });
    const T rs = T(1) / std::sqrt(v / T(D) + T(eps));
    mean[r] = m;
    rstd[r] = rs;
    if (weight && bias) {
      for (long j = 0; j < D; ++j) yr[j] = (xr[j] - m) * rs * weight[j] + bias[j];
    } else {
      for (long j = 0; j < D; ++j) {
        T h = (xr[j] - m) * rs;
        if (weight) h *= weight[j];
        if (bias) h += bias[j];
        yr[j] = h;
      }
    }
  }
}

template <class T>
void layer_norm_backward(T* d_x, T* d_weight, T* d_bias, const T* d_out, const T* x,
                         const T* weight, const T* mean, const T* rstd, long rows, long D) {
  const bool parallel = rows * D > kParallelElements;
  if (d_x) {
#pragma omp parallel for schedule(static) if (parallel)
    for (long r = 0; r < rows; ++r) {
      const T* xr = x + r * D;       // (D)
      const T* gr = d_out + r * D;   // (D)
      T* dr = d_x + r * D;           // (D)
      const T m = mean[r], rs = rstd[r];
      const T sum_g = weight ? lane_sum<T>(D, [&](long j) { return gr[j] * weight[j]; })
                             : lane_sum<T>(D, [&](long j) { return gr[j]; });
      const T sum_gx = weight ? lane_sum<T>(D, [&](long j) { return gr[j] * weight[j] * (xr[j] - m); }) * rs
                              : lane_sum<T>(D, [&](long j) { return gr[j] * (xr[j] - m); }) * rs;
      const T mean_g = sum_g / T(D), mean_gx = sum_gx / T(D);
      for (long j = 0; j < D; ++j) {
        const T g = weight ? gr[j] * weight[j] : gr[j];
        dr[j] = rs * (g - mean_g - (xr[j] - m) * rs * mean_gx);
      }
    }
  }
  if (!d_weight && !d_bias) return;
  // Column split in cache-line chunks: each d_weight[j] is summed over rows by one thread.
  const long chunk = std::max<long>(1, 64 / long(sizeof(T)));
  const long chunks = (D + chunk - 1) / chunk;
#pragma omp parallel if (parallel)
  {
    long first, last;
    thread_range(chunks, omp_get_thread_num(), omp_get_num_threads(), &first, &last);
    const long c0 = std::min(D, first * chunk), c1 = std::min(D, last * chunk);
    for (long j = c0; j < c1; ++j) {
      if (d_weight) d_weight[j] = 0;
      if (d_bias) d_bias[j] = 0;
    }
    for (long r = 0; r < rows; ++r) {
      const T* xr = x + r * D;
      const T* gr = d_out + r * D;
      const T m = mean[r], rs = rstd[r];
      if (d_weight)
        for (long j = c0; j < c1; ++j) d_weight[j] += gr[j] * (xr[j] - m) * rs;
      if (d_bias)
        for (long j = c0; j < c1; ++j) d_bias[j] += gr[j];
    }
  }
}

template <class T>
void layer_norm_forward_naive(T* out, T* mean, T* rstd, const T* x, const T* weight,
                              const T* bias, long rows, long D, double eps) {
  for (long r = 0; r < rows; ++r) {
    double m = 0, v = 0;
    for (long j = 0; j < D; ++j) m += x[r * D + j];
    m /= double(D);
    for (long j = 0; j < D; ++j) v += (x[r * D + j] - m) * (x[r * D + j] - m);
    v /= double(D);
    const double rs = 1.0 / std::sqrt(v + eps);
    mean[r] = T(m);
    rstd[r] = T(rs);
    for (long j = 0; j < D; ++j)
      out[r * D + j] = T((x[r * D + j] - m) * rs * (weight ? double(weight[j]) : 1.0) +
                         (bias ? double(bias[j]) : 0.0));
  }
}

template <class T>
void layer_norm_backward_naive(T* d_x, T* d_weight, T* d_bias, const T* d_out, const T* x,
                               const T* weight, const T* mean, const T* rstd, long rows, long D) {
  for (long j = 0; j < D; ++j) {
    if (d_weight) d_weight[j] = 0;
    if (d_bias) d_bias[j] = 0;
  }
  for (long r = 0; r < rows; ++r) {
    auto xhat = [&](long j) { return (double(x[r * D + j]) - mean[r]) * rstd[r]; };
    auto g = [&](long j) { return double(d_out[r * D + j]) * (weight ? double(weight[j]) : 1.0); };
    double mean_g = 0, mean_gx = 0;
    for (long j = 0; j < D; ++j) mean_g += g(j) / double(D), mean_gx += g(j) * xhat(j) / double(D);
    for (long j = 0; j < D; ++j) {
      if (d_x) d_x[r * D + j] = T(rstd[r] * (g(j) - mean_g - xhat(j) * mean_gx));
      if (d_weight) d_weight[j] += T(d_out[r * D + j] * xhat(j));
      if (d_bias) d_bias[j] += d_out[r * D + j];
    }
  }
}

#define PMX_INSTANTIATE_LAYER_NORM(T)                                                          \
  template void layer_norm_forward<T>(T*, T*, T*, const T*, const T*, const T*, long, long, double); \
  template void layer_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,      \
                                       const T*, long, long);                                   \
  template void layer_norm_forward_naive<T>(T*, T*, T*, const T*, const T*, const T*, long, long, \
                                            double);                                            \
  template void layer_norm_backward_naive<T>(T*, T*, T*, const T*, const T*, const T*, const T*, \
                                             const T*, long, long);
PMX_INSTANTIATE_LAYER_NORM(float)
PMX_INSTANTIATE_LAYER_NORM(double)
#undef PMX_INSTANTIATE_LAYER_NORM

}  // namespace kernels
}  // namespace pmx
