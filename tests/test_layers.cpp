// The layers: init, hand-computed values, gradient checks in float64, modes and errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops_reduce.h"
#include "core/random.h"
#include "layers/activation.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/mlp.h"
#include "layers/sequential.h"

using namespace pmx;

TEST_CASE("layers: Linear init is U(-1/sqrt(in), 1/sqrt(in)) for weight and bias") {
  manual_seed(0);
  nn::Linear fc(100, 50);
  CHECK(fc.weight.shape() == Shape{50, 100});
  CHECK(fc.bias.shape() == Shape{50});
  for (const Tensor& t : {fc.weight, fc.bias}) {
    std::vector<float> v = t.to_vector<float>();
    float lo = 1, hi = -1;
    for (float x : v) { lo = std::min(lo, x); hi = std::max(hi, x); }
    CHECK(lo >= -0.1f);
    CHECK(hi <= 0.1f);
    CHECK(hi - lo > 0.15f);  // it uses the whole range, not a narrower one
  }
  nn::Linear no_bias(3, 2, /*bias=*/false);
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.parameters().size() == 1);
  CHECK_THROWS_WITH_AS(nn::Linear(0, 3), doctest::Contains("[Linear]"), Error);
}

TEST_CASE("layers: Linear computes x W^T + b") {
  nn::Linear fc(3, 2);
  std::vector<float> w{1, 2, 3, -1, 0, 1}, b{0.5f, -2};
  std::copy(w.begin(), w.end(), fc.weight.data<float>());
  std::copy(b.begin(), b.end(), fc.bias.data<float>());
  Tensor x = from_vector(std::vector<float>{1, 1, 1, 2, 0, -1}, {2, 3});
  // row 0: (6 + 0.5, 0 - 2); row 1: (2 - 3 + 0.5, -2 - 1 - 2)
  CHECK(fc(x).to_vector<float>() == std::vector<float>{6.5f, -2, -0.5f, -5});
  CHECK(fc(from_vector(std::vector<float>{1, 1, 1}, {1, 1, 3})).shape() == Shape{1, 1, 2});
  CHECK_THROWS_WITH_AS(fc(zeros({2, 4})), doctest::Contains("[Linear] expected input (..., 3), got (2, 4)"), Error);
}

TEST_CASE("layers: gradient accumulates over two backward calls without zero_grad") {
  manual_seed(5);
  nn::Linear fc(4, 3);
  Tensor x = randn({5, 4});
  sum(fc(x)).backward();
  std::vector<float> once = fc.weight.grad().to_vector<float>();
  std::vector<float> bias_once = fc.bias.grad().to_vector<float>();
  sum(fc(x)).backward();
  std::vector<float> twice = fc.weight.grad().to_vector<float>();
  for (size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == doctest::Approx(2 * once[i]));
  CHECK(bias_once == std::vector<float>{5, 5, 5});
  CHECK(fc.bias.grad().to_vector<float>() == std::vector<float>{10, 10, 10});
  fc.zero_grad();
  CHECK_FALSE(fc.weight.grad().defined());
}

TEST_CASE("layers: gradcheck of Linear, MLP and LayerNorm in float64") {
  manual_seed(11);
  nn::Linear fc(5, 3);
  fc.to(DType::Float64);
  Tensor x = randn({2, 4, 5}, DType::Float64).set_requires_grad(true);
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return fc(in[0]); }, {x, fc.weight, fc.bias});
  CHECK_MESSAGE(r.ok, r.message);

  for (nn::Activation act : {nn::Activation::Gelu, nn::Activation::Tanh, nn::Activation::Relu}) {
    nn::MLP mlp(5, {7, 6}, 2, act);
    mlp.to(DType::Float64);
    std::vector<Tensor> inputs{x};
    for (const Tensor& p : mlp.parameters()) inputs.push_back(p);
    r = gradcheck([&](const std::vector<Tensor>& in) { return mlp(in[0]); }, inputs);
    CHECK_MESSAGE(r.ok, r.message);
  }

  nn::LayerNorm norm(5);
  norm.to(DType::Float64);
  normal_(norm.weight, 1.0, 0.5);  // away from the ones/zeros init, so both gradients matter
  normal_(norm.bias, 0.0, 0.5);
  r = gradcheck([&](const std::vector<Tensor>& in) { return norm(in[0]); }, {x, norm.weight, norm.bias});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("layers: MLP is laid out as PyTorch's Sequential") {
  nn::MLP mlp(4, {8, 16}, 2, nn::Activation::Gelu);
  REQUIRE(mlp.size() == 5);
  CHECK(mlp[0].type_name() == "Linear");
  CHECK(mlp[1].type_name() == "GELU");
  CHECK(mlp[3].type_name() == "GELU");
  CHECK(mlp[4].type_name() == "Linear");
  CHECK(mlp.named_parameters()[4].first == "4.weight");
  CHECK(mlp.named_parameters()[4].second.shape() == Shape{2, 16});
  CHECK(mlp(zeros({3, 4})).shape() == Shape{3, 2});
  nn::MLP linear_only(4, {}, 3, nn::Activation::Identity);
  CHECK(linear_only.size() == 1);
  CHECK(nn::MLP(4, {4}, 4, nn::Activation::Identity)[1].type_name() == "Identity");
  CHECK_THROWS_AS(mlp[5], Error);
}

TEST_CASE("layers: Sequential runs its children in order") {
  nn::Sequential net;
  Tensor x = from_vector(std::vector<float>{-1, 0.5f, 2}, {3});
  CHECK(net(x).same(x));  // empty: identity
  auto fc = std::make_shared<nn::Linear>(3, 3, false);
  std::vector<float> w{1, 0, 0, 0, -1, 0, 0, 0, 2};
  std::copy(w.begin(), w.end(), fc->weight.data<float>());
  net.push_back(fc);
  net.push_back(std::make_shared<nn::ReLU>());
  net.push_back(std::make_shared<nn::Tanh>());
  std::vector<float> y = net(x).to_vector<float>();
  CHECK(y[0] == 0.f);
  CHECK(y[1] == 0.f);
  CHECK(y[2] == doctest::Approx(std::tanh(4.0)));
  CHECK(net.named_parameters()[0].first == "0.weight");
  net.push_back(std::make_shared<nn::Module>());
  CHECK_THROWS_WITH_AS(net(x), doctest::Contains("no single-input forward"), Error);
}

TEST_CASE("layers: GELU module is the exact erf form") {
  nn::GELU gelu_module;
  Tensor x = from_vector(std::vector<double>{-2, -0.5, 0, 1, 3}, {5});
  std::vector<double> y = gelu_module(x).to_vector<double>();
  std::vector<double> xs = x.to_vector<double>();
  for (size_t i = 0; i < xs.size(); ++i)
    CHECK(y[i] == doctest::Approx(0.5 * xs[i] * (1 + std::erf(xs[i] / std::sqrt(2.0)))).epsilon(1e-12));
}

TEST_CASE("layers: Embedding looks up rows and keeps the padding row at zero") {
  manual_seed(2);
  nn::Embedding table(6, 3, /*padding_idx=*/1);
  CHECK(table.weight.shape() == Shape{6, 3});
  std::vector<float> w = table.weight.to_vector<float>();
  CHECK(w[3] == 0.f);
  CHECK(w[4] == 0.f);
  CHECK(w[5] == 0.f);
  CHECK(w[0] != 0.f);
  Tensor ids = from_vector(std::vector<int64_t>{5, 1, 0, 5}, {2, 2});
  Tensor e = table(ids);
  CHECK(e.shape() == Shape{2, 2, 3});
  std::vector<float> v = e.to_vector<float>();
  for (int j = 0; j < 3; ++j) {
    CHECK(v[j] == w[15 + j]);
    CHECK(v[3 + j] == 0.f);
    CHECK(v[6 + j] == w[j]);
  }
  sum(e).backward();
  std::vector<float> g = table.weight.grad().to_vector<float>();
  CHECK(g[15] == 2.f);  // id 5 read twice
  CHECK(g[3] == 0.f);   // padding row gets no gradient
  CHECK(g[0] == 1.f);

  // The padding row is read but deliberately gets no gradient, so the check avoids it.
  table.to(DType::Float64);
  Tensor no_padding = from_vector(std::vector<int64_t>{5, 2, 0, 5, 4}, {5});
  auto r = gradcheck([&](const std::vector<Tensor>&) { return table(no_padding); }, {table.weight});
  CHECK_MESSAGE(r.ok, r.message);

  CHECK_THROWS_WITH_AS(table(zeros({2})), doctest::Contains("[Embedding] ids must be int64"), Error);
  CHECK_THROWS_AS(table(from_vector(std::vector<int64_t>{6}, {1})), Error);
  CHECK_THROWS_WITH_AS(nn::Embedding(4, 2, 4), doctest::Contains("padding_idx"), Error);
  CHECK_THROWS_AS(nn::Embedding(0, 2), Error);
}

TEST_CASE("layers: Embedding::reset_uniform draws U(-r, r) and keeps the padding row at zero") {
  manual_seed(4);
  nn::Embedding table(50, 8, /*padding_idx=*/3);
  table.reset_uniform(0.1);
  std::vector<float> w = table.weight.to_vector<float>();
  double lo = 1, hi = -1, mean = 0;
  for (int64_t r = 0; r < 50; ++r)
    for (int64_t j = 0; j < 8; ++j) {
      float v = w[size_t(r * 8 + j)];
      if (r == 3) {
        CHECK(v == 0.f);
        continue;
      }
      lo = std::min(lo, double(v));
      hi = std::max(hi, double(v));
      mean += v / (49.0 * 8);
    }
  CHECK(lo >= -0.1);
  CHECK(hi <= 0.1);
  CHECK(hi - lo > 0.18);  // 392 draws cover nearly the whole range (N(0, 1) would not fit in it)
  CHECK(std::abs(mean) < 0.02);
  CHECK_THROWS_WITH_AS(table.reset_uniform(0), doctest::Contains("range > 0"), Error);
}

TEST_CASE("layers: Embedding::reset_uniform on a float64 table keeps the padding row at zero") {
  // The padding row was zeroed through a float pointer, so after to(Float64) reset_uniform threw.
  manual_seed(5);
  nn::Embedding table(6, 3, /*padding_idx=*/1);
  table.to(DType::Float64);
  table.reset_uniform(0.5);
  REQUIRE(table.weight.dtype() == DType::Float64);
  std::vector<double> w = table.weight.to_vector<double>();
  int64_t nonzero = 0;
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t j = 0; j < 3; ++j) {
      if (r == 1) CHECK(w[size_t(r * 3 + j)] == 0.0);
      else nonzero += w[size_t(r * 3 + j)] != 0.0;
    }
  CHECK(nonzero == 15);
}

TEST_CASE("layers: Dropout scales survivors in training and is the identity in eval") {
  manual_seed(9);
  nn::Dropout drop(0.5);
  Tensor x = ones({1000});
  std::vector<float> y = drop(x).to_vector<float>();
  int zeros_seen = 0;
  for (float v : y) {
    CHECK((v == 0.f || v == 2.f));
    zeros_seen += v == 0.f;
  }
  CHECK(zeros_seen > 400);
  CHECK(zeros_seen < 600);
  drop.eval();
  CHECK(drop(x).to_vector<float>() == x.to_vector<float>());
  CHECK(nn::Dropout(0.0)(x).to_vector<float>() == x.to_vector<float>());
  CHECK_THROWS_WITH_AS(nn::Dropout(1.0), doctest::Contains("[Dropout]"), Error);
  CHECK_THROWS_AS(nn::Dropout(-0.1), Error);
}

TEST_CASE("layers: LayerNorm init, value and non-affine form") {
  nn::LayerNorm norm(3);
  CHECK(norm.weight.to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(norm.bias.to_vector<float>() == std::vector<float>{0, 0, 0});
  CHECK(norm.named_parameters()[0].first == "weight");
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 10, 10, 10}, {2, 3});
  nn::LayerNorm plain(3, 1e-5, /*affine=*/false);
  CHECK(plain.parameters().empty());
  std::vector<double> y = plain(x).to_vector<double>();
  double z = 1 / std::sqrt(2.0 / 3 + 1e-5);  // mean 2, biased variance 2/3
  CHECK(y[0] == doctest::Approx(-z).epsilon(1e-12));
  CHECK(y[1] == doctest::Approx(0.0));
  CHECK(y[2] == doctest::Approx(z).epsilon(1e-12));
  CHECK(y[4] == doctest::Approx(0.0));  // constant row: zero, not NaN
  CHECK_THROWS_WITH_AS(norm(zeros({2, 4})), doctest::Contains("[LayerNorm]"), Error);
  CHECK_THROWS_AS(nn::LayerNorm(0), Error);
}
