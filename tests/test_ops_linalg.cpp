#include <doctest/doctest.h>

#include <omp.h>

#include <cmath>
#include <cstring>

#include "autograd/gradcheck.h"
#include "autograd/ops_linalg.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "core/random.h"
#include "core/threads.h"
#include "kernels/bias.h"
#include "kernels/blas.h"

using namespace pmx;

static Tensor rand64(const Shape& s) { return randn(s, DType::Float64).set_requires_grad(true); }

TEST_CASE("linalg: gemm matches its naive twin for every transpose at odd sizes") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      int64_t M = 7, N = 5, K = 3;
      Tensor a = randn({ta ? K : M, ta ? M : K}), b = randn({tb ? N : K, tb ? K : N});
      Tensor c1 = randn({M, N}), c2 = c1.clone();
      kernels::gemm(ta, tb, M, N, K, 0.5f, a.data<float>(), a.size(1), b.data<float>(), b.size(1), 2.f,
                    c1.data<float>(), N);
      kernels::gemm_naive(ta, tb, M, N, K, 0.5f, a.data<float>(), a.size(1), b.data<float>(), b.size(1), 2.f,
                          c2.data<float>(), N);
      auto x = c1.to_vector<float>(), y = c2.to_vector<float>();
      for (size_t i = 0; i < x.size(); ++i) CHECK(x[i] == doctest::Approx(y[i]).epsilon(1e-5));
    }
}

TEST_CASE("linalg: gemm split by pmx (tall and deep shapes) or kept on one thread (small) matches naive, same bits at 1 and 2 threads") {
  // Tall: many rows of C, cut into row blocks. Deep: a long inner size, cut into chunks whose
  // products are added in order. Both are fixed by the shape, so 1 and 2 threads agree bit for
  // bit; beta = 0 must not read C (NaN there), beta != 0 must scale it; ldc > N is respected.
  // Small (below ~8 MFLOP, neither tall nor deep): one thread whatever the count, so the same
  // bits too, and the thread count is back to 2 after the call.
  struct Case { int64_t M, N, K; };
  const int previous = get_num_threads();
  for (Case c : {Case{2051, 33, 17}, Case{37, 29, 16411}, Case{509, 97, 33}})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.f, 0.5f}) {
          CAPTURE(c.M);
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(beta);
          const int64_t ldc = c.N + 3;
          Tensor a = randn({ta ? c.K : c.M, ta ? c.M : c.K}), b = randn({tb ? c.N : c.K, tb ? c.K : c.N});
          std::vector<float> c0 = randn({c.M, ldc}).to_vector<float>();
          if (beta == 0.f)
            for (int64_t i = 0; i < c.M; ++i)
              for (int64_t j = 0; j < c.N; ++j) c0[size_t(i * ldc + j)] = std::nanf("");
          std::vector<std::vector<float>> runs;
          for (int threads : {1, 2}) {
            set_num_threads(threads);
            std::vector<float> out = c0;
            kernels::gemm(ta, tb, c.M, c.N, c.K, 0.75f, a.data<float>(), a.size(1), b.data<float>(), b.size(1), beta,
                          out.data(), ldc);
            CHECK(get_num_threads() == threads);
            CHECK(omp_get_max_threads() == threads);
            runs.push_back(out);
          }
          set_num_threads(previous);
          std::vector<float> want = c0;
          if (beta == 0.f) std::fill(want.begin(), want.end(), 0.f);  // the naive twin reads C only if beta != 0
          for (int64_t i = 0; i < c.M; ++i)
            for (int64_t j = c.N; j < ldc; ++j) want[size_t(i * ldc + j)] = c0[size_t(i * ldc + j)];
          kernels::gemm_naive(ta, tb, c.M, c.N, c.K, 0.75f, a.data<float>(), a.size(1), b.data<float>(), b.size(1),
                              beta, want.data(), ldc);
          CHECK(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * sizeof(float)) == 0);
          bool close = true;
          for (size_t e = 0; e < want.size(); ++e)
            close &= std::abs(runs[1][e] - want[e]) <= 1e-3f * (1 + std::abs(want[e]));
          CHECK(close);
        }
}

TEST_CASE("linalg: column_sum matches naive and is identical at 1 and 2 threads") {
  Tensor x = randn({2051, 33});
  Tensor s1 = empty({33}), s2 = empty({33}), s3 = empty({33});
  int before = get_num_threads();
  set_num_threads(1);
  kernels::column_sum(s1.data<float>(), x.data<float>(), 2051, 33);
  set_num_threads(2);
  kernels::column_sum(s2.data<float>(), x.data<float>(), 2051, 33);
  set_num_threads(before);
  kernels::column_sum_naive(s3.data<float>(), x.data<float>(), 2051, 33);
  CHECK(std::memcmp(s1.data<float>(), s2.data<float>(), 33 * 4) == 0);
  for (int i = 0; i < 33; ++i) CHECK(s1.data<float>()[i] == doctest::Approx(s3.data<float>()[i]).epsilon(1e-4));
}

TEST_CASE("linalg: matmul values and shapes") {
  Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector(std::vector<float>{1, 0, 0, 1, 1, 1}, {3, 2});
  CHECK(matmul(a, b).to_vector<float>() == std::vector<float>{4, 5, 10, 11});
  CHECK(matmul(transpose(b, 0, 1), transpose(a, 0, 1)).to_vector<float>() == std::vector<float>{4, 10, 5, 11});
  CHECK(matmul(randn({4, 2, 3}), randn({3, 5})).shape() == Shape{4, 2, 5});
  CHECK(matmul(randn({4, 1, 2, 3}), randn({6, 3, 5})).shape() == Shape{4, 6, 2, 5});
  CHECK(matmul(randn({3}), randn({3, 5})).shape() == Shape{5});
  CHECK_THROWS_WITH_AS(matmul(randn({2, 3}), randn({4, 2})), doctest::Contains("[matmul] inner sizes differ"), Error);
  CHECK_THROWS_AS(matmul(randn({2, 3}), randn({3, 2}, DType::Float64)), Error);
}

TEST_CASE("linalg: gradcheck matmul (2-D, batched, broadcast, transposed views)") {
  auto f = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  for (auto [sa, sb] : std::vector<std::pair<Shape, Shape>>{
           {{3, 4}, {4, 2}}, {{2, 3, 4}, {4, 5}}, {{3, 3, 4}, {4, 5}}, {{2, 1, 3, 4}, {3, 4, 2}}, {{4}, {4, 3}},
           {{2, 3, 4}, {4}}}) {
    // ({3, 3, 4}, {4, 5}): the 2-D weight's gradient sums an odd number (9) of flattened rows.
    auto r = gradcheck(f, {rand64(sa), rand64(sb)});
    CHECK_MESSAGE(r.ok, r.message);
  }
  auto ft = [](const std::vector<Tensor>& in) { return matmul(transpose(in[0], 0, 1), in[1]); };
  auto r = gradcheck(ft, {rand64({4, 3}), rand64({4, 2})});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("linalg: batched matmul at 1 and 2 threads: the same bits, each product in its place") {
  // 6 x 5 broadcast products: at 2 threads they run side by side (single-threaded GEMMs), so the
  // bits must match one thread's; each block is checked against the naive product of its operands.
  const int previous = get_num_threads();
  manual_seed(31);
  Tensor a = randn({6, 1, 40, 30}), b = randn({5, 30, 20});
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    runs.push_back(matmul(a, b).to_vector<float>());
  }
  set_num_threads(previous);
  CHECK(runs[0] == runs[1]);
  std::vector<float> want(40 * 20);
  bool all_close = true;
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      kernels::gemm_naive(false, false, 40, 20, 30, 1.f, a.data<float>() + i * 40 * 30, 30,
                          b.data<float>() + j * 30 * 20, 20, 0.f, want.data(), 20);
      const float* got = runs[1].data() + (i * 5 + j) * 40 * 20;
      for (size_t e = 0; e < want.size(); ++e) all_close &= std::abs(got[e] - want[e]) <= 1e-4f * (1 + std::abs(want[e]));
    }
  CHECK(all_close);
}

TEST_CASE("linalg: linear equals x W^T + b and passes gradcheck") {
  Tensor x = from_vector(std::vector<float>{1, 2}, {1, 2});
  Tensor w = from_vector(std::vector<float>{1, 1, 2, -1}, {2, 2});
  Tensor b = from_vector(std::vector<float>{0.5f, -0.5f}, {2});
  CHECK(linear(x, w, b).to_vector<float>() == std::vector<float>{3.5f, -0.5f});
  CHECK(linear(x, w).to_vector<float>() == std::vector<float>{3, 0});
  auto f = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  auto r = gradcheck(f, {rand64({2, 3, 5}), rand64({4, 5}), rand64({4})});
  CHECK_MESSAGE(r.ok, r.message);
  auto f2 = [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); };
  r = gradcheck(f2, {rand64({3, 5}), rand64({4, 5})});
  CHECK_MESSAGE(r.ok, r.message);
  CHECK_THROWS_WITH_AS(linear(randn({2, 3}), randn({4, 5})), doctest::Contains("[linear]"), Error);
  CHECK_THROWS_AS(linear(randn({2, 5}), randn({4, 5}), randn({3})), Error);
}

TEST_CASE("linalg: an empty inner dim (K = 0) gives zeros from matmul and the bias from linear") {
  // Both ops divided numel by the inner size to count rows, so K = 0 died with SIGFPE.
  for (int i = 0; i < 4; ++i) Tensor dirty = full({6, 4}, 7.0);  // stale values in the cache
  CHECK(matmul(zeros({2, 3, 0}), zeros({0, 4})).to_vector<float>() == std::vector<float>(24, 0.f));
  CHECK(linear(zeros({2, 0}), zeros({3, 0})).to_vector<float>() == std::vector<float>(6, 0.f));
  Tensor w = zeros({3, 0}).set_requires_grad(true);
  Tensor b = from_vector(std::vector<float>{1, 2, 3}, {3}).set_requires_grad(true);
  Tensor x = zeros({2, 2, 0}).set_requires_grad(true);
  Tensor y = linear(x, w, b);
  CHECK(y.shape() == Shape{2, 2, 3});
  CHECK(y.to_vector<float>() == std::vector<float>{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3});
  sum(y).backward();
  CHECK(b.grad().to_vector<float>() == std::vector<float>{4, 4, 4});
  CHECK(w.grad().shape() == Shape{3, 0});
  CHECK(x.grad().shape() == Shape{2, 2, 0});
}
