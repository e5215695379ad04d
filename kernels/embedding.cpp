// Embedding kernels (see kernels/embedding.h for the math, the parallel split and contracts).
#include "kernels/embedding.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/threads.h"

namespace pmx {
namespace kernels {

namespace {
constexpr long kParallelElements = 32768;
}

template <class T>
void embedding_forward(T* out, const T* weight, const int64_t* ids, long n, long d) {
#pragma omp parallel for schedule(static) if (n * d > kParallelElements)
  for (long i = 0; i < n; ++i) std::memcpy(out + i * d, weight + ids[i] * d, sizeof(T) * d);
}

template <class T>
void embedding_backward(T* d_weight, const T* d_out, const int64_t* ids, long n, long V, long d,
                        long padding_idx) {
  // Columns are handed out in whole cache lines so two threads never write the same line. When
  // d has fewer lines than there are threads, threads own ranges of vocabulary rows instead.
  // Either way each element is summed by one thread in id order, so the bits are the same.
  const long chunk = std::max<long>(1, 64 / long(sizeof(T)));
  const long chunks = (d + chunk - 1) / chunk;
#pragma omp parallel if ((n + V) * d > kParallelElements)
  {
    const int ith = omp_get_thread_num(), nth = omp_get_num_threads();
    long c0 = 0, c1 = d, v0 = 0, v1 = V;
    if (chunks >= nth) {
      thread_range(chunks, ith, nth, &c0, &c1);
      c0 = std::min(d, c0 * chunk);
      c1 = std::min(d, c1 * chunk);
    } else {
      thread_range(V, ith, nth, &v0, &v1);
    }
    const long w = c1 - c0;
    for (long v = v0; v < v1; ++v) std::memset(d_weight + v * d + c0, 0, sizeof(T) * w);
    for (long i = 0; i < n; ++i) {
      const long v = long(ids[i]);
      if (v < v0 || v >= v1 || v == padding_idx) continue;
      T* dst = d_weight + v * d + c0;
      const T* src = d_out + i * d + c0;
      for (long j = 0; j < w; ++j) dst[j] += src[j];
    }
  }
}

template <class T>
void embedding_forward_naive(T* out, const T* weight, const int64_t* ids, long n, long d) {
  for (long i = 0; i < n; ++i)
    for (long j = 0; j < d; ++j) out[i * d + j] = weight[ids[i] * d + j];
}

template <class T>
void embedding_backward_naive(T* d_weight, const T* d_out, const int64_t* ids, long n, long V,
                              long d, long padding_idx) {
  for (long k = 0; k < V * d; ++k) d_weight[k] = 0;
  for (long i = 0; i < n; ++i) {
    if (ids[i] == padding_idx) continue;
    for (long j = 0; j < d; ++j) d_weight[ids[i] * d + j] += d_out[i * d + j];
  }
}

#define PMX_INSTANTIATE_EMBEDDING(T)                                                       \
  template void embedding_forward<T>(T*, const T*, const int64_t*, long, long);            \
  template void embedding_backward<T>(T*, const T*, const int64_t*, long, long, long, long); \
  template void embedding_forward_naive<T>(T*, const T*, const int64_t*, long, long);      \
  template void embedding_backward_naive<T>(T*, const T*, const int64_t*, long, long, long, long);
PMX_INSTANTIATE_EMBEDDING(float)
PMX_INSTANTIATE_EMBEDDING(double)
#undef PMX_INSTANTIATE_EMBEDDING

}  // namespace kernels
}  // namespace pmx
