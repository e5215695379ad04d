#include "core/random.h"

#include <cmath>

namespace pmx {

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

// Checks that `t` can be filled, then reserves `per_element` counters per element and returns the
// first. Checking first means a refused fill leaves the generator untouched.
static uint64_t reserve(const Tensor& t, Generator& g, uint64_t per_element, const char* op) {
  PMX_CHECK(is_floating(t.dtype()), "[", op, "] expected a floating tensor, got ", dtype_name(t.dtype()));
  PMX_CHECK(t.is_contiguous(), "[", op, "] in-place fill needs a contiguous tensor, got strides ",
            shape_str(t.strides()));
  return g.advance(per_element * uint64_t(t.numel()));
}

template <class T, class F>
static void fill(Tensor& t, F&& value_at) {
  T* p = t.data<T>();
  int64_t n = t.numel();
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) p[i] = T(value_at(i));
}

template <class F>
static void fill_floating(Tensor& t, const char* op, F&& value_at) {
  switch (t.dtype()) {
    case DType::Float32: fill<float>(t, value_at); break;
    case DType::Float64: fill<double>(t, value_at); break;
    default: throw Error(detail::concat("[", op, "] expected a floating tensor, got ", dtype_name(t.dtype())));
  }
}

template <class T>
static void uniform_fill(Tensor& t, double low, double high, uint64_t seed, uint64_t start) {
  fill<T>(t, [=](int64_t i) {
    T v = T(low + (high - low) * random_uniform(seed, start + i));
    // u < 1, but rounding to T can land on high (1 - 2^-25 is 1.0f): step back below it.
    return v >= high && high > low ? std::nextafter(v, T(low)) : v;
  });
}

void uniform_(Tensor& t, double low, double high, Generator& g) {
  uint64_t seed = g.seed(), start = reserve(t, g, 1, "uniform_");
  switch (t.dtype()) {
    case DType::Float32: uniform_fill<float>(t, low, high, seed, start); break;
    case DType::Float64: uniform_fill<double>(t, low, high, seed, start); break;
    default: throw Error(detail::concat("[uniform_] expected a floating tensor, got ", dtype_name(t.dtype())));
  }
}

void normal_(Tensor& t, double mean, double std, Generator& g) {
  uint64_t seed = g.seed(), start = reserve(t, g, 2, "normal_");
  // Box-Muller on two independent uniforms per element; 1 - u keeps the log argument in (0, 1].
  fill_floating(t, "normal_", [=](int64_t i) {
    double u1 = 1.0 - random_uniform(seed, start + 2 * i);
    double u2 = random_uniform(seed, start + 2 * i + 1);
    return mean + std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  });
}

void bernoulli_(Tensor& t, double p, Generator& g) {
  PMX_CHECK(p >= 0 && p <= 1, "[bernoulli_] probability must be in [0, 1], got ", p);
  uint64_t seed = g.seed(), start = reserve(t, g, 1, "bernoulli_");
  fill_floating(t, "bernoulli_", [=](int64_t i) { return random_uniform(seed, start + i) < p ? 1.0 : 0.0; });
}

Tensor rand(const Shape& shape, DType dtype, Generator& g) {
  Tensor t = empty(shape, dtype);
  uniform_(t, 0.0, 1.0, g);
  return t;
}

Tensor randn(const Shape& shape, DType dtype, Generator& g) {
  Tensor t = empty(shape, dtype);
  normal_(t, 0.0, 1.0, g);
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& g) {
  PMX_CHECK(high > low, "[randint] empty range [", low, ", ", high, ")");
  Tensor t = empty(shape, DType::Int64);
  uint64_t seed = g.seed(), start = g.advance(uint64_t(t.numel()));
  uint64_t range = uint64_t(high - low);
  fill<int64_t>(t, [=](int64_t i) { return low + int64_t(random_bits(seed, start + i) % range); });
  return t;
}

std::vector<int64_t> randperm(int64_t n, Generator& g) {
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  uint64_t seed = g.seed(), start = g.advance(n);
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = int64_t(random_bits(seed, start + i) % uint64_t(i + 1));
    std::swap(perm[i], perm[j]);
  }
  return perm;
}

}  // namespace pmx
