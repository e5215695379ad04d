// Softmax kernels (see kernels/softmax.h for the math and the contracts).
//
// Last-dim path (inner == 1): one row per iteration, rows split statically across threads.
// Middle-dim path (inner > 1): the slice for one (o, j) is strided, so columns are processed in
// blocks of kColumns adjacent j's; each block walks the L rows once per pass reading contiguous
// runs, with its running max/sum in stack arrays. One block is finished by one thread, so each
// output element's arithmetic is the same at any thread count.
#include "kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pmx {
namespace kernels {

namespace {

constexpr long kParallelElements = 32768;
constexpr long kColumns = 16;

// ---- last-dim rows ----

template <class T, bool kLog>
void forward_row(T* y, const T* x, long L) {
  T m = -std::numeric_limits<T>::infinity();
  for (long l = 0; l < L; ++l) m = std::max(m, x[l]);
  T s = 0;
  if (kLog) {
    for (long l = 0; l < L; ++l) s += std::exp(x[l] - m);
    // (x - m) - log s, not x - (m + log s): m + log s would round log s to the spacing of
    // T near m, an error that grows with the logits' magnitude.
    T log_s = std::log(s);
    for (long l = 0; l < L; ++l) y[l] = (x[l] - m) - log_s;
  } else {
    for (long l = 0; l < L; ++l) {
      T e = std::exp(x[l] - m);
      y[l] = e;
      s += e;
    }
    T inv = T(1) / s;
    for (long l = 0; l < L; ++l) y[l] *= inv;
  }
}

template <class T, bool kLog>
void backward_row(T* d_x, const T* d_y, const T* y, long L) {
  T s = 0;
  if (kLog) {
    for (long l = 0; l < L; ++l) s += d_y[l];
    for (long l = 0; l < L; ++l) d_x[l] = d_y[l] - std::exp(y[l]) * s;
  } else {
    for (long l = 0; l < L; ++l) s += d_y[l] * y[l];
    for (long l = 0; l < L; ++l) d_x[l] = y[l] * (d_y[l] - s);
  }
}

// ---- middle-dim column blocks: w adjacent columns j0..j0+w of one outer index ----
// Pointers are at (o, 0, j0); consecutive l are `inner` elements apart.

template <class T, bool kLog>
void forward_block(T* y, const T* x, long L, long inner, long w) {
  T m[kColumns], s[kColumns];
  for (long j = 0; j < w; ++j) m[j] = -std::numeric_limits<T>::infinity(), s[j] = 0;
  for (long l = 0; l < L; ++l)
    for (long j = 0; j < w; ++j) m[j] = std::max(m[j], x[l * inner + j]);
  for (long l = 0; l < L; ++l)
    for (long j = 0; j < w; ++j) {
      T e = std::exp(x[l * inner + j] - m[j]);
      if (!kLog) y[l * inner + j] = e;
      s[j] += e;
    }
  if (kLog) {
    for (long j = 0; j < w; ++j) s[j] = std::log(s[j]);  // (x - m) - log s, as forward_row
    for (long l = 0; l < L; ++l)
      for (long j = 0; j < w; ++j) y[l * inner + j] = (x[l * inner + j] - m[j]) - s[j];
  } else {
    for (long j = 0; j < w; ++j) s[j] = T(1) / s[j];
    for (long l = 0; l < L; ++l)
      for (long j = 0; j < w; ++j) y[l * inner + j] *= s[j];
  }
}

template <class T, bool kLog>
void backward_block(T* d_x, const T* d_y, const T* y, long L, long inner, long w) {
  T s[kColumns];
  for (long j = 0; j < w; ++j) s[j] = 0;
  for (long l = 0; l < L; ++l)
    for (long j = 0; j < w; ++j) s[j] += kLog ? d_y[l * inner + j] : d_y[l * inner + j] * y[l * inner + j];
  for (long l = 0; l < L; ++l)
    for (long j = 0; j < w; ++j) {
      long i = l * inner + j;
      d_x[i] = kLog ? d_y[i] - std::exp(y[i]) * s[j] : y[i] * (d_y[i] - s[j]);
    }
}

template <class T, bool kLog>
void forward_any(T* y, const T* x, long outer, long L, long inner) {
  bool parallel = outer * L * inner > kParallelElements;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (parallel)
    for (long o = 0; o < outer; ++o) forward_row<T, kLog>(y + o * L, x + o * L, L);
    return;
  }
  long blocks = (inner + kColumns - 1) / kColumns;
#pragma omp parallel for schedule(static) if (parallel)
  for (long u = 0; u < outer * blocks; ++u) {
    long o = u / blocks, j0 = (u % blocks) * kColumns;
    long at = o * L * inner + j0;
    forward_block<T, kLog>(y + at, x + at, L, inner, std::min(kColumns, inner - j0));
  }
}

template <class T, bool kLog>
void backward_any(T* d_x, const T* d_y, const T* y, long outer, long L, long inner) {
  bool parallel = outer * L * inner > kParallelElements;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (parallel)
    for (long o = 0; o < outer; ++o) backward_row<T, kLog>(d_x + o * L, d_y + o * L, y + o * L, L);
    return;
  }
  long blocks = (inner + kColumns - 1) / kColumns;
#pragma omp parallel for schedule(static) if (parallel)
  for (long u = 0; u < outer * blocks; ++u) {
    long o = u / blocks, j0 = (u % blocks) * kColumns;
    long at = o * L * inner + j0;
    backward_block<T, kLog>(d_x + at, d_y + at, y + at, L, inner, std::min(kColumns, inner - j0));
  }
}

// ---- naive twins: one slice at a time, indices spelled out, accumulation in double ----

template <class T, bool kLog>
void forward_naive(T* y, const T* x, long outer, long L, long inner) {
  for (long o = 0; o < outer; ++o)
    for (long j = 0; j < inner; ++j) {
      auto at = [&](long l) { return (o * L + l) * inner + j; };
      double m = -std::numeric_limits<double>::infinity(), s = 0;
      for (long l = 0; l < L; ++l) m = std::max(m, double(x[at(l)]));
      for (long l = 0; l < L; ++l) s += std::exp(double(x[at(l)]) - m);
      for (long l = 0; l < L; ++l)
        y[at(l)] = kLog ? T(double(x[at(l)]) - m - std::log(s)) : T(std::exp(double(x[at(l)]) - m) / s);
    }
}

template <class T, bool kLog>
void backward_naive(T* d_x, const T* d_y, const T* y, long outer, long L, long inner) {
  for (long o = 0; o < outer; ++o)
    for (long j = 0; j < inner; ++j) {
      auto at = [&](long l) { return (o * L + l) * inner + j; };
      double s = 0;
      for (long l = 0; l < L; ++l) s += kLog ? double(d_y[at(l)]) : double(d_y[at(l)]) * y[at(l)];
      for (long l = 0; l < L; ++l)
        d_x[at(l)] = kLog ? T(d_y[at(l)] - std::exp(double(y[at(l)])) * s) : T(y[at(l)] * (d_y[at(l)] - s));
    }
}

}  // namespace

template <class T>
void softmax_forward(T* y, const T* x, long outer, long L, long inner) {
  forward_any<T, false>(y, x, outer, L, inner);
}
template <class T>
void log_softmax_forward(T* y, const T* x, long outer, long L, long inner) {
  forward_any<T, true>(y, x, outer, L, inner);
}
template <class T>
void softmax_backward(T* d_x, const T* d_y, const T* y, long outer, long L, long inner) {
  backward_any<T, false>(d_x, d_y, y, outer, L, inner);
}
template <class T>
void log_softmax_backward(T* d_x, const T* d_y, const T* y, long outer, long L, long inner) {
  backward_any<T, true>(d_x, d_y, y, outer, L, inner);
}
template <class T>
void softmax_forward_naive(T* y, const T* x, long outer, long L, long inner) {
  forward_naive<T, false>(y, x, outer, L, inner);
}
template <class T>
void log_softmax_forward_naive(T* y, const T* x, long outer, long L, long inner) {
  forward_naive<T, true>(y, x, outer, L, inner);
}
template <class T>
void softmax_backward_naive(T* d_x, const T* d_y, const T* y, long outer, long L, long inner) {
  backward_naive<T, false>(d_x, d_y, y, outer, L, inner);
}
template <class T>
void log_softmax_backward_naive(T* d_x, const T* d_y, const T* y, long outer, long L, long inner) {
  backward_naive<T, true>(d_x, d_y, y, outer, L, inner);
}

#define PMX_INSTANTIATE_SOFTMAX(T)                                                        \
  template void softmax_forward<T>(T*, const T*, long, long, long);                       \
  template void log_softmax_forward<T>(T*, const T*, long, long, long);                   \
  template void softmax_backward<T>(T*, const T*, const T*, long, long, long);            \
  template void log_softmax_backward<T>(T*, const T*, const T*, long, long, long);        \
  template void softmax_forward_naive<T>(T*, const T*, long, long, long);                 \
  template void log_softmax_forward_naive<T>(T*, const T*, long, long, long);             \
  template void softmax_backward_naive<T>(T*, const T*, const T*, long, long, long);      \
  template void log_softmax_backward_naive<T>(T*, const T*, const T*, long, long, long);
PMX_INSTANTIATE_SOFTMAX(float)
PMX_INSTANTIATE_SOFTMAX(double)
#undef PMX_INSTANTIATE_SOFTMAX

}  // namespace kernels
}  // namespace pmx
