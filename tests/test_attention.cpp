// MultiheadSelfAttention: a naive loop reference, gradients in float64, permutation equivariance,
// parameter layout, errors, dropout modes and thread-count independence.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops_attention.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "core/random.h"
#include "core/threads.h"
#include "kernels/attention.h"
#include "kernels/blas.h"
#include "layers/attention.h"

using namespace pmx;

namespace {

// Attention by the definition, in double, from the module's own weights: x (B, N, d) -> (B, N, d).
std::vector<double> naive_attention(const nn::MultiheadSelfAttention& attn, const std::vector<double>& x,
                                    int64_t B, int64_t N) {
  const int64_t d = attn.dim, H = attn.heads, dh = attn.head_dim;
  std::vector<double> w_in = attn.in_proj_weight.to_vector<double>(), b_in = attn.in_proj_bias.to_vector<double>();
  std::vector<double> w_out = attn.out_proj->weight.to_vector<double>(), b_out = attn.out_proj->bias.to_vector<double>();
  std::vector<double> qkv(B * N * 3 * d), context(B * N * d), out(B * N * d);
  for (int64_t r = 0; r < B * N; ++r)
    for (int64_t o = 0; o < 3 * d; ++o) {
      double acc = b_in[o];
      for (int64_t i = 0; i < d; ++i) acc += x[r * d + i] * w_in[o * d + i];
      qkv[r * 3 * d + o] = acc;
    }
  auto at = [&](int64_t b, int64_t n, int64_t part, int64_t h, int64_t c) {
    return qkv[(b * N + n) * 3 * d + part * d + h * dh + c];
  };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < N; ++i) {
        std::vector<double> s(N);
        double top = -1e300, total = 0;
        for (int64_t j = 0; j < N; ++j) {
          double dot = 0;
          for (int64_t c = 0; c < dh; ++c) dot += at(b, i, 0, h, c) * at(b, j, 1, h, c);
          s[j] = dot / std::sqrt(double(dh));
          top = std::max(top, s[j]);
        }
        for (int64_t j = 0; j < N; ++j) total += (s[j] = std::exp(s[j] - top));
        for (int64_t c = 0; c < dh; ++c) {
          double acc = 0;
          for (int64_t j = 0; j < N; ++j) acc += s[j] / total * at(b, j, 2, h, c);
          context[(b * N + i) * d + h * dh + c] = acc;
        }
      }
  for (int64_t r = 0; r < B * N; ++r)
    for (int64_t o = 0; o < d; ++o) {
      double acc = b_out[o];
      for (int64_t i = 0; i < d; ++i) acc += context[r * d + i] * w_out[o * d + i];
      out[r * d + o] = acc;
    }
  return out;
}

// Non-zero biases, so the test sees whether they are used (PyTorch initialises them to zero).
void randomize_biases(nn::MultiheadSelfAttention& attn) {
  uniform_(attn.in_proj_bias, -0.5, 0.5);
  uniform_(attn.out_proj->bias, -0.5, 0.5);
}

}  // namespace

TEST_CASE("attention: matches a naive loop reference (B=2, N=5, d=8, heads=2)") {
  manual_seed(3);
  nn::MultiheadSelfAttention attn(8, 2);
  randomize_biases(attn);
  Tensor x = randn({2, 5, 8});
  Tensor y = attn(x);
  REQUIRE(y.shape() == Shape{2, 5, 8});
  std::vector<double> ref = naive_attention(attn, x.to_vector<double>(), 2, 5);
  std::vector<float> got = y.to_vector<float>();
  for (size_t i = 0; i < ref.size(); ++i) CHECK(got[i] == doctest::Approx(ref[i]).epsilon(1e-4));

  attn.to(DType::Float64);
  Tensor x64 = x.to(DType::Float64);
  std::vector<double> got64 = attn(x64).to_vector<double>();
  for (size_t i = 0; i < ref.size(); ++i) CHECK(got64[i] == doctest::Approx(ref[i]).epsilon(1e-12));
}

TEST_CASE("attention: one head of size 1 with equal keys averages the values (hand-computed)") {
  // d = 1: q = k = v = w x + b. With w_q = w_k = 0 all scores are 0, so every row averages V.
  nn::MultiheadSelfAttention attn(1, 1);
  float* w = attn.in_proj_weight.data<float>();
  w[0] = 0, w[1] = 0, w[2] = 2;  // rows: q, k, v
  attn.out_proj->weight.data<float>()[0] = 1;
  attn.out_proj->bias.data<float>()[0] = 0.5f;
  Tensor x = from_vector(std::vector<float>{1, 2, 6}, {1, 3, 1});
  // v = (2, 4, 12), mean 6, plus 0.5.
  for (float v : attn(x).to_vector<float>()) CHECK(v == doctest::Approx(6.5f).epsilon(1e-6));
}

TEST_CASE("attention: gradcheck in float64 for the input and every parameter") {
  manual_seed(11);
  nn::MultiheadSelfAttention attn(6, 3);
  randomize_biases(attn);
  attn.to(DType::Float64);
  Tensor x = randn({2, 4, 6}, DType::Float64).set_requires_grad(true);
  std::vector<Tensor> inputs{x};
  for (const Tensor& p : attn.parameters()) inputs.push_back(p);
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return attn(in[0]); }, inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("attention: permuting the input rows permutes the output rows") {
  manual_seed(5);
  nn::MultiheadSelfAttention attn(8, 4);
  randomize_biases(attn);
  const int64_t N = 7;
  std::vector<int64_t> perm{3, 0, 6, 1, 5, 2, 4};
  Tensor x = randn({2, N, 8});
  std::vector<float> xv = x.to_vector<float>(), xp(xv.size());
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t c = 0; c < 8; ++c) xp[(b * N + i) * 8 + c] = xv[(b * N + perm[i]) * 8 + c];
  std::vector<float> y = attn(x).to_vector<float>();
  std::vector<float> yp = attn(from_vector(xp, {2, N, 8})).to_vector<float>();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t c = 0; c < 8; ++c)
        CHECK(yp[(b * N + i) * 8 + c] == doctest::Approx(y[(b * N + perm[i]) * 8 + c]).epsilon(1e-5));
}

TEST_CASE("attention: PyTorch parameter names, shapes, init and count") {
  manual_seed(0);
  nn::MultiheadSelfAttention attn(32, 4);
  auto named = attn.named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "in_proj_weight");
  CHECK(named[0].second.shape() == Shape{96, 32});
  CHECK(named[1].first == "in_proj_bias");
  CHECK(named[1].second.shape() == Shape{96});
  CHECK(named[2].first == "out_proj.weight");
  CHECK(named[2].second.shape() == Shape{32, 32});
  CHECK(named[3].first == "out_proj.bias");
  CHECK(attn.num_parameters() == 4 * 32 * 32 + 4 * 32);
  CHECK(attn.head_dim == 8);
  // Xavier bound sqrt(6 / (32 + 96)) = 0.2165; biases start at zero.
  float hi = 0;
  for (float v : attn.in_proj_weight.to_vector<float>()) hi = std::max(hi, std::abs(v));
  CHECK(hi <= 0.2166f);
  CHECK(hi > 0.2f);
  for (float v : attn.in_proj_bias.to_vector<float>()) CHECK(v == 0.f);
  for (float v : attn.out_proj->bias.to_vector<float>()) CHECK(v == 0.f);
}

TEST_CASE("attention: bad arguments and inputs throw naming the problem") {
  CHECK_THROWS_WITH_AS(nn::MultiheadSelfAttention(10, 4),
                       doctest::Contains("dim = 10 is not divisible by heads = 4"), Error);
  CHECK_THROWS_WITH_AS(nn::MultiheadSelfAttention(8, 0), doctest::Contains("[MultiheadSelfAttention]"), Error);
  CHECK_THROWS_WITH_AS(nn::MultiheadSelfAttention(8, 2, 1.0), doctest::Contains("dropout"), Error);
  nn::MultiheadSelfAttention attn(8, 2);
  CHECK_THROWS_WITH_AS(attn(zeros({2, 5, 6})),
                       doctest::Contains("[MultiheadSelfAttention] expected input (B, N, 8), got (2, 5, 6)"), Error);
  CHECK_THROWS_WITH_AS(attn(zeros({5, 8})), doctest::Contains("got (5, 8)"), Error);
}

TEST_CASE("attention: dropout acts on the probabilities in training only") {
  manual_seed(2);
  nn::MultiheadSelfAttention with_dropout(8, 2, 0.5);
  manual_seed(2);
  nn::MultiheadSelfAttention plain(8, 2);
  Tensor x = randn({2, 6, 8});
  std::vector<float> reference = plain(x).to_vector<float>();
  with_dropout.eval();
  CHECK(with_dropout(x).to_vector<float>() == reference);
  with_dropout.train();
  CHECK(with_dropout(x).to_vector<float>() != reference);
}

TEST_CASE("attention: outputs and gradients are bit-identical at 1 and 2 threads") {
  // Heads of 4 (the small-head kernel or, without AVX2, the GEMM path) and of 32 (the tiled
  // kernel with AVX-512, else the GEMM path).
  const int previous = get_num_threads();
  for (const auto& [dim, heads] : {std::pair<int64_t, int64_t>{16, 4}, {64, 2}}) {
    CAPTURE(dim);
    std::vector<std::vector<float>> runs;
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      manual_seed(9);
      nn::MultiheadSelfAttention attn(dim, heads);
      randomize_biases(attn);
      Tensor x = randn({3, 33, dim}).set_requires_grad(true);
      Tensor y = attn(x);
      sum(mul(y, randn(y.shape()))).backward();  // a random seed, so every gradient path is exercised
      std::vector<float> all = y.to_vector<float>();
      for (const Tensor& g : {x.grad(), attn.in_proj_weight.grad(), attn.out_proj->weight.grad()}) {
        std::vector<float> v = g.to_vector<float>();
        all.insert(all.end(), v.begin(), v.end());
      }
      runs.push_back(all);
    }
    CHECK(runs[0] == runs[1]);
  }
  set_num_threads(previous);
}

// ---- the fused path: kernels/attention.h and pmx::self_attention ----

TEST_CASE("attention: fused kernel matches its naive twin at odd sizes, several row blocks") {
  // Packed layout as in the op: head columns inside rows of 3 * H * dh, so ld != dh is exercised.
  const int64_t N = 37, H = 2, dh = 5, d = H * dh, ld = 3 * d, block = 8;
  manual_seed(13);
  std::vector<double> qkv = randn({N, ld}, DType::Float64).to_vector<double>();
  std::vector<double> d_out = randn({N, d}, DType::Float64).to_vector<double>();
  const double scale = 1.0 / std::sqrt(double(dh));
  for (int64_t h = 0; h < H; ++h) {
    const double* q = qkv.data() + h * dh;
    std::vector<double> out(N * d), out_ref(N * d), stats(2 * N), stats_ref(2 * N);
    std::vector<double> scratch(kernels::attention_scratch_size(N, dh, block));
    kernels::attention_forward(out.data() + h * dh, d, stats.data(), q, q + d, q + 2 * d, ld, N, dh, scale,
                               scratch.data(), block);
    kernels::attention_forward_naive(out_ref.data() + h * dh, d, stats_ref.data(), q, q + d, q + 2 * d, ld, N, dh,
                                     scale);
    for (int64_t i = 0; i < 2 * N; ++i) CHECK(stats[i] == doctest::Approx(stats_ref[i]).epsilon(1e-12));
    for (int64_t i = 0; i < N * d; ++i) CHECK(out[i] == doctest::Approx(out_ref[i]).epsilon(1e-12));

    std::vector<double> grad(N * ld, 0.5), grad_ref(N * ld, 0.5);  // d_k, d_v must accumulate onto 0.5
    kernels::attention_backward(grad.data() + h * dh, grad.data() + d + h * dh, grad.data() + 2 * d + h * dh,
                                d_out.data() + h * dh, out.data() + h * dh, d, stats.data(), q, q + d, q + 2 * d,
                                ld, N, dh, scale, scratch.data(), block);
    kernels::attention_backward_naive(grad_ref.data() + h * dh, grad_ref.data() + d + h * dh,
                                      grad_ref.data() + 2 * d + h * dh, d_out.data() + h * dh,
                                      out_ref.data() + h * dh, d, stats_ref.data(), q, q + d, q + 2 * d, ld, N, dh,
                                      scale);
    for (int64_t i = 0; i < N * ld; ++i) CHECK(grad[i] == doctest::Approx(grad_ref[i]).epsilon(1e-10));
  }
}

TEST_CASE("attention: the backward rebuilds the forward's probabilities to the bit (float, large scores)") {
  // With V = I and dO = I (N <= dh), out = P V is P and dV = P^T dO is P^T, both exactly (the
  // other terms are products with 0). So dV^T == out bit for bit iff the backward's P is the
  // forward's. With lse = max + log(sum) kept in float instead, scores near 100 put P off by up to
  // half an ulp of lse (~4e-6 relative) and this failed. Every path: the GEMM path and both builds
  // of the small-head kernel at dh = 8 and 16, the GEMM path and both builds of the tiled kernel
  // at 32 and 64.
  using Sizes = std::vector<std::pair<int64_t, int64_t>>;  // (N, dh), N <= dh
  for (const int path : {0, 1, 2, 3, 4})  // GEMM path, small-head AVX2 and AVX-512, tiled AVX2 and AVX-512
    for (const auto& [N, dh] : path == 0 ? Sizes{{13, 16}, {7, 8}, {29, 32}, {50, 64}}
                               : path < 3 ? Sizes{{13, 16}, {7, 8}}
                                          : Sizes{{29, 32}, {50, 64}}) {
      CAPTURE(path);
      CAPTURE(dh);
      using kernels::AttentionKernel;
      kernels::set_attention_small_head(path == 1 || path == 2 ? AttentionKernel::kEverywhere : AttentionKernel::kOff);
      kernels::set_attention_tiled(path >= 3 ? AttentionKernel::kEverywhere : AttentionKernel::kOff);
      kernels::set_attention_avx512(path != 1 && path != 3);
      if ((path == 2 || path == 4) && !kernels::attention_avx512_active()) continue;  // no AVX-512 on this CPU
      const int64_t ld = 3 * dh, block = 4;
      manual_seed(31);
      std::vector<float> qkv = randn({N, ld}).to_vector<float>();
      for (int64_t i = 0; i < N; ++i)  // Q and K share a large first column: scores ~100, a few apart
        for (int64_t c = 0; c < dh; ++c) {
          qkv[i * ld + c] = c == 0 ? 10.f : 0.5f * qkv[i * ld + c];
          qkv[i * ld + dh + c] = c == 0 ? 10.f + 0.05f * qkv[i * ld + dh + c] : 0.5f * qkv[i * ld + dh + c];
          qkv[i * ld + 2 * dh + c] = i == c ? 1.f : 0.f;  // V = I
        }
      std::vector<float> d_out(N * dh, 0.f), out(N * dh), stats(2 * N), grad(N * ld, 0.f);
      for (int64_t i = 0; i < N; ++i) d_out[i * dh + i] = 1.f;  // dO = I
      std::vector<float> scratch(kernels::attention_scratch_size(N, dh, block));
      const float* q = qkv.data();
      kernels::attention_forward(out.data(), dh, stats.data(), q, q + dh, q + 2 * dh, ld, N, dh, 1.f,
                                 scratch.data(), block);
      kernels::attention_backward(grad.data(), grad.data() + dh, grad.data() + 2 * dh, d_out.data(), out.data(),
                                  dh, stats.data(), q, q + dh, q + 2 * dh, ld, N, dh, 1.f, scratch.data(), block);
      int64_t differ = 0, spread = 0;
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) {
          const float p = out[i * dh + j], p_again = grad[j * ld + 2 * dh + i];
          differ += std::memcmp(&p, &p_again, sizeof p) != 0;
          spread += p > 1e-3f && p < 0.999f;
        }
      CHECK(differ == 0);
      CHECK(spread >= N);  // not all one-hot rows: the check has something to compare
    }
  kernels::set_attention_small_head(kernels::AttentionKernel::kAuto);
  kernels::set_attention_tiled(kernels::AttentionKernel::kAuto);
  kernels::set_attention_avx512(true);
}

// One float kernel call, forward and backward, against the naive twin in double from the same
// floats: two heads in packed rows (ld = 3 H dh), so head columns are not rows; d_k and d_v must
// accumulate onto what is there. The scratch is followed by a guard that must stay untouched, so
// attention_scratch_size is checked too. Returns the values off by more than the tolerance and
// the guard floats touched.
static std::pair<int64_t, int64_t> kernel_against_naive(int64_t N, int64_t dh) {
  const float kGuard = -12345.f;
  const int64_t H = 2, d = H * dh, ld = 3 * d, block = 16;
  manual_seed(uint64_t(7 * N + dh));
  const std::vector<float> qkv = randn({N, ld}).to_vector<float>(), d_out = randn({N, d}).to_vector<float>();
  const float scale = 1.f / std::sqrt(float(dh));
  const int64_t need = kernels::attention_scratch_size(N, dh, block);
  int64_t off = 0, touched = 0;
  for (int64_t h = 0; h < H; ++h) {
    const float* q = qkv.data() + h * dh;
    std::vector<float> out(N * d), stats(2 * N), scratch(need + 64, kGuard), grad(N * ld, 0.25f);
    std::vector<double> out_ref(N * d), stats_ref(2 * N), grad_ref(N * ld, 0.25);
    std::vector<double> qkv_d(qkv.begin(), qkv.end()), d_out_d(d_out.begin(), d_out.end());
    const double* qd = qkv_d.data() + h * dh;
    kernels::attention_forward(out.data() + h * dh, d, stats.data(), q, q + d, q + 2 * d, ld, N, dh, scale,
                               scratch.data(), block);
    kernels::attention_forward_naive(out_ref.data() + h * dh, d, stats_ref.data(), qd, qd + d, qd + 2 * d, ld, N,
                                     dh, double(scale));
    kernels::attention_backward(grad.data() + h * dh, grad.data() + d + h * dh, grad.data() + 2 * d + h * dh,
                                d_out.data() + h * dh, out.data() + h * dh, d, stats.data(), q, q + d, q + 2 * d,
                                ld, N, dh, scale, scratch.data(), block);
    kernels::attention_backward_naive(grad_ref.data() + h * dh, grad_ref.data() + d + h * dh,
                                      grad_ref.data() + 2 * d + h * dh, d_out_d.data() + h * dh,
                                      out_ref.data() + h * dh, d, stats_ref.data(), qd, qd + d, qd + 2 * d, ld, N,
                                      dh, double(scale));
    for (int64_t i = 0; i < N; ++i)
      for (int64_t c = 0; c < dh; ++c) {
        const int64_t o = i * d + h * dh + c;
        off += std::abs(out[o] - out_ref[o]) > 1e-5 * (1 + std::abs(out_ref[o]));
      }
    for (int64_t i = 0; i < N; ++i) {
      off += std::abs(stats[2 * i] - stats_ref[2 * i]) > 1e-5 * (1 + std::abs(stats_ref[2 * i]));
      off += std::abs(stats[2 * i + 1] - stats_ref[2 * i + 1]) > 1e-5 * stats_ref[2 * i + 1];
    }
    for (int64_t i = 0; i < N * ld; ++i) off += std::abs(grad[i] - grad_ref[i]) > 2e-5 * (1 + std::abs(grad_ref[i]));
    for (int64_t i = need; i < need + 64; ++i) touched += scratch[i] != kGuard;
  }
  return {off, touched};
}

TEST_CASE("attention: the small-head kernel matches its naive twin at odd N, every dh up to 16, in its scratch") {
  // Both builds of the kernel; N from 1 (15 padding lanes) across the 8- and 16-key vectors, the
  // two-row steps and (N = 100) two blocks of the backward's 64 rows.
  kernels::set_attention_small_head(kernels::AttentionKernel::kEverywhere);
  REQUIRE(kernels::attention_small_head_active(8));
  CHECK_FALSE(kernels::attention_small_head_active(kernels::kSmallHead + 1));
  for (const bool wide : {false, true}) {  // the AVX2 build (8 keys per vector), then AVX-512's (16)
    kernels::set_attention_avx512(wide);
    if (wide && !kernels::attention_avx512_active()) continue;  // no AVX-512 on this CPU
    for (int64_t dh : {1, 2, 3, 5, 8, 9, 16})
      for (int64_t N : {1, 2, 7, 8, 9, 15, 16, 17, 37, 100}) {
        CAPTURE(wide);
        CAPTURE(dh);
        CAPTURE(N);
        const auto [off, touched] = kernel_against_naive(N, dh);
        CHECK(off == 0);
        CHECK(touched == 0);
      }
  }
  kernels::set_attention_avx512(true);
  kernels::set_attention_small_head(kernels::AttentionKernel::kAuto);
}

TEST_CASE("attention: the tiled kernel matches its naive twin at odd N, every dh it takes, in its scratch") {
  // Both builds. N from 1 (padding keys in the one key tile) across the tiles, the row tiles (8
  // or 4) and their remainders, and (N = 300) several backward blocks of 64 rows, the last short.
  kernels::set_attention_tiled(kernels::AttentionKernel::kEverywhere);
  REQUIRE(kernels::attention_tiled_active(32));
  CHECK_FALSE(kernels::attention_tiled_active(16));
  CHECK_FALSE(kernels::attention_tiled_active(40));
  CHECK_FALSE(kernels::attention_tiled_active(144));
  for (const bool wide : {false, true}) {  // the AVX2 build (8 lanes), then AVX-512's (16)
    kernels::set_attention_avx512(wide);
    if (wide && !kernels::attention_avx512_active()) continue;  // no AVX-512 on this CPU
    const int64_t most = wide ? kernels::kTiledHeadMax : kernels::kTiledHeadMaxAvx2;
    CHECK_FALSE(kernels::attention_tiled_active(most + 16));  // the GEMM path's again
    for (int64_t dh = kernels::kTiledHeadMin; dh <= most; dh += 16)
      for (int64_t N : {1, 2, 5, 7, 8, 9, 17, 31, 32, 33, 37, 100, 300}) {
        if (dh > 64 && N > 100) continue;  // the naive twin's time; the blocks are the same code
        CAPTURE(wide);
        CAPTURE(dh);
        CAPTURE(N);
        REQUIRE(kernels::attention_tiled_active(dh));
        const auto [off, touched] = kernel_against_naive(N, dh);
        CHECK(off == 0);
        CHECK(touched == 0);
      }
  }
  kernels::set_attention_avx512(true);
  kernels::set_attention_tiled(kernels::AttentionKernel::kAuto);
}

TEST_CASE("attention: the kernels' automatic choice follows OpenBLAS's kernels") {
  // kAuto (kernels/attention.h) by the width of OpenBLAS's kernels: 0 (no FMA), 256 or 512 bits.
  // Which one this machine shows depends on OpenBLAS's choice for its CPU, so the expectations
  // follow blas_fma_bits(); the suite run with OPENBLAS_CORETYPE=SkylakeX or Haswell checks the
  // other branches.
  const int bits = kernels::blas_fma_bits();
  CAPTURE(kernels::blas_core_name());
  CHECK(std::strlen(kernels::blas_core_name()) > 0);
  CHECK((bits == 0 || bits == 256 || bits == 512));
  kernels::set_attention_small_head(kernels::AttentionKernel::kAuto);
  kernels::set_attention_tiled(kernels::AttentionKernel::kAuto);
  kernels::set_attention_avx512(true);
  if (kernels::attention_avx512_active()) {
    CHECK(kernels::attention_small_head_active(14));
    CHECK(kernels::attention_small_head_active(16) == (bits < 512));
    CHECK_FALSE(kernels::attention_small_head_active(17));
    CHECK(kernels::attention_tiled_active(32));
    CHECK(kernels::attention_tiled_active(64) == (bits < 512));
    CHECK(kernels::attention_tiled_active(128) == (bits == 0));
    CHECK_FALSE(kernels::attention_tiled_active(40));
  }
  kernels::set_attention_avx512(false);
  CHECK(kernels::attention_small_head_active(7));
  CHECK(kernels::attention_small_head_active(8) == (bits == 0));
  CHECK(kernels::attention_tiled_active(32) == (bits == 0));
  CHECK(kernels::attention_tiled_active(64) == (bits == 0));
  CHECK_FALSE(kernels::attention_tiled_active(80));
  kernels::set_attention_small_head(kernels::AttentionKernel::kOff);
  kernels::set_attention_tiled(kernels::AttentionKernel::kOff);
  CHECK_FALSE(kernels::attention_small_head_active(4));
  CHECK_FALSE(kernels::attention_tiled_active(32));
  kernels::set_attention_avx512(true);
  kernels::set_attention_small_head(kernels::AttentionKernel::kAuto);
  kernels::set_attention_tiled(kernels::AttentionKernel::kAuto);
}

TEST_CASE("attention: the AVX-512 exp pass gives the AVX2 bits (row lengths with every tail)") {
  // Rows of N scores: 37 = 2 x 16 + 5 scalar, 300 = 18 x 16 + one 8-lane block + 4, 1000 = 62 x 16
  // + one 8-lane block. Forward and backward with AVX-512 off, then on, must match bit for bit.
  kernels::set_attention_avx512(true);
  const bool avx512 = kernels::attention_avx512_active();
  INFO("AVX-512 attention exp on this CPU: ", avx512);
  if (!avx512) return;
  kernels::set_attention_small_head(kernels::AttentionKernel::kOff);  // the GEMM path, whose exp pass this is about
  for (int64_t N : {37, 300, 1000}) {
    CAPTURE(N);
    const int64_t dh = 8, ld = 3 * dh, block = 64;
    manual_seed(29);
    std::vector<float> qkv = randn({N, ld}).to_vector<float>(), d_out = randn({N, dh}).to_vector<float>();
    const float* q = qkv.data();
    auto run = [&] {
      std::vector<float> out(size_t(N * dh)), stats(size_t(2 * N)), grad(size_t(N * ld), 0.f);
      std::vector<float> scratch(size_t(kernels::attention_scratch_size(N, dh, block)));
      kernels::attention_forward(out.data(), dh, stats.data(), q, q + dh, q + 2 * dh, ld, N, dh, 0.35f,
                                 scratch.data(), block);
      kernels::attention_backward(grad.data(), grad.data() + dh, grad.data() + 2 * dh, d_out.data(), out.data(),
                                  dh, stats.data(), q, q + dh, q + 2 * dh, ld, N, dh, 0.35f, scratch.data(), block);
      out.insert(out.end(), stats.begin(), stats.end());
      out.insert(out.end(), grad.begin(), grad.end());
      return out;
    };
    kernels::set_attention_avx512(false);
    const std::vector<float> avx2 = run();
    kernels::set_attention_avx512(true);
    const std::vector<float> wide = run();
    CHECK(std::memcmp(avx2.data(), wide.data(), avx2.size() * sizeof(float)) == 0);
  }
  kernels::set_attention_small_head(kernels::AttentionKernel::kAuto);
}

TEST_CASE("attention: self_attention gradcheck in float64") {
  manual_seed(17);
  Tensor qkv = randn({2, 5, 3 * 6}, DType::Float64).set_requires_grad(true);
  auto r = gradcheck([](const std::vector<Tensor>& in) { return self_attention(in[0], 3); }, {qkv});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("attention: fused and composed paths agree on outputs and gradients") {
  manual_seed(19);
  nn::MultiheadSelfAttention attn(12, 3);
  randomize_biases(attn);
  attn.to(DType::Float64);
  Tensor x = randn({2, 9, 12}, DType::Float64).set_requires_grad(true);
  Tensor seed = randn({2, 9, 12}, DType::Float64);
  std::vector<std::vector<double>> runs;
  for (bool fused : {true, false}) {
    attn.fused = fused;
    attn.zero_grad();
    x.impl().grad = nullptr;
    Tensor y = attn(x);
    sum(mul(y, seed)).backward();
    std::vector<double> all = y.to_vector<double>();
    for (const Tensor& g : {x.grad(), attn.in_proj_weight.grad(), attn.in_proj_bias.grad()}) {
      std::vector<double> v = g.to_vector<double>();
      all.insert(all.end(), v.begin(), v.end());
    }
    runs.push_back(all);
  }
  REQUIRE(runs[0].size() == runs[1].size());
  for (size_t i = 0; i < runs[0].size(); ++i) CHECK(runs[0][i] == doctest::Approx(runs[1][i]).epsilon(1e-10));
}

TEST_CASE("attention: self_attention at 1 and 2 threads: slices side by side give the same bits") {
  // (B, H) = (8, 2): sixteen (batch, head) slices, eight per thread, each with single-threaded
  // GEMMs, so the bits must match one thread's (and the threads overlap long enough that shared
  // scratch would show). (1, 1) over 640 rows: one slice, whose products (640 x 640 x 16, above
  // kernels::gemm's one-thread limit for small products) OpenBLAS threads instead, which rounds
  // by its partition (docs/ARCHITECTURE.md): equal to rounding only.
  const int previous = get_num_threads();
  for (auto [batch, heads] : {std::pair<int64_t, int64_t>{8, 2}, {1, 1}}) {
    CAPTURE(batch);
    std::vector<std::vector<float>> runs;
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      manual_seed(23);
      const int64_t rows = batch * heads >= 2 ? 300 : 640;  // 300: two row blocks per slice
      Tensor qkv = randn({batch, rows, 3 * 16}).set_requires_grad(true);
      Tensor y = self_attention(qkv, heads);
      sum(mul(y, randn(y.shape()))).backward();
      std::vector<float> all = y.to_vector<float>(), g = qkv.grad().to_vector<float>();
      all.insert(all.end(), g.begin(), g.end());
      runs.push_back(all);
    }
    REQUIRE(runs[0].size() == runs[1].size());
    if (batch * heads >= 2 && kernels::gemm_serial_inside_parallel()) {
      CHECK(runs[0] == runs[1]);
    } else {
      for (size_t i = 0; i < runs[0].size(); ++i)
        CHECK(runs[0][i] == doctest::Approx(runs[1][i]).epsilon(1e-5));
    }
  }
  set_num_threads(previous);
}

TEST_CASE("attention: self_attention rejects bad shapes, naming them") {
  CHECK_THROWS_WITH_AS(self_attention(zeros({2, 5, 10}), 2),
                       doctest::Contains("[self_attention] expected qkv (B, N, 3d), got (2, 5, 10)"), Error);
  CHECK_THROWS_WITH_AS(self_attention(zeros({2, 5, 12}), 3),
                       doctest::Contains("[self_attention] d = 4 (qkv (2, 5, 12)) is not divisible by heads = 3"),
                       Error);
  CHECK_THROWS_WITH_AS(self_attention(zeros({5, 12}), 2), doctest::Contains("got (5, 12)"), Error);
  CHECK_THROWS_AS(self_attention(zeros({2, 5, 12}, DType::Int64), 2), Error);
}

TEST_CASE("attention: the module takes the fused path unless dropout is active or fused = false") {
  auto producer_of_context = [](nn::MultiheadSelfAttention& attn) {
    Tensor x = randn({1, 4, 8}).set_requires_grad(true);
    Tensor y = attn(x);
    const Edge& into_out_proj = y.grad_fn()->edges[0];  // out_proj's input: the merged heads
    return std::string(into_out_proj.node ? into_out_proj.node->name : "leaf");
  };
  nn::MultiheadSelfAttention attn(8, 2, 0.25);
  attn.eval();
  CHECK(producer_of_context(attn) == "self_attention");
  attn.train();
  CHECK(producer_of_context(attn) != "self_attention");
  nn::MultiheadSelfAttention plain(8, 2);
  CHECK(producer_of_context(plain) == "self_attention");
  plain.fused = false;
  CHECK(producer_of_context(plain) != "self_attention");
}
