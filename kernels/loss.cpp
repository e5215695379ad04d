// Loss kernels (see kernels/loss.h for the math and the contracts).
#include "kernels/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pmx {
namespace kernels {

namespace {
constexpr long kParallelElements = 32768;
}

template <class T>
void cross_entropy_forward(T* row_loss, T* probs, const T* logits, const int64_t* targets,
                           long M, long C, int64_t ignore_index) {
#pragma omp parallel for schedule(static) if (M * C > kParallelElements)
  for (long r = 0; r < M; ++r) {
    if (targets[r] == ignore_index) {
      row_loss[r] = 0;
      continue;  // probs of an ignored row are never read
    }
    const T* x = logits + r * C;  // (C)
    T* p = probs + r * C;         // (C)
    T m = -std::numeric_limits<T>::infinity();
    for (long c = 0; c < C; ++c) m = std::max(m, x[c]);
    T s = 0;
    for (long c = 0; c < C; ++c) {
      p[c] = std::exp(x[c] - m);
      s += p[c];
    }
    const T inv = T(1) / s;
    for (long c = 0; c < C; ++c) p[c] *= inv;
    // (m - x_t) + log s: adding log s to m first would round it to the spacing of T near m.
    row_loss[r] = (m - x[targets[r]]) + std::log(s);
  }
}

template <class T>
void cross_entropy_backward(T* d_logits, const T* probs, const int64_t* targets, long M, long C,
                            int64_t ignore_index, double scale) {
  const T s = T(scale);
#pragma omp parallel for schedule(static) if (M * C > kParallelElements)
  for (long r = 0; r < M; ++r) {
    T* d = d_logits + r * C;  // (C)
    if (targets[r] == ignore_index) {
      for (long c = 0; c < C; ++c) d[c] = 0;
      continue;
    }
    const T* p = probs + r * C;  // (C)
    for (long c = 0; c < C; ++c) d[c] = s * p[c];
    d[targets[r]] = s * (p[targets[r]] - T(1));
  }
}

template <class T>
void mse_block_sums(double* block_sums, const T* pred, const T* target, long n) {
  const long blocks = mse_num_blocks(n);
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (long b = 0; b < blocks; ++b) {
    const long end = std::min(n, (b + 1) * kMseBlock);
    double s = 0;
    for (long i = b * kMseBlock; i < end; ++i) {
      const double diff = double(pred[i]) - double(target[i]);
      s += diff * diff;
    }
    block_sums[b] = s;
  }
}

template <class T>
void mse_backward(T* d_pred, T* d_target, const T* pred, const T* target, long n, double scale) {
  const T s = T(scale);
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (long i = 0; i < n; ++i) {
    const T g = s * (pred[i] - target[i]);
    if (d_pred) d_pred[i] = g;
    if (d_target) d_target[i] = -g;
  }
}

template <class T>
void cross_entropy_forward_naive(T* row_loss, T* probs, const T* logits, const int64_t* targets,
                                 long M, long C, int64_t ignore_index) {
  for (long r = 0; r < M; ++r) {
    row_loss[r] = 0;
    if (targets[r] == ignore_index) continue;
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (long c = 0; c < C; ++c) m = std::max(m, double(logits[r * C + c]));
    for (long c = 0; c < C; ++c) s += std::exp(logits[r * C + c] - m);
    for (long c = 0; c < C; ++c) probs[r * C + c] = T(std::exp(logits[r * C + c] - m) / s);
    row_loss[r] = T(m + std::log(s) - logits[r * C + targets[r]]);
  }
}

template <class T>
void cross_entropy_backward_naive(T* d_logits, const T* probs, const int64_t* targets, long M,
                                  long C, int64_t ignore_index, double scale) {
  for (long r = 0; r < M; ++r)
    for (long c = 0; c < C; ++c) {
      const bool kept = targets[r] != ignore_index;
      const double one_hot = c == targets[r] ? 1.0 : 0.0;
      d_logits[r * C + c] = kept ? T(scale * (probs[r * C + c] - one_hot)) : T(0);
    }
}

template <class T>
double mse_sum_naive(const T* pred, const T* target, long n) {
  double s = 0;
  for (long i = 0; i < n; ++i) s += (double(pred[i]) - target[i]) * (double(pred[i]) - target[i]);
  return s;
}

#define PMX_INSTANTIATE_LOSS(T)                                                                  \
  template void cross_entropy_forward<T>(T*, T*, const T*, const int64_t*, long, long, int64_t);  \
  template void cross_entropy_backward<T>(T*, const T*, const int64_t*, long, long, int64_t,     \
                                          double);                                               \
  template void mse_block_sums<T>(double*, const T*, const T*, long);                            \
  template void mse_backward<T>(T*, T*, const T*, const T*, long, double);                       \
  template void cross_entropy_forward_naive<T>(T*, T*, const T*, const int64_t*, long, long,     \
                                               int64_t);                                         \
  template void cross_entropy_backward_naive<T>(T*, const T*, const int64_t*, long, long,        \
                                                int64_t, double);                                \
  template double mse_sum_naive<T>(const T*, const T*, long);
PMX_INSTANTIATE_LOSS(float)
PMX_INSTANTIATE_LOSS(double)
#undef PMX_INSTANTIATE_LOSS

}  // namespace kernels
}  // namespace pmx
