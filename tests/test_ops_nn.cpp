// Tests of the neural-network ops (autograd/ops_nn.h) and their kernels: float64 gradchecks,
// hand-computed values, fast kernels against their naive twins at odd sizes, identical bits at 1
// and 2 threads, and every error path.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "autograd/gradcheck.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_shape.h"
#include "core/random.h"
#include "core/threads.h"
#include "kernels/dropout.h"
#include "kernels/embedding.h"
#include "kernels/layer_norm.h"
#include "kernels/softmax.h"

using namespace pmx;

namespace {

Tensor rand64(const Shape& s) { return randn(s, DType::Float64).set_requires_grad(true); }

// Runs fn with n threads and restores the previous count.
template <class F>
auto with_threads(int n, F&& fn) {
  int before = get_num_threads();
  set_num_threads(n);
  auto result = fn();
  set_num_threads(before);
  return result;
}

void check_close(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == doctest::Approx(b[i]).epsilon(tol).scale(1.0));
}

// Forward and input gradient (backward with a fixed random R) as one flat vector.
std::vector<float> forward_and_grad(const std::function<Tensor(const Tensor&)>& op, const Tensor& x0) {
  Tensor x = x0.clone().set_requires_grad(true);
  Tensor y = op(x);
  Generator g(99);
  y.backward(randn(y.shape(), DType::Float32, g));
  std::vector<float> out = y.to_vector<float>(), dx = x.grad().to_vector<float>();
  out.insert(out.end(), dx.begin(), dx.end());
  return out;
}

}  // namespace

// ---- softmax / log_softmax ----

TEST_CASE("nn: softmax and log_softmax hand-computed values, stable for large inputs") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 0, 0, 0, 1000, 1000, 1000}, {3, 3});
  double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  std::vector<double> want = {std::exp(1.0) / s, std::exp(2.0) / s, std::exp(3.0) / s,
                              1. / 3, 1. / 3, 1. / 3, 1. / 3, 1. / 3, 1. / 3};
  check_close(softmax(x, 1).to_vector<double>(), want, 1e-12);
  std::vector<double> want_log;
  for (double w : want) want_log.push_back(std::log(w));
  check_close(log_softmax(x, -1).to_vector<double>(), want_log, 1e-12);
  // Over dim 0 the columns are normalised: column 0 of x is (1, 0, 1000).
  CHECK(softmax(x, 0).to_vector<double>()[6] == doctest::Approx(1.0));
  CHECK(softmax(scalar(3.0, DType::Float64), -1).item() == 1.0);
}

TEST_CASE("nn: float log_softmax keeps its precision when the logits are large") {
  // y = (x - m) - log s: x - m is exact near the max, so the result does not depend on the
  // logits' magnitude. Forming m + log s first rounds log s to the spacing of floats near m
  // (0.0625 at 1e6), which gave -0.875 here instead of -0.862.
  const float big = 1e6f;
  Tensor x = from_vector(std::vector<float>{big, big, big - 1, big, big, big - 1}, {2, 3});
  const double ls = std::log(2 + std::exp(-1.0));
  check_close(log_softmax(x, -1).to_vector<double>(), {-ls, -ls, -1 - ls, -ls, -ls, -1 - ls}, 1e-6);
  // Over dim 0 (the strided path): every column holds two equal logits.
  check_close(log_softmax(x, 0).to_vector<double>(), std::vector<double>(6, -std::log(2.0)), 1e-6);
}

TEST_CASE("nn: softmax and log_softmax gradcheck over the last, a middle and the first dim") {
  for (Shape shape : {Shape{3, 5, 4}, Shape{2, 3, 19}})
    for (int64_t dim : {-1, 1, 0})
      for (bool log : {false, true}) {
        CAPTURE(dim);
        CAPTURE(log);
        auto r = gradcheck([&](const std::vector<Tensor>& in) {
          return log ? log_softmax(in[0], dim) : softmax(in[0], dim);
        }, {rand64(shape)});
        CHECK_MESSAGE(r.ok, r.message);
      }
}

TEST_CASE("nn: softmax of a non-contiguous view equals softmax of its dense copy") {
  Tensor x = randn({6, 5});
  Tensor view = transpose(x, 0, 1);  // (5, 6) strided
  auto a = forward_and_grad([](const Tensor& t) { return softmax(transpose(t, 0, 1), 1); }, x);
  auto b = forward_and_grad([](const Tensor& t) { return softmax(t, 1); }, view.contiguous());
  CHECK(std::vector<float>(a.begin(), a.begin() + 30) == std::vector<float>(b.begin(), b.begin() + 30));
}

TEST_CASE("nn: softmax kernels match their naive twins at odd sizes") {
  for (auto [outer, L, inner] : {std::tuple<long, long, long>{7, 13, 1}, {3, 11, 21}, {5, 1, 3}, {1, 33, 17}}) {
    long n = outer * L * inner;
    std::vector<double> x(n), dy(n), y(n), y_ref(n), dx(n), dx_ref(n);
    for (long i = 0; i < n; ++i) x[i] = 3 * random_uniform(7, i) - 1, dy[i] = random_uniform(8, i) - 0.5;
    for (bool log : {false, true}) {
      (log ? kernels::log_softmax_forward<double> : kernels::softmax_forward<double>)(y.data(), x.data(), outer, L, inner);
      (log ? kernels::log_softmax_forward_naive<double> : kernels::softmax_forward_naive<double>)(y_ref.data(), x.data(), outer, L, inner);
      check_close(y, y_ref, 1e-12);
      (log ? kernels::log_softmax_backward<double> : kernels::softmax_backward<double>)(dx.data(), dy.data(), y.data(), outer, L, inner);
      (log ? kernels::log_softmax_backward_naive<double> : kernels::softmax_backward_naive<double>)(dx_ref.data(), dy.data(), y.data(), outer, L, inner);
      check_close(dx, dx_ref, 1e-12);
    }
    std::vector<float> xf(x.begin(), x.end()), yf(n), yf_ref(n);
    kernels::softmax_forward(yf.data(), xf.data(), outer, L, inner);
    kernels::softmax_forward_naive(yf_ref.data(), xf.data(), outer, L, inner);
    for (long i = 0; i < n; ++i) CHECK(yf[i] == doctest::Approx(yf_ref[i]).epsilon(1e-5));
  }
}

TEST_CASE("nn: softmax and log_softmax give identical bits at 1 and 2 threads") {
  Tensor x = randn({40, 257, 7});  // > 32768 elements: the parallel path runs
  for (int64_t dim : {-1, 1})
    for (bool log : {false, true}) {
      auto op = [&](const Tensor& t) { return log ? log_softmax(t, dim) : softmax(t, dim); };
      auto one = with_threads(1, [&] { return forward_and_grad(op, x); });
      auto two = with_threads(2, [&] { return forward_and_grad(op, x); });
      CHECK(one == two);
    }
}

TEST_CASE("nn: softmax rejects bad input with named errors") {
  CHECK_THROWS_WITH_AS(softmax(arange(5), 0), doctest::Contains("[softmax]"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(randn({2, 3}), 2), doctest::Contains("[log_softmax]"), Error);
  CHECK_THROWS_AS(softmax(randn({2, 3}), -3), Error);
  CHECK_THROWS_AS(softmax(Tensor(), 0), Error);
}

// ---- embedding ----

TEST_CASE("nn: embedding gathers rows, the gradient scatter-adds repeated ids, not the padding row") {
  Tensor w = from_vector(std::vector<float>{0, 1, 10, 11, 20, 21, 30, 31}, {4, 2}).set_requires_grad(true);
  Tensor ids = from_vector(std::vector<int64_t>{1, 3, 1, 0, 1, 0}, {2, 3});
  Tensor y = embedding(w, ids, /*padding_idx=*/0);
  CHECK(y.shape() == Shape{2, 3, 2});
  CHECK(y.to_vector<float>() == std::vector<float>{10, 11, 30, 31, 10, 11, 0, 1, 10, 11, 0, 1});
  y.backward(ones({2, 3, 2}));
  // Row 1 appears three times, row 3 once, row 2 never, row 0 is padding.
  CHECK(w.grad().to_vector<float>() == std::vector<float>{0, 0, 3, 3, 0, 0, 1, 1});
}

TEST_CASE("nn: embedding gradcheck, padding_idx zeroes exactly the padding row's gradient") {
  Tensor ids = from_vector(std::vector<int64_t>{2, 0, 2, 4, 1, 2, 0}, {7});
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return embedding(in[0], ids); }, {rand64({5, 3})});
  CHECK_MESSAGE(r.ok, r.message);
  // The padding row's numeric gradient is not zero (by design), so compare against no padding.
  Tensor w = randn({5, 3}, DType::Float64), R = randn({7, 3}, DType::Float64);
  std::vector<double> grads[2];
  for (int64_t pad : {-1, 2}) {
    Tensor wr = w.clone().set_requires_grad(true);
    embedding(wr, ids, pad).backward(R);
    grads[pad < 0 ? 0 : 1] = wr.grad().to_vector<double>();
  }
  for (int i = 0; i < 15; ++i) CHECK(grads[1][i] == (i / 3 == 2 ? 0.0 : grads[0][i]));
  CHECK(grads[0][6] != 0.0);
}

TEST_CASE("nn: embedding kernels equal their naive twins and are identical at 1 and 2 threads") {
  // (V, d) pairs: small vocab with wide rows (column split) and narrow rows (vocabulary split).
  for (auto [V, d] : {std::pair<long, long>{6, 40}, {256, 5}, {7, 13}}) {
    long n = 16 * 2048 + 3;
    Tensor ids = randint(0, V, {n});
    Tensor d_out = randn({n, d});
    const int64_t* id = ids.data<int64_t>();
    std::vector<float> ref(V * d), fwd(n * d), fwd_ref(n * d);
    kernels::embedding_backward_naive(ref.data(), d_out.data<float>(), id, n, V, d, 3);
    for (int threads : {1, 2}) {
      auto got = with_threads(threads, [&] {
        std::vector<float> dw(V * d, -1.f);  // stale values must be overwritten
        kernels::embedding_backward(dw.data(), d_out.data<float>(), id, n, V, d, 3);
        return dw;
      });
      CHECK(got == ref);  // same summation order (id order) in both: exact
    }
    Tensor w = randn({V, d});
    kernels::embedding_forward(fwd.data(), w.data<float>(), id, n, d);
    kernels::embedding_forward_naive(fwd_ref.data(), w.data<float>(), id, n, d);
    CHECK(fwd == fwd_ref);
  }
}

TEST_CASE("nn: embedding rejects bad ids and tables with named errors") {
  Tensor w = randn({6, 4});
  CHECK_THROWS_WITH_AS(embedding(w, from_vector(std::vector<int64_t>{1, 6, 2}, {3})),
                       doctest::Contains("id 6 at position 1"), Error);
  CHECK_THROWS_WITH_AS(embedding(w, from_vector(std::vector<int64_t>{1, 2, 0, -1}, {2, 2})),
                       doctest::Contains("V = 6"), Error);
  CHECK_THROWS_WITH_AS(embedding(w, from_vector(std::vector<float>{1, 2}, {2})),
                       doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(embedding(randn({6}), arange(2)), doctest::Contains("[embedding]"), Error);
  CHECK_THROWS_AS(embedding(w, arange(2), /*padding_idx=*/6), Error);
  CHECK_THROWS_AS(embedding(w, Tensor()), Error);
}

// ---- dropout ----

TEST_CASE("nn: dropout in eval or with p = 0 returns its input, p = 1 gives zeros") {
  Tensor x = randn({3, 4}).set_requires_grad(true);
  CHECK(dropout(x, 0.5, /*training=*/false).same(x));
  CHECK(dropout(x, 0.0, true).same(x));
  Tensor z = dropout(x, 1.0, true);
  CHECK(z.to_vector<float>() == std::vector<float>(12, 0.f));
  z.backward(ones({3, 4}));
  CHECK(x.grad().to_vector<float>() == std::vector<float>(12, 0.f));
}

TEST_CASE("nn: dropout keeps about 1 - p of the elements, scales them, and masks the gradient alike") {
  const int64_t n = 200001;
  const double p = 0.3;
  Tensor x = full({n}, 2.0).set_requires_grad(true);
  Generator g(17);
  Tensor y = dropout(x, p, true, g);
  CHECK(g.state().counter == uint64_t(n));  // one counter per element
  y.backward(ones({n}));
  auto yv = y.to_vector<float>(), gv = x.grad().to_vector<float>();
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (yv[i] != 0) {
      ++kept;
      CHECK(yv[i] == doctest::Approx(2.0 / (1 - p)));
    }
    CHECK(gv[i] == (yv[i] != 0 ? float(1 / (1 - p)) : 0.f));
  }
  CHECK(double(kept) / n == doctest::Approx(1 - p).epsilon(0.01));
}

TEST_CASE("nn: dropout's mask depends only on the seed: same bits at 1 and 2 threads, equal to naive") {
  Tensor x = randn({50001});
  auto run = [&] { Generator g(5); g.advance(11); return dropout(x, 0.25, true, g).to_vector<float>(); };
  CHECK(with_threads(1, run) == with_threads(2, run));
  for (double p : {0.1, 0.5, 0.9})
    for (long n : {1L, 1001L, 40001L}) {
      std::vector<double> in(n), a(n), b(n);
      for (long i = 0; i < n; ++i) in[i] = 1 + random_uniform(1, i);
      kernels::dropout_apply(a.data(), in.data(), n, p, 42, 1000);
      kernels::dropout_apply_naive(b.data(), in.data(), n, p, 42, 1000);
      CHECK(a == b);
    }
}

TEST_CASE("nn: dropout gradcheck with a fixed generator") {
  auto r = gradcheck([](const std::vector<Tensor>& in) {
    Generator g(8);
    return dropout(in[0], 0.4, true, g);
  }, {rand64({4, 7})});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("nn: dropout rejects a bad probability and integer input") {
  Tensor x = randn({4});
  CHECK_THROWS_WITH_AS(dropout(x, -0.1, true), doctest::Contains("[dropout]"), Error);
  CHECK_THROWS_AS(dropout(x, 1.5, true), Error);
  CHECK_THROWS_AS(dropout(x, std::nan(""), true), Error);
  CHECK_THROWS_AS(dropout(arange(4), 0.5, true), Error);
}

// ---- layer_norm ----

TEST_CASE("nn: layer_norm hand-computed values with and without affine") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5, 5, 5, 5}, {2, 4});
  double rs = 1 / std::sqrt(1.25 + 1e-5);
  check_close(layer_norm(x, Tensor(), Tensor(), 1e-5).to_vector<double>(),
              {-1.5 * rs, -0.5 * rs, 0.5 * rs, 1.5 * rs, 0, 0, 0, 0}, 1e-12);
  Tensor w = from_vector(std::vector<double>{1, 2, 3, 4}, {4}), b = full({4}, 10.0, DType::Float64);
  check_close(layer_norm(x, w, b, 1e-5).to_vector<double>(),
              {10 - 1.5 * rs, 10 - 1.0 * rs, 10 + 1.5 * rs, 10 + 6 * rs, 10, 10, 10, 10}, 1e-12);
}

TEST_CASE("nn: layer_norm gradcheck with affine, weight only, and none") {
  for (int affine = 0; affine < 3; ++affine) {
    CAPTURE(affine);
    Tensor w = affine >= 1 ? rand64({5}) : Tensor(), b = affine == 2 ? rand64({5}) : Tensor();
    auto r = gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); },
                       {rand64({2, 3, 5}), w, b});
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("nn: layer_norm kernels match their naive twins at odd sizes") {
  const long rows = 37, D = 19;
  Tensor x = randn({rows, D}, DType::Float64), w = randn({D}, DType::Float64), b = randn({D}, DType::Float64);
  Tensor g = randn({rows, D}, DType::Float64);
  using V = std::vector<double>;
  V y(rows * D), y_ref(rows * D), mean(rows), rstd(rows), mean_ref(rows), rstd_ref(rows);
  V dx(rows * D), dx_ref(rows * D), dw(D), dw_ref(D), db(D), db_ref(D);
  for (const double* wp : {(const double*)w.data<double>(), (const double*)nullptr}) {
    kernels::layer_norm_forward(y.data(), mean.data(), rstd.data(), x.data<double>(), wp, b.data<double>(), rows, D, 1e-5);
    kernels::layer_norm_forward_naive(y_ref.data(), mean_ref.data(), rstd_ref.data(), x.data<double>(), wp, b.data<double>(), rows, D, 1e-5);
    check_close(y, y_ref, 1e-12);
    check_close(rstd, rstd_ref, 1e-12);
    kernels::layer_norm_backward(dx.data(), dw.data(), db.data(), g.data<double>(), x.data<double>(), wp, mean.data(), rstd.data(), rows, D);
    kernels::layer_norm_backward_naive(dx_ref.data(), dw_ref.data(), db_ref.data(), g.data<double>(), x.data<double>(), wp, mean.data(), rstd.data(), rows, D);
    check_close(dx, dx_ref, 1e-10);
    check_close(dw, dw_ref, 1e-10);
    check_close(db, db_ref, 1e-10);
  }
}

TEST_CASE("nn: layer_norm gives identical bits at 1 and 2 threads") {
  Tensor x = randn({2001, 67}), w = randn({67}), b = randn({67});
  auto run = [&] {
    Tensor xr = x.clone().set_requires_grad(true), wr = w.clone().set_requires_grad(true),
           br = b.clone().set_requires_grad(true);
    Tensor y = layer_norm(xr, wr, br);
    Generator g(4);
    y.backward(randn(y.shape(), DType::Float32, g));
    std::vector<float> all = y.to_vector<float>();
    for (const Tensor& t : {xr.grad(), wr.grad(), br.grad()}) {
      auto v = t.to_vector<float>();
      all.insert(all.end(), v.begin(), v.end());
    }
    return all;
  };
  CHECK(with_threads(1, run) == with_threads(2, run));
}

TEST_CASE("nn: layer_norm rejects mismatched parameters with named errors") {
  Tensor x = randn({3, 4});
  CHECK_THROWS_WITH_AS(layer_norm(x, randn({5}), Tensor()), doctest::Contains("(3, 4)"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, Tensor(), randn({2, 2})), doctest::Contains("[layer_norm]"), Error);
  CHECK_THROWS_AS(layer_norm(x, randn({4}, DType::Float64), Tensor()), Error);
  CHECK_THROWS_AS(layer_norm(arange(4), Tensor(), Tensor()), Error);
  CHECK_THROWS_AS(layer_norm(scalar(1.0), Tensor(), Tensor()), Error);
  CHECK_THROWS_AS(layer_norm(x, Tensor(), Tensor(), -1.0), Error);
}
