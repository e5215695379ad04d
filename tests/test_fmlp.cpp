// Tests of the row-chunked factor MLPs: kernels/fmlp.h and autograd/ops_factor_mlps.h.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_factor_mlps.h"
#include "autograd/ops_linalg.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "core/random.h"
#include "core/threads.h"
#include "kernels/blas.h"
#include "kernels/fmlp.h"

using namespace pmx;

namespace {

struct ThreadCountGuard {
  int previous = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(previous); }
};

// M factors' parameters, PyTorch layouts, as leaves.
struct Params {
  std::vector<Tensor> w1, b1, w2, b2;
  Params(int64_t M, int64_t d, int64_t h, int64_t K, DType dt, bool grad) {
    for (int64_t m = 0; m < M; ++m) {
      w1.push_back(randn({h, d}, dt).set_requires_grad(grad));
      b1.push_back(randn({h}, dt).set_requires_grad(grad));
      w2.push_back(randn({K, h}, dt).set_requires_grad(grad));
      b2.push_back(randn({K}, dt).set_requires_grad(grad));
    }
  }
  std::vector<Tensor> all() const {
    std::vector<Tensor> v;
    for (auto* g : {&w1, &b1, &w2, &b2}) v.insert(v.end(), g->begin(), g->end());
    return v;
  }
};

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0, scale = 1e-3;
  for (float v : b) scale = std::max(scale, double(std::fabs(v)));
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])) / scale);
  return worst;
}

std::vector<float> random_floats(size_t n) { return randn({int64_t(n)}).to_vector<float>(); }

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  auto va = a.to_vector<float>(), vb = b.to_vector<float>();
  return std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("fmlp: small gemm matches gemm_naive at odd sizes, A plain or transposed, bias, accumulate") {
  manual_seed(1);
  for (long rows : {1L, 5L, 7L, 13L}) for (long n : {1L, 9L, 16L, 33L}) for (long k : {1L, 13L, 64L})
    for (bool trans : {false, true}) for (bool accumulate : {false, true}) {
      CAPTURE(rows);
      CAPTURE(n);
      CAPTURE(k);
      CAPTURE(trans);
      CAPTURE(accumulate);
      std::vector<float> a = random_floats(size_t(rows * k)), b = random_floats(size_t(k * n + 3));
      std::vector<float> bias = random_floats(size_t(n)), c = random_floats(size_t(rows * (n + 2)));
      std::vector<float> want = c;
      // Reference: C = A B (+ C), then + bias; ldc = n + 2 and ldb = n exercise strides.
      kernels::gemm_naive(trans, false, rows, n, k, 1.f, a.data(), trans ? rows : k, b.data(), n,
                          accumulate ? 1.f : 0.f, want.data(), n + 2);
      for (long i = 0; i < rows; ++i) for (long j = 0; j < n; ++j) want[i * (n + 2) + j] += bias[j];
      kernels::fmlp_small_gemm(c.data(), n + 2, a.data(), trans ? 1 : k, trans ? rows : 1, b.data(), n, bias.data(),
                               rows, n, k, accumulate);
      CHECK(max_rel_diff(c, want) < 1e-5);
    }
}

TEST_CASE("fmlp: small gemm writes exactly n columns at every partial tile width") {
  // The micro-kernel stores a partial tile (n % 16 != 0) with 4-, 2- and 1-lane stores; every
  // width 1..15 takes a different combination. The columns between n and ldc must stay intact.
  manual_seed(2);
  const long rows = 7, k = 5;
  for (long n = 1; n <= 32; ++n) {
    CAPTURE(n);
    const long ldc = n + 3;
    std::vector<float> a = random_floats(size_t(rows * k)), b = random_floats(size_t(k * n));
    std::vector<float> c = random_floats(size_t(rows * ldc)), want = c;
    kernels::gemm_naive(false, false, rows, n, k, 1.f, a.data(), k, b.data(), n, 0.f, want.data(), ldc);
    kernels::fmlp_small_gemm<float>(c.data(), ldc, a.data(), k, 1, b.data(), n, nullptr, rows, n, k, false);
    CHECK(max_rel_diff(c, want) < 1e-5);
    bool padding_intact = true;
    for (long i = 0; i < rows; ++i)
      for (long j = n; j < ldc; ++j) padding_intact &= c[size_t(i * ldc + j)] == want[size_t(i * ldc + j)];
    CHECK(padding_intact);
  }
}

TEST_CASE("fmlp: kernels match the naive twin at odd sizes, micro-kernel and BLAS paths") {
  manual_seed(2);
  for (long R : {1L, 63L, 150L, 1100L}) {
    kernels::FmlpSizes s{R, 7, 19, 13, 3};
    CAPTURE(R);
    auto x = random_floats(size_t(s.R * s.d)), w1 = random_floats(size_t(s.M * s.h * s.d));
    auto b1 = random_floats(size_t(s.M * s.h)), w2 = random_floats(size_t(s.M * s.K * s.h));
    auto b2 = random_floats(size_t(s.M * s.K)), dy = random_floats(size_t(s.M * s.R * s.K));
    std::vector<float> out_ref(size_t(s.M * s.R * s.K)), dx_ref(x.size()), dw1_ref(w1.size()), db1_ref(b1.size()),
        dw2_ref(w2.size()), db2_ref(b2.size());
    kernels::fmlp_forward_naive(out_ref.data(), x.data(), w1.data(), b1.data(), w2.data(), b2.data(), s);
    kernels::fmlp_backward_naive(dx_ref.data(), dw1_ref.data(), db1_ref.data(), dw2_ref.data(), db2_ref.data(),
                                 dy.data(), x.data(), w1.data(), b1.data(), w2.data(), s);
    for (auto path : {kernels::FmlpGemm::Micro, kernels::FmlpGemm::Blas}) {
      CAPTURE(int(path));
      std::vector<float> out(out_ref.size()), dx(x.size()), dw1(w1.size()), db1(b1.size()), dw2(w2.size()),
          db2(b2.size());
      std::vector<float> ws(size_t(std::max(kernels::fmlp_forward_workspace(s), kernels::fmlp_backward_workspace(s))));
      kernels::fmlp_forward(out.data(), x.data(), w1.data(), b1.data(), w2.data(), b2.data(), ws.data(), s, path);
      kernels::fmlp_backward(dx.data(), dw1.data(), db1.data(), dw2.data(), db2.data(), dy.data(), x.data(),
                             w1.data(), b1.data(), w2.data(), ws.data(), s, path);
      CHECK(max_rel_diff(out, out_ref) < 1e-5);
      CHECK(max_rel_diff(dx, dx_ref) < 1e-5);
      CHECK(max_rel_diff(dw1, dw1_ref) < 1e-5);
      CHECK(max_rel_diff(db1, db1_ref) < 1e-5);
      CHECK(max_rel_diff(dw2, dw2_ref) < 1e-5);
      CHECK(max_rel_diff(db2, db2_ref) < 1e-5);
      // Skipping dX or the parameter gradients leaves the other results unchanged.
      std::vector<float> dx_only(x.size());
      kernels::fmlp_backward<float>(dx_only.data(), nullptr, nullptr, nullptr, nullptr, dy.data(), x.data(),
                                    w1.data(), b1.data(), w2.data(), ws.data(), s, path);
      CHECK(dx_only == dx);
    }
  }
}

TEST_CASE("fmlp: one hidden unit or one output (h = 1, K = 1) on both paths") {
  // There the weight gradients' A operand is one row with both strides 1; the BLAS path passed
  // lda = 1, which OpenBLAS refuses, and dW1 (h = 1) or dW2 (K = 1) came back unwritten.
  manual_seed(3);
  for (kernels::FmlpSizes s : {kernels::FmlpSizes{70, 7, 1, 5, 2}, kernels::FmlpSizes{70, 7, 6, 1, 2},
                               kernels::FmlpSizes{70, 1, 1, 1, 1}}) {
    CAPTURE(s.d);
    CAPTURE(s.h);
    CAPTURE(s.K);
    auto x = random_floats(size_t(s.R * s.d)), w1 = random_floats(size_t(s.M * s.h * s.d));
    auto b1 = random_floats(size_t(s.M * s.h)), w2 = random_floats(size_t(s.M * s.K * s.h));
    auto dy = random_floats(size_t(s.M * s.R * s.K));
    std::vector<float> dx_ref(x.size()), dw1_ref(w1.size()), db1_ref(b1.size()), dw2_ref(w2.size()),
        db2_ref(size_t(s.M * s.K));
    kernels::fmlp_backward_naive(dx_ref.data(), dw1_ref.data(), db1_ref.data(), dw2_ref.data(), db2_ref.data(),
                                 dy.data(), x.data(), w1.data(), b1.data(), w2.data(), s);
    for (auto path : {kernels::FmlpGemm::Micro, kernels::FmlpGemm::Blas}) {
      CAPTURE(int(path));
      std::vector<float> dx(x.size()), dw1(w1.size(), 9.0f), db1(b1.size()), dw2(w2.size(), 9.0f), db2(db2_ref.size());
      std::vector<float> ws(size_t(kernels::fmlp_backward_workspace(s)));
      kernels::fmlp_backward(dx.data(), dw1.data(), db1.data(), dw2.data(), db2.data(), dy.data(), x.data(),
                             w1.data(), b1.data(), w2.data(), ws.data(), s, path);
      CHECK(max_rel_diff(dx, dx_ref) < 1e-5);
      CHECK(max_rel_diff(dw1, dw1_ref) < 1e-5);
      CHECK(max_rel_diff(db1, db1_ref) < 1e-5);
      CHECK(max_rel_diff(dw2, dw2_ref) < 1e-5);
      CHECK(max_rel_diff(db2, db2_ref) < 1e-5);
    }
  }
}

TEST_CASE("fmlp: per-factor gradients, a missing one counting as zero, match the packed entry") {
  manual_seed(4);
  kernels::FmlpSizes s{150, 7, 19, 13, 3};
  auto x = random_floats(size_t(s.R * s.d)), w1 = random_floats(size_t(s.M * s.h * s.d));
  auto b1 = random_floats(size_t(s.M * s.h)), w2 = random_floats(size_t(s.M * s.K * s.h));
  std::vector<float> ws(size_t(kernels::fmlp_backward_workspace(s)));
  const long per_factor = s.R * s.K;
  // All five gradients side by side; d_out is the packed (M, R, K) buffer or M per-factor pointers.
  auto run = [&](auto d_out) {
    std::vector<float> all(size_t(s.R * s.d + s.M * (s.h * s.d + s.h + s.K * s.h + s.K)), 7.f);  // overwritten
    float* dx = all.data();
    float* dw1 = dx + s.R * s.d;
    float* db1 = dw1 + s.M * s.h * s.d;
    float* dw2 = db1 + s.M * s.h;
    float* db2 = dw2 + s.M * s.K * s.h;
    kernels::fmlp_backward<float>(dx, dw1, db1, dw2, db2, d_out, x.data(), w1.data(), b1.data(), w2.data(),
                                  ws.data(), s);
    return all;
  };
  const std::vector<float> dy = random_floats(size_t(s.M * per_factor));
  // Every factor given: the same bits as the packed (M, R, K) entry.
  const std::vector<const float*> all_given{dy.data(), dy.data() + per_factor, dy.data() + 2 * per_factor};
  CHECK(run(all_given.data()) == run(dy.data()));
  // The first factor missing (so dX is first written by the second): as if its gradient were zero.
  std::vector<float> dy_zero_first = dy;
  std::fill(dy_zero_first.begin(), dy_zero_first.begin() + per_factor, 0.f);
  const std::vector<const float*> first_missing{nullptr, dy.data() + per_factor, dy.data() + 2 * per_factor};
  CHECK(run(first_missing.data()) == run(dy_zero_first.data()));
  // None given: every gradient is zero.
  const std::vector<const float*> none_given{nullptr, nullptr, nullptr};
  std::vector<float> none = run(none_given.data());
  CHECK(std::all_of(none.begin(), none.end(), [](float v) { return v == 0.f; }));
}

TEST_CASE("fmlp: the AVX-512 micro-kernel gives the AVX2 kernel's bits") {
  // Same per-element arithmetic at either width (init, + bias, one FMA per k in order), so
  // small gemm, forward and backward must agree bit for bit. Only checkable on an AVX-512 CPU.
  kernels::set_fmlp_avx512(true);
  const bool avx512 = kernels::fmlp_avx512_active();
  INFO("AVX-512 fmlp micro-kernel on this CPU: ", avx512);
  if (!avx512) return;
  manual_seed(5);
  auto both = [](auto&& run) {  // run() with AVX-512 off, then on; returns the two results
    kernels::set_fmlp_avx512(false);
    auto off = run();
    kernels::set_fmlp_avx512(true);
    auto on = run();
    return std::make_pair(off, on);
  };
  // k = 32 gives A the row stride the kernel takes as a compile-time constant (so does trans: 1).
  for (long rows : {1L, 7L, 12L, 13L, 25L}) for (long n : {1L, 9L, 16L, 17L, 32L, 33L, 70L})
    for (long k : {13L, 32L}) for (bool trans : {false, true}) for (bool accumulate : {false, true}) {
      CAPTURE(rows);
      CAPTURE(n);
      CAPTURE(k);
      CAPTURE(trans);
      CAPTURE(accumulate);
      const long ldc = n + 3;
      std::vector<float> a = random_floats(size_t(rows * k)), b = random_floats(size_t(k * n));
      std::vector<float> bias = random_floats(size_t(n)), c0 = random_floats(size_t(rows * ldc));
      auto [off, on] = both([&] {
        std::vector<float> c = c0;
        kernels::fmlp_small_gemm(c.data(), ldc, a.data(), trans ? 1 : k, trans ? rows : 1, b.data(), n,
                                 bias.data(), rows, n, k, accumulate);
        return c;
      });
      CHECK(std::memcmp(off.data(), on.data(), off.size() * sizeof(float)) == 0);
    }
  kernels::FmlpSizes s{150, 32, 32, 11, 4};
  auto x = random_floats(size_t(s.R * s.d)), w1 = random_floats(size_t(s.M * s.h * s.d));
  auto b1 = random_floats(size_t(s.M * s.h)), w2 = random_floats(size_t(s.M * s.K * s.h));
  auto b2 = random_floats(size_t(s.M * s.K)), dy = random_floats(size_t(s.M * s.R * s.K));
  auto [off, on] = both([&] {
    std::vector<float> ws(size_t(std::max(kernels::fmlp_forward_workspace(s), kernels::fmlp_backward_workspace(s))));
    std::vector<float> out(size_t(s.M * s.R * s.K)), dx(x.size()), dw1(w1.size()), db1(b1.size());
    std::vector<float> dw2(w2.size()), db2(b2.size());
    kernels::fmlp_forward(out.data(), x.data(), w1.data(), b1.data(), w2.data(), b2.data(), ws.data(), s);
    kernels::fmlp_backward(dx.data(), dw1.data(), db1.data(), dw2.data(), db2.data(), dy.data(), x.data(),
                           w1.data(), b1.data(), w2.data(), ws.data(), s);
    std::vector<float> all = out;
    for (auto* v : {&dx, &dw1, &db1, &dw2, &db2}) all.insert(all.end(), v->begin(), v->end());
    return all;
  });
  CHECK(std::memcmp(off.data(), on.data(), off.size() * sizeof(float)) == 0);
}

TEST_CASE("fmlp: factor_mlps by hand, one factor of width one") {
  // f(x) = 3 gelu(2 x + 0.5) - 1, gelu(z) = z Phi(z): gelu(2.5) = 2.48447582, gelu(0.5) = 0.34573123.
  Tensor x = from_vector(std::vector<float>{1.f, 0.f}, {2, 1});
  Tensor out = factor_mlps(x, {from_vector(std::vector<float>{2.f}, {1, 1})}, {from_vector(std::vector<float>{0.5f}, {1})},
                           {from_vector(std::vector<float>{3.f}, {1, 1})}, {from_vector(std::vector<float>{-1.f}, {1})});
  REQUIRE(out.shape() == Shape{1, 2, 1});
  auto v = out.to_vector<float>();
  CHECK(v[0] == doctest::Approx(6.45342746).epsilon(1e-6));
  CHECK(v[1] == doctest::Approx(0.03719369).epsilon(1e-5));
}

TEST_CASE("fmlp: factor_mlps_groups forgets a backward pass's group gradients before the next one") {
  // Two backward passes over one retained graph: the first reaches groups 0 and 1, the second
  // only group 0. The second must give the gradients of a fresh graph with group 0 alone, not
  // reuse group 1's gradient from the first pass.
  manual_seed(8);
  const int64_t R = 70, d = 5, h = 6, K = 3, M = 2;
  Params p(M, d, h, K, DType::Float64, true);
  Tensor x = randn({R, d}, DType::Float64).set_requires_grad(true);
  Tensor s0 = randn({R, K}, DType::Float64), s1 = randn({R, K}, DType::Float64);
  std::vector<Tensor> leaves{x};
  for (const Tensor& t : p.all()) leaves.push_back(t);
  auto grads_and_reset = [&] {
    std::vector<std::vector<double>> g;
    for (const Tensor& t : leaves) {
      g.push_back(t.grad().defined() ? t.grad().to_vector<double>() : std::vector<double>{});
      t.impl().grad.reset();
    }
    return g;
  };
  std::vector<Tensor> groups = factor_mlps_groups(x, p.w1, p.b1, p.w2, p.b2);
  add(sum(mul(groups[0], s0)), sum(mul(groups[1], s1))).backward(Tensor(), /*retain_graph=*/true);
  grads_and_reset();
  sum(mul(groups[0], s0)).backward();
  auto second = grads_and_reset();
  std::vector<Tensor> fresh = factor_mlps_groups(x, p.w1, p.b1, p.w2, p.b2);
  sum(mul(fresh[0], s0)).backward();
  auto want = grads_and_reset();
  for (size_t i = 0; i < leaves.size(); ++i) {
    CAPTURE(i);
    CHECK(second[i] == want[i]);
  }
}

TEST_CASE("fmlp: factor_mlps equals the per-factor MLPs, values and every gradient") {
  manual_seed(3);
  const int64_t R = 201, d = 9, h = 17, K = 5, M = 3;
  Params p(M, d, h, K, DType::Float32, true);
  Tensor x = randn({R, d}).set_requires_grad(true);
  Tensor seed = randn({M, R, K});
  Tensor out = factor_mlps(x, p.w1, p.b1, p.w2, p.b2);
  sum(mul(out, seed)).backward();
  std::vector<Tensor> got{x.grad()};
  for (const Tensor& t : p.all()) got.push_back(t.grad()), t.impl().grad.reset();
  x.impl().grad.reset();
  Tensor ref_loss = scalar(0.0);
  for (int64_t m = 0; m < M; ++m) {
    Tensor ref = linear(gelu(linear(x, p.w1[m], p.b1[m])), p.w2[m], p.b2[m]);  // (R, K)
    std::vector<float> a = out.to_vector<float>();
    std::vector<float> slab(a.begin() + m * R * K, a.begin() + (m + 1) * R * K);
    CHECK(max_rel_diff(slab, ref.to_vector<float>()) < 1e-5);
    Tensor seed_m = reshape(contiguous(make_view(seed, {R, K}, {K, 1}, m * R * K)), {R, K});
    ref_loss = add(ref_loss, sum(mul(ref, seed_m)));
  }
  ref_loss.backward();
  std::vector<Tensor> want{x.grad()};
  for (const Tensor& t : p.all()) want.push_back(t.grad());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    REQUIRE(got[i].defined());
    CHECK(max_rel_diff(got[i].to_vector<float>(), want[i].to_vector<float>()) < 1e-4);
  }
}

TEST_CASE("fmlp: gradcheck in float64, all inputs and parameters, both entry points") {
  manual_seed(4);
  const int64_t R = 70, d = 3, h = 5, K = 4, M = 2;  // R spans two chunks
  Params p(M, d, h, K, DType::Float64, true);
  std::vector<Tensor> inputs{randn({R, d}, DType::Float64).set_requires_grad(true)};
  for (const Tensor& t : p.all()) inputs.push_back(t);
  auto split = [M](const std::vector<Tensor>& in, int group) {
    return std::vector<Tensor>(in.begin() + 1 + group * M, in.begin() + 1 + (group + 1) * M);
  };
  auto r = gradcheck([&](const std::vector<Tensor>& in) {
    return factor_mlps(in[0], split(in, 0), split(in, 1), split(in, 2), split(in, 3));
  }, inputs);
  CHECK_MESSAGE(r.ok, r.message);
  // Groups: only factor 1 used, so factor 0's block of the shared gradient must read as zero.
  auto rg = gradcheck([&](const std::vector<Tensor>& in) {
    return factor_mlps_groups(in[0], split(in, 0), split(in, 1), split(in, 2), split(in, 3))[1];
  }, inputs);
  CHECK_MESSAGE(rg.ok, rg.message);
  auto rc = gradcheck([&](const std::vector<Tensor>& in) {
    auto g = factor_mlps_groups(in[0], split(in, 0), split(in, 1), split(in, 2), split(in, 3));
    return add(g[0], mul(g[1], 2.0));
  }, inputs);
  CHECK_MESSAGE(rc.ok, rc.message);
}

TEST_CASE("fmlp: 1 and 2 threads give bit-identical outputs and gradients") {
  ThreadCountGuard guard;
  manual_seed(5);
  const int64_t R = 3001, d = 33, h = 31, K = 13, M = 4;
  Params p(M, d, h, K, DType::Float32, true);
  Tensor x = randn({R, d}).set_requires_grad(true);
  Tensor seed = randn({M, R, K});
  std::vector<std::vector<Tensor>> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    std::vector<Tensor> params = p.all();
    for (Tensor& t : params) t.impl().grad.reset();
    x.impl().grad.reset();
    Tensor out = factor_mlps(x, p.w1, p.b1, p.w2, p.b2);
    sum(mul(out, seed)).backward();
    std::vector<Tensor> run{out.detach(), x.grad()};
    for (const Tensor& t : params) run.push_back(t.grad());
    runs.push_back(run);
  }
  for (size_t i = 0; i < runs[0].size(); ++i) {
    CAPTURE(i);
    CHECK(same_bits(runs[0][i], runs[1][i]));
  }
}

TEST_CASE("fmlp: factor_mlps rejects bad shapes and dtypes, naming the op") {
  manual_seed(6);
  Params p(2, 4, 6, 3, DType::Float32, false);
  Tensor x = randn({10, 4});
  auto throws_named = [](auto&& call, const char* what) {
    try {
      call();
      FAIL("no error for: ", what);
    } catch (const Error& e) {
      std::string msg = e.what();
      CHECK_MESSAGE(msg.find("[factor_mlps]") != std::string::npos, msg);
      CHECK_MESSAGE(msg.find(what) != std::string::npos, msg);
    }
  };
  throws_named([&] { factor_mlps(randn({10}), p.w1, p.b1, p.w2, p.b2); }, "x must be (R, d)");
  throws_named([&] { factor_mlps(x, {}, {}, {}, {}); }, "at least one factor");
  throws_named([&] { factor_mlps(x, p.w1, {p.b1[0]}, p.w2, p.b2); }, "1 b1");
  throws_named([&] { factor_mlps(randn({10, 5}), p.w1, p.b1, p.w2, p.b2); }, "w1[0] must be (h, 5)");
  throws_named([&] { factor_mlps(x, {p.w1[0], randn({7, 4})}, p.b1, p.w2, p.b2); }, "w1[1] must be (6, 4)");
  throws_named([&] { factor_mlps(x, p.w1, {p.b1[0], randn({5})}, p.w2, p.b2); }, "b1[1] must be (6,)");
  throws_named([&] { factor_mlps(x, p.w1, p.b1, {p.w2[0], randn({3, 5})}, p.b2); }, "w2[1] must be (3, 6)");
  throws_named([&] { factor_mlps(x, p.w1, p.b1, p.w2, {randn({4}), p.b2[1]}); }, "b2[0] must be (3,)");
  throws_named([&] { factor_mlps(x.to(DType::Float64), p.w1, p.b1, p.w2, p.b2); }, "is float32 but x is float64");
  throws_named([&] { factor_mlps(zeros({10, 4}, DType::Int64), p.w1, p.b1, p.w2, p.b2); }, "floating");
  CHECK_THROWS_AS(factor_mlps_groups(x, p.w1, p.b1, p.w2, {p.b2[0]}), Error);
}
