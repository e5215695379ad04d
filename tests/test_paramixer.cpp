// ParamixerBlock and the grouped_linear op it uses for the fused f-MLPs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops_grouped_linear.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_linalg.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "core/random.h"
#include "core/threads.h"
#include "layers/paramixer_block.h"
#include "test_tensors.h"

using namespace pmx;
using pmx_test::bit_equal;
using pmx::nn::ParamixerBlock;
using pmx::nn::Protocol;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// out (G, R, K) by plain loops over H (R, G*h), W_m (K, h), b_m (K).
std::vector<double> grouped_linear_loops(const Tensor& H, const std::vector<Tensor>& W, const std::vector<Tensor>& b) {
  int64_t R = H.size(0), G = int64_t(W.size()), K = W[0].size(0), h = W[0].size(1);
  std::vector<double> hv = H.to_vector<double>(), out(G * R * K);
  for (int64_t m = 0; m < G; ++m) {
    std::vector<double> wv = W[m].to_vector<double>(), bv = b[m].to_vector<double>();
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < K; ++k) {
        double acc = bv[k];
        for (int64_t j = 0; j < h; ++j) acc += hv[r * G * h + m * h + j] * wv[k * h + j];
        out[(m * R + r) * K + k] = acc;
      }
  }
  return out;
}

// (I + W_M) ... (I + W_1) g(v_in) with every factor built as an explicit N x N matrix.
Tensor dense_block(ParamixerBlock& block, const Tensor& v_in, const Tensor& x) {
  NoGradGuard no_grad;
  bool fused = block.fused_f;
  block.fused_f = false;
  std::vector<double> v = (*block.g)(v_in).to_vector<double>();
  std::vector<Tensor> w = block.factor_weights(x);
  block.fused_f = fused;
  int64_t B = x.size(0), N = x.size(1), d = v_in.size(2), K = block.links;
  for (int64_t m = 0; m < block.num_factors; ++m) {
    std::vector<double> wv = w[m].to_vector<double>(), next(v.size());
    for (int64_t b = 0; b < B; ++b) {
      std::vector<double> A(N * N, 0.0);
      for (int64_t i = 0; i < N; ++i) {
        A[i * N + i] += 1.0;
        for (int64_t k = 0; k < K; ++k) {
          long col = ((i + block.offsets[m][k]) % N + N) % N;
          A[i * N + col] += wv[(b * N + i) * K + k];
        }
      }
      for (int64_t i = 0; i < N; ++i)
        for (int64_t c = 0; c < d; ++c) {
          double acc = 0;
          for (int64_t j = 0; j < N; ++j) acc += A[i * N + j] * v[(b * N + j) * d + c];
          next[(b * N + i) * d + c] = acc;
        }
    }
    v = next;
  }
  return from_vector(v, {B, N, d});
}

struct ThreadCount {
  int saved = get_num_threads();
  ~ThreadCount() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("paramixer: grouped_linear hand-computed values") {
  // H = [2 3], W_0 = [4], W_1 = [5], b = (1, -1): out = (2*4 + 1, 3*5 - 1) = (9, 14).
  Tensor H = from_vector(std::vector<float>{2, 3}, {1, 2});
  Tensor out = grouped_linear(H, {from_vector(std::vector<float>{4}, {1, 1}), from_vector(std::vector<float>{5}, {1, 1})},
                              {from_vector(std::vector<float>{1}, {1}), from_vector(std::vector<float>{-1}, {1})});
  CHECK(out.shape() == Shape{2, 1, 1});
  CHECK(out.to_vector<float>() == std::vector<float>{9, 14});
  Tensor no_bias = grouped_linear(H, {from_vector(std::vector<float>{4}, {1, 1}), from_vector(std::vector<float>{5}, {1, 1})}, {});
  CHECK(no_bias.to_vector<float>() == std::vector<float>{8, 15});
}

TEST_CASE("paramixer: grouped_linear matches plain loops at odd sizes") {
  int64_t R = 37, G = 3, h = 5, K = 7;
  Tensor H = randn({R, G * h});
  std::vector<Tensor> W, b;
  for (int64_t m = 0; m < G; ++m) W.push_back(randn({K, h})), b.push_back(randn({K}));
  std::vector<double> want = grouped_linear_loops(H, W, b);
  std::vector<float> got = grouped_linear(H, W, b).to_vector<float>();
  REQUIRE(got.size() == want.size());
  double err = 0;
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::abs(got[i] - want[i]));
  CHECK(err < 1e-5);
}

TEST_CASE("paramixer: grouped_linear gradcheck in float64") {
  int64_t R = 5, G = 3, h = 4, K = 3;
  Tensor H = randn({R, G * h}, DType::Float64).set_requires_grad(true);
  std::vector<Tensor> in{H};
  for (int64_t m = 0; m < G; ++m) in.push_back(randn({K, h}, DType::Float64).set_requires_grad(true));
  for (int64_t m = 0; m < G; ++m) in.push_back(randn({K}, DType::Float64).set_requires_grad(true));
  auto fn = [G](const std::vector<Tensor>& t) {
    return grouped_linear(t[0], std::vector<Tensor>(t.begin() + 1, t.begin() + 1 + G),
                          std::vector<Tensor>(t.begin() + 1 + G, t.end()));
  };
  auto r = gradcheck(fn, in);
  CHECK_MESSAGE(r.ok, r.message);
  // Only some inputs need a gradient: the others are skipped, the rest stay right.
  in[1].set_requires_grad(false);
  in[1 + G + 1].set_requires_grad(false);
  r = gradcheck(fn, in);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("paramixer: grouped_linear_groups equals grouped_linear, gradients included") {
  int64_t R = 6, G = 3, h = 4, K = 3;
  std::vector<Tensor> in{randn({R, G * h}, DType::Float64).set_requires_grad(true)};
  for (int64_t m = 0; m < G; ++m) in.push_back(randn({K, h}, DType::Float64).set_requires_grad(true));
  for (int64_t m = 0; m < G; ++m) in.push_back(randn({K}, DType::Float64).set_requires_grad(true));
  auto W = [&](const std::vector<Tensor>& t) { return std::vector<Tensor>(t.begin() + 1, t.begin() + 1 + G); };
  auto b = [&](const std::vector<Tensor>& t) { return std::vector<Tensor>(t.begin() + 1 + G, t.end()); };
  Tensor whole = grouped_linear(in[0], W(in), b(in));
  std::vector<Tensor> groups = grouped_linear_groups(in[0], W(in), b(in));
  REQUIRE(groups.size() == size_t(G));
  for (int64_t m = 0; m < G; ++m) {
    CHECK(groups[m].shape() == Shape{R, K});
    CHECK(max_abs_diff(groups[m], slice(whole, 0, m, m + 1)) == 0.0);
  }
  // All groups used, with different weights so every slab's gradient matters.
  auto all_used = [&](const std::vector<Tensor>& t) {
    auto g = grouped_linear_groups(t[0], W(t), b(t));
    return concat({g[0], g[1] * 2.0, g[2] * -3.0}, 0);
  };
  auto r = gradcheck(all_used, in);
  CHECK_MESSAGE(r.ok, r.message);
  // Group 1 unused: its block of the shared gradient must read as zero, not garbage.
  auto some_used = [&](const std::vector<Tensor>& t) {
    auto g = grouped_linear_groups(t[0], W(t), b(t));
    return concat({g[2], g[0]}, 0);
  };
  r = gradcheck(some_used, in);
  CHECK_MESSAGE(r.ok, r.message);
  // Without grad mode the groups are plain views.
  NoGradGuard no_grad;
  CHECK_FALSE(grouped_linear_groups(in[0], W(in), b(in))[1].requires_grad());
}

TEST_CASE("paramixer: grouped_linear_groups forgets which slabs a backward pass wrote") {
  // Two backward passes over one retained graph: the first reaches slabs 0 and 1, the second
  // only slab 0. Slab 1's block of the second pass's shared gradient must read as zero (as in a
  // fresh graph), not as whatever the buffer holds.
  int64_t R = 5, G = 2, h = 3, K = 4;
  std::vector<Tensor> in{randn({R, G * h}, DType::Float64).set_requires_grad(true)};
  for (int64_t m = 0; m < G; ++m) in.push_back(randn({K, h}, DType::Float64).set_requires_grad(true));
  for (int64_t m = 0; m < G; ++m) in.push_back(randn({K}, DType::Float64).set_requires_grad(true));
  const std::vector<Tensor> W(in.begin() + 1, in.begin() + 1 + G), b(in.begin() + 1 + G, in.end());
  Tensor s0 = randn({R, K}, DType::Float64), s1 = randn({R, K}, DType::Float64);
  auto grads_and_reset = [&] {
    std::vector<std::vector<double>> g;
    for (const Tensor& t : in) {
      g.push_back(t.grad().defined() ? t.grad().to_vector<double>() : std::vector<double>{});
      t.impl().grad.reset();
    }
    return g;
  };
  std::vector<Tensor> slabs = grouped_linear_groups(in[0], W, b);
  add(sum(mul(slabs[0], s0)), sum(mul(slabs[1], s1))).backward(Tensor(), /*retain_graph=*/true);
  grads_and_reset();
  sum(mul(slabs[0], s0)).backward();
  auto second = grads_and_reset();
  std::vector<Tensor> fresh = grouped_linear_groups(in[0], W, b);
  sum(mul(fresh[0], s0)).backward();
  auto want = grads_and_reset();
  for (size_t i = 0; i < in.size(); ++i) {
    CAPTURE(i);
    CHECK(second[i] == want[i]);
  }
}

TEST_CASE("paramixer: grouped_linear gives the same bits at 1 and 2 threads") {
  ThreadCount restore;
  int64_t R = 3001, G = 4, h = 16, K = 11;
  Tensor H = randn({R, G * h}).set_requires_grad(true);
  std::vector<Tensor> W, b;
  for (int64_t m = 0; m < G; ++m) {
    W.push_back(randn({K, h}).set_requires_grad(true));
    b.push_back(randn({K}).set_requires_grad(true));
  }
  Tensor seed = randn({G, R, K});
  auto run = [&](int threads) {
    set_num_threads(threads);
    for (auto* t : {&H, &W[0], &b[G - 1]}) t->impl().grad = nullptr;
    Tensor out = grouped_linear(H, W, b);
    out.backward(seed);
    return std::vector<Tensor>{out.detach(), H.grad(), W[0].grad(), b[G - 1].grad()};
  };
  auto one = run(1), two = run(2);
  // Its products (3001 x 11 x 16 per group, and the weight gradients over the 3001 rows) are
  // under kernels::gemm's limit for small products, so they run on one thread at either count.
  for (size_t i = 0; i < one.size(); ++i) CHECK_MESSAGE(bit_equal(one[i], two[i]), "result ", i);
}

TEST_CASE("paramixer: grouped_linear rejects bad shapes") {
  Tensor w = randn({3, 4});
  CHECK_THROWS_WITH_AS(grouped_linear(randn({5, 7}), {w, w}, {}), doctest::Contains("[grouped_linear] hidden"), Error);
  CHECK_THROWS_WITH_AS(grouped_linear(randn({5, 8}), {w, randn({2, 4})}, {}), doctest::Contains("weight 1"), Error);
  CHECK_THROWS_WITH_AS(grouped_linear(randn({5, 8}), {w, w}, {randn({3})}), doctest::Contains("biases"), Error);
  CHECK_THROWS_WITH_AS(grouped_linear(randn({5, 8}), {w, w}, {randn({3}), randn({4})}), doctest::Contains("bias 1"),
                       Error);
  CHECK_THROWS_AS(grouped_linear(randn({5, 8}, DType::Float64), {w, w}, {}), Error);
  CHECK_THROWS_AS(grouped_linear(randn({5, 8}), {}, {}), Error);
}

TEST_CASE("paramixer: block matches a dense product of (I + W_m) factors") {
  for (auto protocol : {Protocol::Chord, Protocol::Cdil})
    for (int64_t N : {13, 16}) {
      CAPTURE(N);
      CAPTURE(int(protocol));
      ParamixerBlock block(N, 5, 6, protocol);
      block.to(DType::Float64);
      Tensor v_in = randn({2, N, 5}, DType::Float64), x = randn({2, N, 5}, DType::Float64);
      Tensor want = dense_block(block, v_in, x);
      CHECK(max_abs_diff(block.forward(v_in, x), want) < 1e-10);
      block.fused_f = false;
      CHECK(max_abs_diff(block.forward(v_in, x), want) < 1e-10);
    }
}

TEST_CASE("paramixer: block sizes follow the protocol") {
  ParamixerBlock chord(1024, 32, 32);
  CHECK(chord.num_factors == 10);
  CHECK(chord.links == 11);
  CHECK(chord.num_parameters() == 2 * 32 * 32 + 32 + 32 + 10 * (32 * 32 + 32 + 32 * 11 + 11));
  ParamixerBlock cdil(13, 4, 4, Protocol::Cdil);
  CHECK(cdil.num_factors == 4);  // ceil(log2 13)
  CHECK(cdil.links == 9);
  CHECK(cdil.offsets[2] == std::vector<long>{0, 4, 8, 12, 16, -4, -8, -12, -16});
  ParamixerBlock floored(13, 4, 4, Protocol::Chord, /*floor_factors=*/true);
  CHECK(floored.num_factors == 3);
  CHECK(floored.offsets[0] == std::vector<long>{0, 1, 2, 4});
}

TEST_CASE("paramixer: block gradcheck in float64 (inputs and every parameter)") {
  for (auto protocol : {Protocol::Chord, Protocol::Cdil})
    for (int64_t N : {6, 9}) {
      CAPTURE(N);
      CAPTURE(int(protocol));
      ParamixerBlock block(N, 3, 4, protocol);
      block.to(DType::Float64);
      std::vector<Tensor> in{randn({2, N, 3}, DType::Float64).set_requires_grad(true),
                             randn({2, N, 3}, DType::Float64).set_requires_grad(true)};
      for (const Tensor& p : block.parameters()) in.push_back(p);
      auto r = gradcheck([&](const std::vector<Tensor>& t) { return block.forward(t[0], t[1]); }, in);
      CHECK_MESSAGE(r.ok, r.message);
    }
}

TEST_CASE("paramixer: the three f-MLP paths (row chunks, one GEMM, per factor) give the same outputs and gradients") {
  for (auto protocol : {Protocol::Chord, Protocol::Cdil}) {
    ParamixerBlock block(21, 8, 6, protocol);
    block.to(DType::Float64);
    Tensor v_in = randn({3, 21, 8}, DType::Float64).set_requires_grad(true);
    Tensor x = randn({3, 21, 8}, DType::Float64).set_requires_grad(true);
    Tensor seed = randn({3, 21, 8}, DType::Float64);
    auto run = [&](bool fused, bool chunked) {
      block.fused_f = fused;
      block.chunked_f = chunked;
      block.zero_grad();
      v_in.impl().grad = x.impl().grad = nullptr;
      Tensor out = block.forward(v_in, x);
      out.backward(seed);
      std::vector<Tensor> r{out.detach(), v_in.grad(), x.grad()};
      for (const Tensor& p : block.parameters()) r.push_back(p.grad());
      return r;
    };
    auto chunks = run(true, true), one_gemm = run(true, false), reference = run(false, true);
    REQUIRE(chunks.size() == reference.size());
    REQUIRE(one_gemm.size() == reference.size());
    for (size_t i = 0; i < reference.size(); ++i) {
      REQUIRE(chunks[i].defined());
      REQUIRE(one_gemm[i].defined());
      CHECK_MESSAGE(max_abs_diff(chunks[i], reference[i]) < 1e-11, "row chunks, tensor ", i);
      CHECK_MESSAGE(max_abs_diff(one_gemm[i], reference[i]) < 1e-11, "one GEMM, tensor ", i);
    }
  }
}

TEST_CASE("paramixer: block state_dict keys use the official names") {
  ParamixerBlock block(8, 4, 5);  // M = 3
  std::set<std::string> keys;
  for (const auto& [k, t] : block.state_dict()) keys.insert(k);
  std::set<std::string> want;
  for (std::string p : {"g.network.0.", "g.network.2."})
    for (std::string s : {"weight", "bias"}) want.insert(p + s);
  for (int m = 0; m < 3; ++m)
    for (std::string l : {"0.", "2."})
      for (std::string s : {"weight", "bias"}) want.insert("fs." + std::to_string(m) + ".network." + l + s);
  CHECK(keys == want);
  CHECK(block.state_dict().at("fs.2.network.2.weight").shape() == Shape{4, 5});
  CHECK(block.state_dict().at("g.network.0.weight").shape() == Shape{5, 4});
}

TEST_CASE("paramixer: block rejects wrong N, wrong d and bad construction") {
  ParamixerBlock block(16, 8, 8);
  Tensor good = randn({2, 16, 8});
  CHECK_THROWS_WITH_AS(block.forward(randn({2, 15, 8}), good), doctest::Contains("N = 15"), Error);
  CHECK_THROWS_WITH_AS(block.forward(good, randn({2, 15, 8})), doctest::Contains("built for n = 16"), Error);
  CHECK_THROWS_WITH_AS(block.forward(good, randn({2, 16, 7})), doctest::Contains("d = 7"), Error);
  CHECK_THROWS_WITH_AS(block.forward(randn({16, 8}), good), doctest::Contains("[ParamixerBlock] v_in"), Error);
  CHECK_THROWS_WITH_AS(block.forward(randn({3, 16, 8}), good), doctest::Contains("batch"), Error);
  CHECK_THROWS_AS(block.forward(good, randn({2, 16, 8}, DType::Float64)), Error);
  // The dtype error names the argument (the g-MLP's op used to call v_in "x"), for both paths.
  for (bool fused : {true, false}) {
    block.fused_f = fused;
    CHECK_THROWS_WITH_AS(block.forward(randn({2, 16, 8}, DType::Float64), good),
                         doctest::Contains("[ParamixerBlock] v_in is float64 but the block's parameters are float32"),
                         Error);
    CHECK_THROWS_WITH_AS(block.forward(good, randn({2, 16, 8}, DType::Float64)),
                         doctest::Contains("[ParamixerBlock] x is float64"), Error);
  }
  block.fused_f = true;
  CHECK_THROWS_AS(ParamixerBlock(1, 8, 8), Error);
  CHECK_THROWS_AS(ParamixerBlock(16, 0, 8), Error);
  CHECK_THROWS_AS(ParamixerBlock(16, 8, 8, Protocol::Chord, false, 1.0), Error);
}

TEST_CASE("paramixer: block output and gradients are bit-identical at 1 and 2 threads") {
  ThreadCount restore;
  for (auto protocol : {Protocol::Chord, Protocol::Cdil}) {
    ParamixerBlock block(200, 16, 16, protocol);
    Tensor v_in = randn({4, 200, 16}).set_requires_grad(true);
    Tensor x = randn({4, 200, 16}).set_requires_grad(true);
    Tensor seed = randn({4, 200, 16});
    auto run = [&](int threads) {
      set_num_threads(threads);
      block.zero_grad();
      v_in.impl().grad = x.impl().grad = nullptr;
      Tensor out = block.forward(v_in, x);
      out.backward(seed);
      std::vector<Tensor> r{out.detach(), v_in.grad(), x.grad()};
      for (const Tensor& p : block.parameters()) r.push_back(p.grad());
      return r;
    };
    auto one = run(1), two = run(2);
    for (size_t i = 0; i < one.size(); ++i) CHECK_MESSAGE(bit_equal(one[i], two[i]), "tensor ", i);
  }
}

TEST_CASE("paramixer: block dropout p2 acts in training only") {
  ParamixerBlock block(8, 4, 4, Protocol::Chord, false, 0.5);
  Tensor v = randn({2, 8, 4});
  std::vector<float> train = block.forward(v, v).to_vector<float>();
  int zeros = 0;
  for (float f : train) zeros += f == 0.f;
  CHECK(zeros > 0);
  block.eval();
  std::vector<float> eval = block.forward(v, v).to_vector<float>();
  for (float f : eval) CHECK(f != 0.f);
}
