// Dropout kernels (see kernels/dropout.h for the math and the contracts).
#include "kernels/dropout.h"

#include <cmath>

#include "core/random.h"

namespace pmx {
namespace kernels {

namespace {
constexpr long kParallelElements = 16384;
}

template <class T>
void dropout_apply(T* out, const T* in, long n, double p, uint64_t seed, uint64_t start) {
  // u = k / 2^53 >= p  <=>  k >= p * 2^53  <=>  k >= ceil(p * 2^53)   (k integer, p * 2^53 exact)
  const uint64_t threshold = uint64_t(std::ceil(p * 9007199254740992.0));
  const T scale = T(1.0 / (1.0 - p));
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (long i = 0; i < n; ++i) {
    const bool keep = (random_bits(seed, start + uint64_t(i)) >> 11) >= threshold;
    out[i] = keep ? in[i] * scale : T(0);
  }
}

template <class T>
void dropout_apply_naive(T* out, const T* in, long n, double p, uint64_t seed, uint64_t start) {
  for (long i = 0; i < n; ++i)
    out[i] = random_uniform(seed, start + uint64_t(i)) >= p ? in[i] * T(1.0 / (1.0 - p)) : T(0);
}

template void dropout_apply<float>(float*, const float*, long, double, uint64_t, uint64_t);
template void dropout_apply<double>(double*, const double*, long, double, uint64_t, uint64_t);
template void dropout_apply_naive<float>(float*, const float*, long, double, uint64_t, uint64_t);
template void dropout_apply_naive<double>(double*, const double*, long, double, uint64_t, uint64_t);

}  // namespace kernels
}  // namespace pmx
