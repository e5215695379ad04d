// Naive twins of the mixing kernels: the formulas of kernels/mixing.h as the obvious loops,
// single-threaded, no SIMD. They are the reference the fast kernels are tested against.
#include "kernels/mixing.h"

namespace pmx {
namespace kernels {

namespace {
inline long wrap(long a, long n) { return ((a % n) + n) % n; }
}  // namespace

template <class T>
void mix_forward_naive(T* out, const T* v, const T* w, const long* offsets, long K, long B,
                       long N, long d) {
  for (long b = 0; b < B; ++b) {
    const T* vb = v + b * N * d;  // (N, d)
    const T* wb = w + b * N * K;  // (N, K)
    T* ob = out + b * N * d;      // (N, d)
    for (long i = 0; i < N; ++i)
      for (long c = 0; c < d; ++c) {
        T acc = vb[i * d + c];
        for (long k = 0; k < K; ++k) acc += wb[i * K + k] * vb[wrap(i + offsets[k], N) * d + c];
        ob[i * d + c] = acc;
      }
  }
}

template <class T>
void mix_backward_naive(T* d_v, T* d_w, const T* d_out, const T* v, const T* w,
                        const long* offsets, long K, long B, long N, long d) {
  for (long b = 0; b < B; ++b) {
    const T* gb = d_out + b * N * d;  // (N, d)
    const T* vb = v + b * N * d;      // (N, d)
    const T* wb = w + b * N * K;      // (N, K)
    if (d_w) {
      T* dwb = d_w + b * N * K;  // (N, K)
      for (long i = 0; i < N; ++i)
        for (long k = 0; k < K; ++k) {
          const T* src = vb + wrap(i + offsets[k], N) * d;
          T acc = 0;
          for (long c = 0; c < d; ++c) acc += gb[i * d + c] * src[c];
          dwb[i * K + k] = acc;
        }
    }
    if (d_v) {
      T* dvb = d_v + b * N * d;  // (N, d)
      for (long j = 0; j < N; ++j)
        for (long c = 0; c < d; ++c) {
          T acc = gb[j * d + c];
          for (long k = 0; k < K; ++k) {
            long i = wrap(j - offsets[k], N);  // the row whose slot k points at j
            acc += wb[i * K + k] * gb[i * d + c];
          }
          dvb[j * d + c] = acc;
        }
    }
  }
}

#define PMX_INSTANTIATE(T)                                                                    \
  template void mix_forward_naive<T>(T*, const T*, const T*, const long*, long, long, long,   \
                                     long);                                                   \
  template void mix_backward_naive<T>(T*, T*, const T*, const T*, const T*, const long*, long, \
                                      long, long, long);
PMX_INSTANTIATE(float)
PMX_INSTANTIATE(double)
#undef PMX_INSTANTIATE

}  // namespace kernels
}  // namespace pmx
