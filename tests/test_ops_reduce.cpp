// Reductions: hand-computed values, float64 gradient checks, kernels against naive twins,
// thread-count invariance, double accumulation, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "autograd/gradcheck.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "core/random.h"
#include "core/threads.h"
#include "kernels/reduce.h"

using namespace pmx;

namespace {

Tensor leaf64(const Shape& s) { return randn(s, DType::Float64).set_requires_grad(true); }
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

void check_grad(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in,
                const char* what) {
  GradcheckResult r = gradcheck(f, in);
  CHECK_MESSAGE(r.ok, what, ": ", r.message);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.storage()->data(), b.storage()->data(), size_t(a.numel()) * dtype_size(a.dtype())) == 0;
}

struct ThreadCountGuard {
  int previous = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(previous); }
};

}  // namespace

TEST_CASE("reduce: sum, mean, max, argmax give hand-computed values") {
  // x = [[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11]]]: (2, 2, 3)
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[size_t(i)] = float(i);
  Tensor x = from_vector(v, {2, 2, 3});
  CHECK(sum(x).shape() == Shape{});
  CHECK(sum(x).item() == 66);
  CHECK(values(sum(x, 0)) == std::vector<double>{6, 8, 10, 12, 14, 16});
  CHECK(values(sum(x, 1)) == std::vector<double>{3, 5, 7, 15, 17, 19});
  CHECK(values(sum(x, -1)) == std::vector<double>{3, 12, 21, 30});
  CHECK(sum(x, 1, /*keepdim=*/true).shape() == Shape{2, 1, 3});
  CHECK(values(sum(x, {0, 2})) == std::vector<double>{24, 42});  // two separate runs of dims
  CHECK(sum(x, {0, 2}, true).shape() == Shape{1, 2, 1});
  CHECK(values(sum(x, {1, 2})) == std::vector<double>{15, 51});
  CHECK(mean(x).item() == 5.5);
  CHECK(values(mean(x, 2)) == std::vector<double>{1, 4, 7, 10});
  CHECK(values(max(x, 1)) == std::vector<double>{3, 4, 5, 9, 10, 11});
  CHECK(argmax(x, 2).to_vector<int64_t>() == std::vector<int64_t>{2, 2, 2, 2});
  CHECK(argmax(x, 0, true).shape() == Shape{1, 2, 3});
  CHECK(argmax(x, 0).dtype() == DType::Int64);
  // Ties go to the first maximal element; NaN counts as the maximum.
  Tensor t = from_vector(std::vector<float>{1, 5, 5, 2, std::nanf(""), 3}, {2, 3});
  CHECK(argmax(t, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 1});
  CHECK(std::isnan(values(max(t, 1))[1]));
  // The same on rows long enough for the vectorised scan: ties, -0 vs +0, a NaN late in a row.
  std::vector<float> row(40, -1.f);
  row[5] = 7, row[33] = 7, row[20] = -0.f;
  CHECK(argmax(from_vector(row, {40}), 0).to_vector<int64_t>()[0] == 5);
  row[37] = std::nanf("");
  CHECK(argmax(from_vector(row, {40}), 0).to_vector<int64_t>()[0] == 37);
  std::vector<float> zeros_row(17, 0.f);
  zeros_row[0] = -0.f;
  CHECK(argmax(from_vector(zeros_row, {17}), 0).to_vector<int64_t>()[0] == 0);
  // Sums of a transposed view read through its strides.
  CHECK(values(sum(transpose(x, 0, 2), 0)) == std::vector<double>{3, 21, 12, 30});
  CHECK(sum(scalar(3.f)).item() == 3);
  CHECK(sum(zeros({0, 3}), 0).to_vector<double>() == std::vector<double>{0, 0, 0});
}

TEST_CASE("reduce: float sums accumulate in double") {
  // In float, 1e8 + 1 == 1e8; a float accumulator would drop all the ones.
  std::vector<float> v(1001, 1.f);
  v[0] = 1e8f;
  CHECK(sum(from_vector(v, {1001})).item() == 100001000.0);
  CHECK(sum(from_vector(v, {1001, 1}), 0).item() == 100001000.0);
}

TEST_CASE("reduce: gradcheck every reduction") {
  check_grad([](auto& in) { return sum(in[0]); }, {leaf64({3, 4})}, "sum all");
  check_grad([](auto& in) { return sum(in[0], 1); }, {leaf64({3, 4, 5})}, "sum dim");
  check_grad([](auto& in) { return sum(in[0], -1, true); }, {leaf64({3, 4, 5})}, "sum keepdim");
  check_grad([](auto& in) { return sum(in[0], {0, 2}); }, {leaf64({3, 4, 5})}, "sum dims");
  check_grad([](auto& in) { return sum(in[0], {2, 0}, true); }, {leaf64({3, 4, 5})}, "sum dims keepdim");
  check_grad([](auto& in) { return sum(transpose(in[0], 0, 1), 0); }, {leaf64({3, 4})}, "sum transposed");
  check_grad([](auto& in) { return mean(in[0]); }, {leaf64({3, 4})}, "mean all");
  check_grad([](auto& in) { return mean(in[0], 0, true); }, {leaf64({3, 4})}, "mean dim");
  check_grad([](auto& in) { return max(in[0], 1); }, {leaf64({3, 4, 5})}, "max");
  check_grad([](auto& in) { return max(in[0], 0, true); }, {leaf64({3, 4})}, "max keepdim");
  check_grad([](auto& in) { return max(transpose(in[0], 0, 1), 1); }, {leaf64({5, 3})}, "max transposed");
  check_grad([](auto& in) { return reduce_to_shape(in[0], {3, 1}); }, {leaf64({2, 3, 4})}, "reduce_to_shape");
}

TEST_CASE("reduce: the gradient of max goes to the first maximal element only") {
  Tensor x = from_vector(std::vector<double>{1, 4, 4, 0}, {1, 4}).set_requires_grad(true);
  max(x, 1).backward(from_vector(std::vector<double>{2}, {1}));
  CHECK(values(x.grad()) == std::vector<double>{0, 2, 0, 0});
  CHECK_FALSE(argmax(x, 1).requires_grad());
}

TEST_CASE("reduce: kernels match the naive twins at odd sizes") {
  auto run = [](auto zero) {
    using T = decltype(zero);
    const DType dt = dtype_of<T>();
    struct Case { long outer, R, inner; };
    // Includes rows long enough for the chunked path (R > 4096) and tails of the 64-wide tiles.
    for (Case c : {Case{1, 1, 1}, Case{3, 7, 1}, Case{1, 300001, 1}, Case{5, 9001, 1}, Case{1, 37, 65},
                   Case{3, 17, 129}, Case{2, 1, 5}, Case{1, 0, 3}, Case{1, 5001, 65}, Case{3, 1100, 7}}) {
      CAPTURE(c.outer);
      CAPTURE(c.R);
      CAPTURE(c.inner);
      Tensor x = randn({c.outer * c.R * c.inner}, dt);
      Tensor out = empty({c.outer * c.inner}, dt), ref = empty({c.outer * c.inner}, dt);
      kernels::sum_forward(out.data<T>(), x.data<T>(), c.outer, c.R, c.inner);
      kernels::sum_forward_naive(ref.data<T>(), x.data<T>(), c.outer, c.R, c.inner);
      std::vector<double> a = values(out), b = values(ref);
      for (size_t i = 0; i < a.size(); ++i)
        CHECK(a[i] == doctest::Approx(b[i]).epsilon(1e-6).scale(1 + std::sqrt(double(c.R))));
      if (c.R == 0) continue;
      // A NaN in the first row checks that NaN wins on every max path.
      if (c.R > 100) x.data<T>()[c.R / 2] = std::numeric_limits<T>::quiet_NaN();
      Tensor idx = empty({c.outer * c.inner}, DType::Int64), idx_ref = empty({c.outer * c.inner}, DType::Int64);
      kernels::max_forward(out.data<T>(), idx.data<int64_t>(), x.data<T>(), c.outer, c.R, c.inner);
      kernels::max_forward_naive(ref.data<T>(), idx_ref.data<int64_t>(), x.data<T>(), c.outer, c.R, c.inner);
      CHECK(same_bits(out, ref));
      CHECK(same_bits(idx, idx_ref));
      Tensor g = randn({c.outer * c.inner}, dt);
      Tensor dx = empty({c.outer * c.R * c.inner}, dt), dx_ref = empty({c.outer * c.R * c.inner}, dt);
      kernels::max_backward(dx.data<T>(), g.data<T>(), idx.data<int64_t>(), c.outer, c.R, c.inner);
      kernels::max_backward_naive(dx_ref.data<T>(), g.data<T>(), idx.data<int64_t>(), c.outer, c.R, c.inner);
      CHECK(same_bits(dx, dx_ref));
    }
  };
  run(float(0));
  run(double(0));
}

TEST_CASE("reduce: results are bit-identical at 1 and 2 threads") {
  ThreadCountGuard guard;
  Tensor big = randn({7 * 142859}), m = randn({513, 257}), tall = randn({5001, 64});
  auto compute = [&] {
    Tensor leaf = m.detach().set_requires_grad(true);
    sum(max(leaf, 0)).backward();
    return std::vector<Tensor>{sum(big),      sum(m, 0),       sum(m, 1),  mean(m, {0}),
                               sum(big.reshape({7, 142859}), 1), max(m, 1), argmax(m, 0),
                               leaf.grad(),   reduce_to_shape(m, {257}), sum(tall, 0), max(tall, 0)};
  };
  set_num_threads(1);
  std::vector<Tensor> one = compute();
  set_num_threads(2);
  std::vector<Tensor> two = compute();
  for (size_t i = 0; i < one.size(); ++i) CHECK_MESSAGE(same_bits(one[i], two[i]), "result ", i);
}

TEST_CASE("reduce: a 0-d tensor takes dim 0 and -1, as in PyTorch, and no other") {
  Tensor s = sum(full({1}, 2.5));  // shape ()
  REQUIRE(s.dim() == 0);
  for (int64_t dim : {0, -1}) {
    CAPTURE(dim);
    CHECK(sum(s, dim).item() == 2.5);
    CHECK(sum(s, dim).dim() == 0);
    CHECK(mean(s, dim).item() == 2.5);
    CHECK(max(s, dim).item() == 2.5);
    CHECK(softmax(s, dim).item() == 1.0);
  }
  CHECK_THROWS_WITH_AS(sum(s, 1), doctest::Contains("[sum] dim 1 is out of range"), Error);
  CHECK_THROWS_WITH_AS(max(s, -2), doctest::Contains("[max] dim -2 is out of range"), Error);
}

TEST_CASE("reduce: bad arguments throw errors naming the op") {
  Tensor x = randn({2, 3});
  CHECK_THROWS_WITH_AS(sum(x, 2), doctest::Contains("[sum] dim 2 is out of range"), Error);
  CHECK_THROWS_WITH_AS(sum(x, -3), doctest::Contains("[sum]"), Error);
  CHECK_THROWS_WITH_AS(sum(x, {0, -2}), doctest::Contains("listed twice"), Error);
  CHECK_THROWS_WITH_AS(mean(x, 5), doctest::Contains("[mean]"), Error);
  CHECK_THROWS_WITH_AS(max(x, 2), doctest::Contains("[max]"), Error);
  CHECK_THROWS_WITH_AS(argmax(x, -3), doctest::Contains("[argmax]"), Error);
  CHECK_THROWS_WITH_AS(max(zeros({2, 0}), 1), doctest::Contains("[max] cannot reduce dim 1 of size 0"), Error);
  CHECK_THROWS_WITH_AS(sum(arange(4)), doctest::Contains("[sum] expected a floating tensor"), Error);
  CHECK_THROWS_WITH_AS(argmax(arange(4), 0), doctest::Contains("[argmax]"), Error);
}
