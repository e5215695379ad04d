#include "optim/clip_grad.h"

#include <algorithm>
#include <cmath>

namespace pmx::optim {

static constexpr int64_t kChunk = 4096;

// Sum of squares of g (n), as partial sums over fixed chunks: which thread sums a chunk does not
// change the chunk's value, and the partials are added in chunk order.
template <class T>
static double sum_of_squares(const T* g, int64_t n) {
  int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(size_t(chunks), 0.0);
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t end = std::min(n, (c + 1) * kChunk);
    double s = 0;
    for (int64_t i = c * kChunk; i < end; ++i) s += double(g[i]) * double(g[i]);
    partial[size_t(c)] = s;
  }
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

template <class T>
static void scale(T* g, int64_t n, double factor) {
  const T f = T(factor);
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) g[i] *= f;
}

static double sum_of_squares(const Tensor& t) {
  PMX_CHECK(t.is_contiguous(), "[norm] tensor ", shape_str(t.shape()), " is not contiguous");
  return PMX_DISPATCH_FLOATING(t.dtype(), "norm", [&] { return sum_of_squares(t.data<scalar_t>(), t.numel()); });
}

double global_norm(const std::vector<Tensor>& tensors) {
  double sum = 0;
  for (const Tensor& t : tensors) sum += sum_of_squares(t);
  return std::sqrt(sum);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm) {
  PMX_CHECK(max_norm > 0, "[clip_grad_norm_] max_norm must be positive, got ", max_norm);
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    PMX_CHECK(params[i].defined(), "[clip_grad_norm_] parameter ", i, " is undefined");
    if (!params[i].impl().grad) continue;
    Tensor g(params[i].impl().grad);
    PMX_CHECK(g.is_contiguous(), "[clip_grad_norm_] gradient of parameter ", i, " (", shape_str(g.shape()),
              ") is not contiguous");
    grads.push_back(g);
  }
  const double total = global_norm(grads);
  // An inf total would give factor 0: finite gradients zeroed and the inf ones NaN. Leave a
  // non-finite total's gradients as they are, for the caller to see (see the header).
  if (std::isfinite(total) && total > max_norm) {
    double factor = max_norm / (total + 1e-6);
    for (const Tensor& g : grads)
      PMX_DISPATCH_FLOATING(g.dtype(), "clip_grad_norm_", [&] { scale(g.data<scalar_t>(), g.numel(), factor); });
  }
  return total;
}

}  // namespace pmx::optim
