// Tests of the losses (autograd/ops_loss.h) and their kernels: float64 gradchecks,
// hand-computed values, fast kernels against their naive twins at odd sizes, identical bits at 1
// and 2 threads, and every error path.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops_loss.h"
#include "autograd/ops_shape.h"
#include "core/random.h"
#include "core/threads.h"
#include "kernels/loss.h"

using namespace pmx;

namespace {

Tensor rand64(const Shape& s) { return randn(s, DType::Float64).set_requires_grad(true); }

template <class F>
auto with_threads(int n, F&& fn) {
  int before = get_num_threads();
  set_num_threads(n);
  auto result = fn();
  set_num_threads(before);
  return result;
}

}  // namespace

// ---- cross_entropy ----

TEST_CASE("loss: cross_entropy of uniform logits is log C, a hand-computed row") {
  Tensor logits = zeros({4, 7});
  Tensor targets = from_vector(std::vector<int64_t>{0, 6, 3, 3}, {4});
  CHECK(cross_entropy(logits, targets).item() == doctest::Approx(std::log(7.0)));
  CHECK(cross_entropy(logits, targets).shape() == Shape{});
  // logits (0, 0, ln 2), target 2: log(1 + 1 + 2) - ln 2 = ln 2; target 0: log 4.
  Tensor row = from_vector(std::vector<double>{0, 0, std::log(2.0), 0, 0, std::log(2.0)}, {2, 3});
  Tensor t = from_vector(std::vector<int64_t>{2, 0}, {2});
  CHECK(cross_entropy(row, t).item() == doctest::Approx((std::log(2.0) + std::log(4.0)) / 2));
  // Huge logits stay finite (max subtracted first).
  Tensor big = from_vector(std::vector<float>{1000, 0, -1000}, {1, 3});
  CHECK(cross_entropy(big, from_vector(std::vector<int64_t>{0}, {1})).item() == doctest::Approx(0.0));
}

TEST_CASE("loss: float cross_entropy keeps its precision when the logits are large") {
  // row loss = (m - x_t) + log s; (m + log s) - x_t rounded log s to the float spacing near m
  // (1.0 at 1e7) and gave 1.5 here instead of 1.362.
  const float big = 1e7f;
  Tensor logits = from_vector(std::vector<float>{big, big, big - 1, big, big, big - 1}, {2, 3});
  Tensor targets = from_vector(std::vector<int64_t>{0, 2}, {2});
  const double ls = std::log(2 + std::exp(-1.0));
  CHECK(cross_entropy(logits, targets).item() == doctest::Approx((ls + 1 + ls) / 2).epsilon(1e-6));
}

TEST_CASE("loss: cross_entropy averages over non-ignored targets, gradient is (softmax - one_hot) / count") {
  Tensor logits = from_vector(std::vector<double>{0, 0, std::log(2.0), 5, 1, 2, 0, 0, 0}, {3, 3})
                      .set_requires_grad(true);
  Tensor t = from_vector(std::vector<int64_t>{2, -100, 0}, {3});
  Tensor loss = cross_entropy(logits, t);
  CHECK(loss.item() == doctest::Approx((std::log(2.0) + std::log(3.0)) / 2));
  loss.backward();
  std::vector<double> g = logits.grad().to_vector<double>();
  std::vector<double> want = {0.25 / 2, 0.25 / 2, (0.5 - 1) / 2, 0, 0, 0, (1. / 3 - 1) / 2, 1. / 6, 1. / 6};
  for (size_t i = 0; i < want.size(); ++i) CHECK(g[i] == doctest::Approx(want[i]));
  // A custom ignore_index.
  CHECK(cross_entropy(logits.detach(), from_vector(std::vector<int64_t>{2, 1, 1}, {3}), 1).item() ==
        doctest::Approx(std::log(2.0)));
}

TEST_CASE("loss: cross_entropy with every target ignored is 0 with a zero gradient") {
  Tensor logits = randn({2, 5}).set_requires_grad(true);
  Tensor loss = cross_entropy(logits, full({2}, -100.0, DType::Int64));
  CHECK(loss.item() == 0.0);
  loss.backward();
  CHECK(logits.grad().to_vector<float>() == std::vector<float>(10, 0.f));
}

TEST_CASE("loss: cross_entropy gradcheck on (M, C) with ignored targets and on (B, N, C)") {
  Tensor t2 = from_vector(std::vector<int64_t>{1, -100, 4, 0, -100, 2}, {6});
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t2); }, {rand64({6, 5})});
  CHECK_MESSAGE(r.ok, r.message);
  Tensor t3 = from_vector(std::vector<int64_t>{0, 3, 3, 1, 2, 7}, {2, 3});
  r = gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t3, 7); }, {rand64({2, 3, 4})});
  CHECK_MESSAGE(r.ok, r.message);
  // Non-contiguous logits (a transposed view) give the same value and a gradient of the view's shape.
  Tensor x = randn({5, 4}, DType::Float64).set_requires_grad(true);
  Tensor tt = from_vector(std::vector<int64_t>{0, 4, 2, 1}, {4});
  Tensor a = cross_entropy(transpose(x, 0, 1), tt), b = cross_entropy(transpose(x, 0, 1).contiguous(), tt);
  CHECK(a.item() == b.item());
}

TEST_CASE("loss: cross_entropy kernels match their naive twins at odd sizes") {
  const long M = 53, C = 11;
  Tensor logits = randn({M, C}, DType::Float64);
  Tensor targets = randint(0, C, {M});
  int64_t* t = targets.data<int64_t>();
  t[3] = t[17] = -1;  // ignored rows
  std::vector<double> loss(M), loss_ref(M), p(M * C), p_ref(M * C), d(M * C, 7.0), d_ref(M * C);
  kernels::cross_entropy_forward(loss.data(), p.data(), logits.data<double>(), t, M, C, -1);
  kernels::cross_entropy_forward_naive(loss_ref.data(), p_ref.data(), logits.data<double>(), t, M, C, -1);
  for (long r = 0; r < M; ++r) CHECK(loss[r] == doctest::Approx(loss_ref[r]).epsilon(1e-12));
  for (long i = 0; i < M * C; ++i)
    if (t[i / C] != -1) CHECK(p[i] == doctest::Approx(p_ref[i]).epsilon(1e-12));
  kernels::cross_entropy_backward(d.data(), p.data(), t, M, C, -1, 0.125);
  kernels::cross_entropy_backward_naive(d_ref.data(), p.data(), t, M, C, -1, 0.125);
  for (long i = 0; i < M * C; ++i) CHECK(d[i] == doctest::Approx(d_ref[i]).epsilon(1e-12));
  CHECK(d[3 * C] == 0.0);  // ignored rows are overwritten with zeros
}

TEST_CASE("loss: cross_entropy gives identical bits at 1 and 2 threads") {
  Tensor logits = randn({3001, 37});
  Tensor targets = randint(0, 37, {3001});
  auto run = [&] {
    Tensor x = logits.clone().set_requires_grad(true);
    Tensor loss = cross_entropy(x, targets);
    loss.backward();
    std::vector<float> all = x.grad().to_vector<float>();
    all.push_back(float(loss.item()));
    return all;
  };
  CHECK(with_threads(1, run) == with_threads(2, run));
}

TEST_CASE("loss: cross_entropy rejects bad targets and shapes with named errors") {
  Tensor logits = randn({3, 5});
  CHECK_THROWS_WITH_AS(cross_entropy(logits, from_vector(std::vector<int64_t>{0, 5, 1}, {3})),
                       doctest::Contains("target 5 at position 1"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, from_vector(std::vector<int64_t>{0, 1, -2}, {3})),
                       doctest::Contains("C = 5"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, arange(4)), doctest::Contains("(4,)"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, arange(4)), doctest::Contains("(3, 5)"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(logits, zeros({3})), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(arange(3), arange(3)), doctest::Contains("[cross_entropy]"), Error);
  CHECK_THROWS_AS(cross_entropy(zeros({3, 0}), arange(3)), Error);
  CHECK_THROWS_AS(cross_entropy(Tensor(), arange(3)), Error);
}

// ---- mse_loss ----

TEST_CASE("loss: mse_loss hand-computed value and gradients for both inputs") {
  Tensor pred = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}).set_requires_grad(true);
  Tensor target = from_vector(std::vector<double>{0, 2, 5, 1}, {2, 2}).set_requires_grad(true);
  Tensor loss = mse_loss(pred, target);
  CHECK(loss.item() == doctest::Approx((1 + 0 + 4 + 9) / 4.0));
  loss.backward();
  CHECK(pred.grad().to_vector<double>() == std::vector<double>{0.5, 0, -1, 1.5});
  CHECK(target.grad().to_vector<double>() == std::vector<double>{-0.5, 0, 1, -1.5});
}

TEST_CASE("loss: mse_loss gradcheck for pred, and for target when it requires grad") {
  auto fn = [](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); };
  auto r = gradcheck(fn, {rand64({3, 4}), randn({3, 4}, DType::Float64)});
  CHECK_MESSAGE(r.ok, r.message);
  r = gradcheck(fn, {rand64({5}), rand64({5})});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("loss: mse block sums match the naive sum, identical bits at 1 and 2 threads") {
  for (long n : {1L, 8191L, 8193L, 50001L}) {
    Tensor a = randn({n}), b = randn({n});
    std::vector<double> parts(kernels::mse_num_blocks(n));
    kernels::mse_block_sums(parts.data(), a.data<float>(), b.data<float>(), n);
    double total = 0;
    for (double v : parts) total += v;
    CHECK(total == doctest::Approx(kernels::mse_sum_naive(a.data<float>(), b.data<float>(), n)).epsilon(1e-12));
  }
  Tensor p = randn({300, 301}), t = randn({300, 301});
  auto run = [&] {
    Tensor x = p.clone().set_requires_grad(true);
    Tensor loss = mse_loss(x, t);
    loss.backward();
    std::vector<float> all = x.grad().to_vector<float>();
    all.push_back(float(loss.item()));
    return all;
  };
  CHECK(with_threads(1, run) == with_threads(2, run));
}

TEST_CASE("loss: mse_loss rejects mismatched inputs with both shapes named") {
  CHECK_THROWS_WITH_AS(mse_loss(randn({3, 4}), randn({4, 3})), doctest::Contains("(3, 4)"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(randn({3, 4}), randn({4, 3})), doctest::Contains("(4, 3)"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(randn({3}), randn({3}, DType::Float64)), doctest::Contains("[mse_loss]"), Error);
  CHECK_THROWS_AS(mse_loss(arange(3), arange(3)), Error);
  CHECK_THROWS_AS(mse_loss(zeros({0}), zeros({0})), Error);
  CHECK_THROWS_AS(mse_loss(randn({2}), Tensor()), Error);
}
