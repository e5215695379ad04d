// GELU kernels (kernels/gelu.h): the float path's accuracy against erfc in double, the fused
// forward + backward against the separate ops bit for bit, AVX2 against AVX-512, 1 and 2 threads.
// GELU through the autograd op is tested with the other unary ops (test_ops_elementwise.cpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "autograd/ops_elementwise.h"
#include "core/random.h"
#include "core/threads.h"
#include "kernels/elementwise.h"
#include "kernels/gelu.h"

using namespace pmx;
using kernels::UnaryOp;

namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Restores the thread count when a test ends, however it ends.
struct ThreadCountGuard {
  int previous = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(previous); }
};

}  // namespace

TEST_CASE("gelu: the float GELU matches erfc in double on a fine grid over both tails") {
  // The float GELU (vectorised erf) agrees with the double one to float precision.
  Tensor xf = from_vector(std::vector<float>{-3, -1, -0.25f, 0.5f, 1, 3}, {6});
  std::vector<double> gf = values(gelu(xf)), gd = values(gelu(xf.to(DType::Float64)));
  for (size_t i = 0; i < gf.size(); ++i) CHECK(std::fabs(gf[i] - gd[i]) < 1e-6);
  // ... everywhere on a fine grid over [-20, 20] (both tails, the fit's clamp at |x| = 5.54),
  // forward and backward, against erfc in double.
  const long n = 400001;
  const size_t count = size_t(n);
  std::vector<float> grid(count), ones_f(count, 1.f), y(count), d(count);
  for (long i = 0; i < n; ++i) grid[size_t(i)] = -20.f + 40.f * float(i) / float(n - 1);
  kernels::unary_forward(y.data(), grid.data(), n, UnaryOp::Gelu, 0.f);
  kernels::unary_backward(d.data(), ones_f.data(), grid.data(), y.data(), n, UnaryOp::Gelu, 0.f);
  double worst = 0, worst_d = 0;
  for (long i = 0; i < n; ++i) {
    const double xd = grid[size_t(i)], cdf = 0.5 * std::erfc(-xd / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * xd * xd) / std::sqrt(2 * 3.14159265358979323846);
    worst = std::max(worst, std::fabs(y[size_t(i)] - xd * cdf) / (1 + std::fabs(xd * cdf)));
    worst_d = std::max(worst_d, std::fabs(d[size_t(i)] - (cdf + xd * pdf)));
  }
  CHECK(worst < 1e-6);
  CHECK(worst_d < 1e-6);
  CHECK(y[0] == 0.f);  // gelu(-20) is 0, not a rounding residue
  // The accuracy gelu.h states, region by region: relative for x > 0, absolute where
  // 1 + erf cancels (x < 0), absolute for the derivative.
  double rel_pos = 0, abs_neg = 0, abs_d = 0;
  for (long i = 0; i < n; ++i) {
    const double xd = grid[size_t(i)], cdf = 0.5 * std::erfc(-xd / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * xd * xd) / std::sqrt(2 * 3.14159265358979323846);
    const double err = std::fabs(y[size_t(i)] - xd * cdf);
    if (xd > 0) rel_pos = std::max(rel_pos, err / (xd * cdf));
    if (xd < 0) abs_neg = std::max(abs_neg, err);
    abs_d = std::max(abs_d, std::fabs(d[size_t(i)] - (cdf + xd * pdf)));
  }
  CHECK(rel_pos < 2e-7);
  CHECK(abs_neg < 9e-7);
  CHECK(abs_d < 3e-7);
}

TEST_CASE("gelu: past the erf fit's clamp the float GELU is x or 0 exactly, on both ISAs") {
  // erf(x / sqrt 2) rounds to +-1 in float from x ~ 5.54 on; the vector erf gets there by
  // clamping its argument and its result (kernels/gelu.cpp), so gelu(x) must be x there, and 0
  // for -x, not a rounding residue of the rational fit.
  const float big[] = {5.6f, 6.f, 7.5f, 10.f, 100.f, 1e10f, 1e30f, std::numeric_limits<float>::max(),
                       std::numeric_limits<float>::infinity()};
  std::vector<float> x;
  for (float v : big) x.push_back(v), x.push_back(-v);
  x.pop_back();  // gelu(-inf) is -inf * 0: NaN, as in double
  while (x.size() < 40) x.push_back(x[x.size() % 16]);  // the two-vector loop and a masked tail
  const long n = long(x.size());
  std::vector<float> y(x.size()), ones(x.size(), 1.f), d(x.size());
  for (bool avx512 : {false, true}) {
    CAPTURE(avx512);
    kernels::set_gelu_avx512(avx512);
    kernels::gelu_forward(y.data(), x.data(), n);
    kernels::gelu_forward_backward(y.data(), d.data(), x.data(), ones.data(), n);
    for (size_t i = 0; i < x.size(); ++i) {
      CAPTURE(x[i]);
      CHECK(y[i] == (x[i] > 0 ? x[i] : 0.f));
      if (std::isfinite(x[i])) CHECK(d[i] == doctest::Approx(x[i] > 0 ? 1.0 : 0.0).epsilon(1e-6));
    }
  }
  kernels::set_gelu_avx512(true);
}

TEST_CASE("gelu: a NaN input gives a NaN output and a NaN gradient, on both ISAs and the fused op") {
  // A diverged activation must not come back as a finite gradient: the float path clamps x
  // before the density's exp, and a clamp that returns the bound for NaN made gelu'(NaN) = 1.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x(37, 0.5f);
  for (size_t i : {0, 7, 8, 15, 16, 33, 36}) x[i] = nan;  // first and last lanes, the masked tail
  const long n = long(x.size());
  std::vector<float> y(x.size()), d(x.size()), y2(x.size()), d2(x.size()), ones(x.size(), 1.f);
  for (bool avx512 : {false, true}) {
    CAPTURE(avx512);
    kernels::set_gelu_avx512(avx512);
    kernels::gelu_forward(y.data(), x.data(), n);
    kernels::gelu_backward(d.data(), ones.data(), x.data(), n);
    kernels::gelu_forward_backward(y2.data(), d2.data(), x.data(), ones.data(), n);
    for (size_t i = 0; i < x.size(); ++i) {
      CAPTURE(i);
      CHECK(std::isnan(x[i]) == std::isnan(y[i]));
      CHECK(std::isnan(x[i]) == std::isnan(d[i]));
      CHECK(std::isnan(x[i]) == std::isnan(y2[i]));
      CHECK(std::isnan(x[i]) == std::isnan(d2[i]));
    }
  }
  kernels::set_gelu_avx512(true);
}

TEST_CASE("gelu: gelu_forward_backward gives the bits of the two separate GELU ops") {
  ThreadCountGuard guard;
  auto run = [&](auto zero) {
    using T = decltype(zero);
    const DType dt = dtype_of<T>();
    // 40001 takes the parallel path; the small odd sizes the vector tails (8 and 16 lanes).
    for (long n : {1L, 7L, 9L, 17L, 2047L, 4099L, 40001L}) {
      CAPTURE(n);
      Tensor x = randn({n}, dt) * 4.0, g = randn({n}, dt);
      // Both tails past the erf fit's clamp, and signed zeros.
      const T edges[] = {T(-20), T(20), T(-5.6), T(5.6), T(0), T(-0.0)};
      for (long i = 0; i < n && i < 6; ++i) x.data<T>()[i] = edges[i];
      const size_t count = size_t(n), bytes = sizeof(T) * count;
      std::vector<T> y_sep(count), d_sep(count), y(count), d(count);
      // The reference: the separate ops on the AVX2 path (the AVX-512 one must give its bits).
      kernels::set_gelu_avx512(false);
      kernels::unary_forward(y_sep.data(), x.data<T>(), n, UnaryOp::Gelu, T(0));
      kernels::unary_backward(d_sep.data(), g.data<T>(), x.data<T>(), y_sep.data(), n, UnaryOp::Gelu, T(0));
      for (bool avx512 : {false, true}) {
        CAPTURE(avx512);
        kernels::set_gelu_avx512(avx512);
        for (int threads : {1, 2}) {
          set_num_threads(threads);
          kernels::gelu_forward_backward(y.data(), d.data(), x.data<T>(), g.data<T>(), n);
          CHECK(std::memcmp(y.data(), y_sep.data(), bytes) == 0);
          CHECK(std::memcmp(d.data(), d_sep.data(), bytes) == 0);
          // In place, as fmlp_backward calls it: out over in, d_in over d_out.
          std::vector<T> io(x.data<T>(), x.data<T>() + n), gio(g.data<T>(), g.data<T>() + n);
          kernels::gelu_forward_backward(io.data(), gio.data(), io.data(), gio.data(), n);
          CHECK(std::memcmp(io.data(), y_sep.data(), bytes) == 0);
          CHECK(std::memcmp(gio.data(), d_sep.data(), bytes) == 0);
          // The separate ops themselves, on this ISA.
          kernels::unary_forward(y.data(), x.data<T>(), n, UnaryOp::Gelu, T(0));
          kernels::unary_backward(d.data(), g.data<T>(), x.data<T>(), y.data(), n, UnaryOp::Gelu, T(0));
          CHECK(std::memcmp(y.data(), y_sep.data(), bytes) == 0);
          CHECK(std::memcmp(d.data(), d_sep.data(), bytes) == 0);
          // ... and gelu.h called directly, as unary_forward / unary_backward do.
          kernels::gelu_forward(y.data(), x.data<T>(), n);
          kernels::gelu_backward(d.data(), g.data<T>(), x.data<T>(), n);
          CHECK(std::memcmp(y.data(), y_sep.data(), bytes) == 0);
          CHECK(std::memcmp(d.data(), d_sep.data(), bytes) == 0);
        }
      }
      if constexpr (std::is_same_v<T, double>) {
        // The double path is std::erf and std::exp: the naive twins' values to rounding.
        std::vector<T> y_ref(count), d_ref(count);
        kernels::unary_forward_naive(y_ref.data(), x.data<T>(), n, UnaryOp::Gelu, T(0));
        kernels::unary_backward_naive(d_ref.data(), g.data<T>(), x.data<T>(), y_ref.data(), n, UnaryOp::Gelu, T(0));
        double worst = 0, worst_d = 0;
        for (size_t i = 0; i < count; ++i) {
          worst = std::max(worst, std::fabs(y_sep[i] - y_ref[i]) / (1 + std::fabs(y_ref[i])));
          worst_d = std::max(worst_d, std::fabs(d_sep[i] - d_ref[i]) / (1 + std::fabs(d_ref[i])));
        }
        CHECK(worst < 1e-15);
        CHECK(worst_d < 1e-15);
      }
    }
  };
  INFO("AVX-512 GELU on this CPU: ", kernels::gelu_avx512_active());
  run(float(0));
  run(double(0));
  kernels::set_gelu_avx512(true);
}
