// Elementwise ops: hand-computed values, float64 gradient checks (broadcasting both ways,
// transposed inputs), fast kernels against their naive twins, thread-count invariance, errors.
// GELU's own kernels (accuracy of the float erf, the fused op, AVX2 vs AVX-512): test_gelu.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "core/random.h"
#include "core/threads.h"
#include "kernels/elementwise.h"

using namespace pmx;
using kernels::BinaryOp;
using kernels::UnaryOp;

namespace {

Tensor leaf64(const Shape& s) { return randn(s, DType::Float64).set_requires_grad(true); }
// Values in [lo, lo + 1): for log, sqrt, pow and divisors, away from their singularities.
Tensor positive64(const Shape& s, double lo = 0.5) {
  return (rand(s, DType::Float64) + lo).set_requires_grad(true);
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;
void check_grad(const Fn& f, const std::vector<Tensor>& in, const char* what) {
  GradcheckResult r = gradcheck(f, in);
  CHECK_MESSAGE(r.ok, what, ": ", r.message);
}

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// Restores the thread count when a test ends, however it ends.
struct ThreadCountGuard {
  int previous = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(previous); }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.storage()->data(), b.storage()->data(), size_t(a.numel()) * dtype_size(a.dtype())) == 0;
}

}  // namespace

TEST_CASE("elementwise: binary ops give hand-computed values with broadcasting") {
  Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor row = from_vector(std::vector<float>{10, 20, 30}, {3});
  Tensor col = from_vector(std::vector<float>{2, 4}, {2, 1});
  CHECK(values(a + row) == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK(values(row - a) == std::vector<double>{9, 18, 27, 6, 15, 24});
  CHECK(values(a * col) == std::vector<double>{2, 4, 6, 16, 20, 24});
  CHECK(values(a / col) == std::vector<double>{0.5, 1, 1.5, 1, 1.25, 1.5});
  CHECK(values(col + row) == std::vector<double>{12, 22, 32, 14, 24, 34});  // (2,1) + (3) -> (2,3)
  CHECK(values(a * scalar(2.f)) == std::vector<double>{2, 4, 6, 8, 10, 12});
  CHECK(values(scalar(12.f) / a) == std::vector<double>{12, 6, 4, 3, 2.4000000953674316, 2});
  CHECK(values(a + 1.0) == std::vector<double>{2, 3, 4, 5, 6, 7});
  CHECK(values(a - 1.0) == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK(values(3.0 * a) == std::vector<double>{3, 6, 9, 12, 15, 18});
  CHECK(values(a / 2.0) == std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3});
  CHECK(values(-a) == std::vector<double>{-1, -2, -3, -4, -5, -6});
  // A transposed view is read through its strides: a^T (3, 2) + (2).
  Tensor at = transpose(a, 0, 1);
  CHECK(values(at + from_vector(std::vector<float>{100, 200}, {2})) ==
        std::vector<double>{101, 204, 102, 205, 103, 206});
  CHECK((a + row).shape() == Shape{2, 3});
  CHECK((randn({3, 1, 4}) + randn({5, 1})).shape() == Shape{3, 5, 4});
}

TEST_CASE("elementwise: unary ops give hand-computed values") {
  Tensor x = from_vector(std::vector<double>{-1, 0, 1, 2}, {4});
  auto near = [](const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
  };
  near(values(exp(x)), {0.36787944117144233, 1, 2.718281828459045, 7.38905609893065});
  near(values(tanh(x)), {-0.7615941559557649, 0, 0.7615941559557649, 0.9640275800758169});
  near(values(sigmoid(x)), {0.2689414213699951, 0.5, 0.7310585786300049, 0.8807970779778823});
  near(values(relu(x)), {0, 0, 1, 2});
  // gelu(x) = x Phi(x): Phi(1) = 0.841344746068543, Phi(2) = 0.977249868051821.
  near(values(gelu(x)), {-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416});
  near(values(pow(x, 3.0)), {-1, 0, 1, 8});
  Tensor p = from_vector(std::vector<double>{0.25, 1, 4}, {3});
  near(values(log(p)), {-1.3862943611198906, 0, 1.3862943611198906});
  near(values(sqrt(p)), {0.5, 1, 2});
  near(values(pow(p, 0.5)), {0.5, 1, 2});
}

TEST_CASE("elementwise: gradcheck binary ops, broadcasting both ways") {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}},        // same shape
      {{3, 1, 4}, {5, 1}},     // both sides broadcast
      {{5, 1}, {3, 1, 4}},
      {{4, 6}, {6}},           // the bias row, either side
      {{6}, {4, 6}},
      {{2, 3}, {}},            // a 0-d scalar
      {{1}, {2, 3}},
  };
  for (const auto& [sa, sb] : shapes) {
    CAPTURE(shape_str(sa));
    CAPTURE(shape_str(sb));
    check_grad([](auto& in) { return add(in[0], in[1]); }, {leaf64(sa), leaf64(sb)}, "add");
    check_grad([](auto& in) { return sub(in[0], in[1]); }, {leaf64(sa), leaf64(sb)}, "sub");
    check_grad([](auto& in) { return mul(in[0], in[1]); }, {leaf64(sa), leaf64(sb)}, "mul");
    check_grad([](auto& in) { return div(in[0], in[1]); }, {leaf64(sa), positive64(sb)}, "div");
  }
}

TEST_CASE("elementwise: gradcheck with transposed (non-contiguous) inputs") {
  check_grad([](auto& in) { return add(transpose(in[0], 0, 1), in[1]); }, {leaf64({4, 3}), leaf64({3, 4})}, "add");
  check_grad([](auto& in) { return mul(transpose(in[0], 0, 1), transpose(in[1], 0, 1)); },
             {leaf64({4, 3}), leaf64({4, 3})}, "mul");
  check_grad([](auto& in) { return div(in[1], transpose(in[0], 1, 2)); }, {positive64({2, 5, 3}), leaf64({3, 5})}, "div");
  check_grad([](auto& in) { return gelu(transpose(in[0], 0, 2)); }, {leaf64({2, 3, 4})}, "gelu");
  check_grad([](auto& in) { return exp(transpose(in[0], 0, 1)); }, {leaf64({3, 5})}, "exp");
  // The same tensor on both sides: two gradients for one input must add up.
  check_grad([](auto& in) { return add(in[0], in[0]); }, {leaf64({3, 4})}, "x + x");
  check_grad([](auto& in) { return mul(in[0], transpose(in[0], 0, 1)); }, {leaf64({4, 4})}, "x * x^T");
}

TEST_CASE("elementwise: strided and tiled paths equal the dense path bit for bit") {
  // Transposed reads take the tiled kernel; the values must not depend on the layout.
  Tensor x = randn({4, 3, 40, 50}), b = randn({3, 1, 40}), y = randn({40, 50});
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Div}) {
    auto f = [op](const Tensor& p, const Tensor& q) { return op == BinaryOp::Add ? p + q : p / q; };
    Tensor xt = transpose(x, 2, 3), xt_dense = contiguous(xt);
    CHECK(same_bits(f(xt, b), f(xt_dense, b)));
    CHECK(same_bits(f(b, xt), f(b, xt_dense)));
    CHECK(same_bits(f(xt, transpose(y, 0, 1)), f(xt_dense, contiguous(transpose(y, 0, 1)))));
    CHECK(same_bits(f(permute(x, {3, 1, 0, 2}), y.reshape({50, 1, 1, 40})),
                    f(contiguous(permute(x, {3, 1, 0, 2})), y.reshape({50, 1, 1, 40}))));
  }
}

TEST_CASE("elementwise: gradcheck unary and scalar ops") {
  const Shape s = {3, 5};
  check_grad([](auto& in) { return exp(in[0]); }, {leaf64(s)}, "exp");
  check_grad([](auto& in) { return log(in[0]); }, {positive64(s)}, "log");
  check_grad([](auto& in) { return sqrt(in[0]); }, {positive64(s)}, "sqrt");
  check_grad([](auto& in) { return tanh(in[0]); }, {leaf64(s)}, "tanh");
  check_grad([](auto& in) { return sigmoid(in[0]); }, {leaf64(s)}, "sigmoid");
  check_grad([](auto& in) { return relu(in[0]); }, {leaf64(s)}, "relu");
  check_grad([](auto& in) { return gelu(in[0]); }, {leaf64(s)}, "gelu");
  check_grad([](auto& in) { return gelu(mul(in[0], 4.0)); }, {leaf64(s)}, "gelu tails");
  check_grad([](auto& in) { return neg(in[0]); }, {leaf64(s)}, "neg");
  check_grad([](auto& in) { return pow(in[0], 3.0); }, {leaf64(s)}, "pow 3");
  check_grad([](auto& in) { return pow(in[0], -1.5); }, {positive64(s)}, "pow -1.5");
  check_grad([](auto& in) { return pow(in[0], 0.0); }, {leaf64(s)}, "pow 0");
  check_grad([](auto& in) { return (in[0] + 2.0) * 3.0 - 1.0; }, {leaf64(s)}, "scalar ops");
  check_grad([](auto& in) { return 2.0 * in[0] / 4.0; }, {leaf64(s)}, "scalar mul/div");
}

TEST_CASE("elementwise: gradients only reach inputs that need them") {
  Tensor a = leaf64({2, 3}), b = randn({3}, DType::Float64);
  Tensor y = sum(mul(a, b));
  y.backward();
  REQUIRE(a.grad().defined());
  // d sum(a * b) / da = b broadcast over rows.
  std::vector<double> g = values(a.grad()), bv = values(b);
  for (int i = 0; i < 6; ++i) CHECK(g[size_t(i)] == bv[size_t(i % 3)]);
  CHECK_FALSE(b.grad().defined());
  CHECK_FALSE(mul(randn({2}), randn({2})).requires_grad());
}

TEST_CASE("elementwise: binary kernels match the naive twin at odd sizes") {
  auto run = [](auto zero) {
    using T = decltype(zero);
    const DType dt = dtype_of<T>();
    for (BinaryOp op : {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div}) {
      for (long n : {1L, 7L, 33L, 40001L}) {
        Tensor a = randn({n}, dt), b = rand({n}, dt) + 0.5, out = empty({n}, dt), ref = empty({n}, dt);
        const int64_t one = 1, zero_stride = 0, len = n;
        kernels::binary_same(out.data<T>(), a.data<T>(), b.data<T>(), n, op);
        kernels::binary_naive(ref.data<T>(), a.data<T>(), &one, b.data<T>(), &one, &len, 1, op);
        CHECK(same_bits(out, ref));
        kernels::binary_scalar(out.data<T>(), a.data<T>(), b.data<T>()[0], n, op, true);
        kernels::binary_naive(ref.data<T>(), b.data<T>(), &zero_stride, a.data<T>(), &one, &len, 1, op);
        CHECK(same_bits(out, ref));
      }
      // Row broadcast (M, n) op (n), either side, and a general strided case: (M, n)^T op (n, 1).
      const long M = 37, n = 13;
      Tensor x = randn({M, n}, dt), r = rand({n}, dt) + 0.5, out = empty({M, n}, dt), ref = empty({M, n}, dt);
      const int64_t shape[2] = {M, n}, sx[2] = {n, 1}, sr[2] = {0, 1};
      kernels::binary_row(out.data<T>(), x.data<T>(), r.data<T>(), M, n, op, true);
      kernels::binary_naive(ref.data<T>(), r.data<T>(), sr, x.data<T>(), sx, shape, 2, op);
      CHECK(same_bits(out, ref));
      const int64_t tshape[3] = {3, n, M}, st[3] = {0, 1, n}, sc[3] = {M, 0, 1};
      Tensor c = rand({3, M}, dt) + 0.5, o3 = empty({3, n, M}, dt), r3 = empty({3, n, M}, dt);
      kernels::binary_strided(o3.data<T>(), x.data<T>(), st, c.data<T>(), sc, tshape, 3, op);
      kernels::binary_naive(r3.data<T>(), x.data<T>(), st, c.data<T>(), sc, tshape, 3, op);
      CHECK(same_bits(o3, r3));
    }
  };
  run(float(0));
  run(double(0));
}

TEST_CASE("elementwise: unary kernels match the naive twin at odd sizes") {
  const UnaryOp ops[] = {UnaryOp::Exp, UnaryOp::Log, UnaryOp::Sqrt, UnaryOp::Tanh, UnaryOp::Sigmoid,
                         UnaryOp::Relu, UnaryOp::Gelu, UnaryOp::Neg, UnaryOp::Pow, UnaryOp::AddScalar,
                         UnaryOp::MulScalar};
  auto run = [&](auto zero, double tol) {
    using T = decltype(zero);
    const DType dt = dtype_of<T>();
    for (long n : {1L, 7L, 9L, 4099L, 40001L}) {
      // Gaussians scaled by 4 reach GELU's tails; positive copies feed log, sqrt, pow.
      Tensor x = randn({n}, dt) * 4.0, xp = rand({n}, dt) + 0.1, g = randn({n}, dt);
      for (UnaryOp op : ops) {
        CAPTURE(int(op));
        CAPTURE(n);
        const bool positive = op == UnaryOp::Log || op == UnaryOp::Sqrt || op == UnaryOp::Pow;
        const T* in = (positive ? xp : x).data<T>();
        const T param = op == UnaryOp::Pow ? T(1.7) : T(0.3);
        Tensor y = empty({n}, dt), y_ref = empty({n}, dt), d = empty({n}, dt), d_ref = empty({n}, dt);
        kernels::unary_forward(y.data<T>(), in, n, op, param);
        kernels::unary_forward_naive(y_ref.data<T>(), in, n, op, param);
        kernels::unary_backward(d.data<T>(), g.data<T>(), in, y_ref.data<T>(), n, op, param);
        kernels::unary_backward_naive(d_ref.data<T>(), g.data<T>(), in, y_ref.data<T>(), n, op, param);
        std::vector<double> a = values(y), b = values(y_ref), da = values(d), db = values(d_ref);
        double worst = 0, worst_d = 0;
        for (long i = 0; i < n; ++i) {
          worst = std::max(worst, std::fabs(a[size_t(i)] - b[size_t(i)]) / (1 + std::fabs(b[size_t(i)])));
          worst_d = std::max(worst_d, std::fabs(da[size_t(i)] - db[size_t(i)]) / (1 + std::fabs(db[size_t(i)])));
        }
        CHECK(worst <= tol);
        CHECK(worst_d <= tol);
      }
    }
  };
  run(float(0), 1e-6);  // the float GELU is the vectorised erf; the rest match to rounding
  run(double(0), 1e-14);
}

TEST_CASE("elementwise: results are bit-identical at 1 and 2 threads") {
  ThreadCountGuard guard;
  Tensor x = randn({300, 301}), b = randn({301}), c = randn({300, 1}), g = randn({300, 301});
  Tensor xt = randn({301, 300});
  auto compute = [&] {
    std::vector<Tensor> out = {gelu(x), x + b, x * c, transpose(xt, 0, 1) / (x * x + 1.0), sigmoid(x)};
    Tensor leaf = x.detach().set_requires_grad(true);
    gelu(leaf).backward(g);
    out.push_back(leaf.grad());
    return out;
  };
  set_num_threads(1);
  std::vector<Tensor> one = compute();
  set_num_threads(2);
  std::vector<Tensor> two = compute();
  for (size_t i = 0; i < one.size(); ++i) CHECK_MESSAGE(same_bits(one[i], two[i]), "result ", i);
}

TEST_CASE("elementwise: bad inputs throw errors naming the op and the shapes") {
  Tensor a = randn({2, 3}), b = randn({4, 3});
  CHECK_THROWS_WITH_AS(add(a, b), doctest::Contains("[add] shapes (2, 3) and (4, 3)"), Error);
  CHECK_THROWS_WITH_AS(mul(a, randn({2})), doctest::Contains("[mul]"), Error);
  CHECK_THROWS_WITH_AS(sub(randn({3, 1, 4}), randn({2, 5})), doctest::Contains("(3, 1, 4)"), Error);
  CHECK_THROWS_WITH_AS(div(a, randn({2, 3}, DType::Float64)),
                       doctest::Contains("[div] dtypes differ: float32 (2, 3) and float64 (2, 3)"), Error);
  Tensor ids = arange(6).reshape({2, 3});
  CHECK_THROWS_WITH_AS(add(ids, ids), doctest::Contains("[add] arithmetic on int64"), Error);
  CHECK_THROWS_WITH_AS(exp(ids), doctest::Contains("[exp]"), Error);
  CHECK_THROWS_WITH_AS(gelu(arange(3)), doctest::Contains("[gelu]"), Error);
  CHECK_THROWS_WITH_AS(reduce_to_shape(a, {4}), doctest::Contains("[reduce_to_shape]"), Error);
  CHECK_THROWS_AS(reduce_to_shape(a, {1, 2, 3}), Error);
  CHECK_THROWS_AS(exp(Tensor()), Error);
}

TEST_CASE("elementwise: reduce_to_shape sums over broadcast dims") {
  Tensor g = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(values(reduce_to_shape(g, {3})) == std::vector<double>{5, 7, 9});
  CHECK(values(reduce_to_shape(g, {2, 1})) == std::vector<double>{6, 15});
  CHECK(values(reduce_to_shape(g, {1, 1})) == std::vector<double>{21});
  CHECK(reduce_to_shape(g, {}).shape() == Shape{});
  CHECK(reduce_to_shape(g, {}).item() == 21);
  CHECK(reduce_to_shape(g, {2, 3}).same(g));
}
