// ParamixerModel: names, sizes, gradients of the whole model, errors, threads, and a short
// training run on the adding problem.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "autograd/ops_loss.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_reduce.h"
#include "core/random.h"
#include "core/threads.h"
#include "layers/paramixer_model.h"
#include "optim/adam.h"
#include "optim/clip_grad.h"
#include "test_tensors.h"

using namespace pmx;
using pmx_test::bit_equal;
using pmx::nn::ParamixerConfig;
using pmx::nn::ParamixerHead;
using pmx::nn::ParamixerModel;
using pmx::nn::Protocol;

namespace {

ParamixerConfig adding_config(int64_t N) {
  ParamixerConfig c;
  c.seq_len = N;
  c.input_features = 2;
  c.dim = c.hidden = 32;
  c.layers = 1;
  c.classes = 1;
  c.head = ParamixerHead::Flatten;
  return c;
}

// Adding problem: values 1 - 2u, markers at two distinct positions, target 0.5 + (v_p1 + v_p2) / 4.
void adding_batch(int64_t B, int64_t N, Generator& g, Tensor* input, Tensor* target) {
  std::vector<float> in(B * N * 2, 0.f), y(B);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < N; ++t) in[(b * N + t) * 2] = float(1 - 2 * random_uniform(g.seed(), g.advance(1)));
    int64_t p1 = int64_t(random_uniform(g.seed(), g.advance(1)) * N);
    int64_t p2 = int64_t(random_uniform(g.seed(), g.advance(1)) * (N - 1));
    if (p2 >= p1) ++p2;
    in[(b * N + p1) * 2 + 1] = in[(b * N + p2) * 2 + 1] = 1.f;
    y[b] = 0.5f + (in[(b * N + p1) * 2] + in[(b * N + p2) * 2]) / 4;
  }
  *input = from_vector(in, {B, N, 2});
  *target = from_vector(y, {B, 1});
}

void check_model_gradients(ParamixerModel& model, const Tensor& input) {
  model.to(DType::Float64);
  Tensor in = input.dtype() == DType::Int64 ? input : input.to(DType::Float64);
  std::vector<Tensor> params = model.parameters();
  auto r = gradcheck([&](const std::vector<Tensor>&) { return model(in); }, params);
  CHECK_MESSAGE(r.ok, r.message);
}

}  // namespace

TEST_CASE("paramixer: adding model at N = 1024 has exactly 49,167 parameters") {
  ParamixerModel model(adding_config(1024));
  CHECK(model.num_parameters() == 49167);
  CHECK(model.blocks.size() == 1);
  CHECK(model.blocks[0]->num_factors == 10);
  CHECK(model.blocks[0]->links == 11);
}

TEST_CASE("paramixer: embedding_init draws the token embedding from U(-r, r), only for token input") {
  ParamixerConfig c;
  c.seq_len = 8;
  c.vocab = 40;
  c.padding_idx = 0;
  c.classes = 2;
  c.dim = 4;
  c.hidden = 4;
  manual_seed(1);
  ParamixerModel normal(c);
  c.embedding_init = 0.1;
  manual_seed(1);
  ParamixerModel uniform(c);
  std::vector<float> wn = normal.embedding->weight.to_vector<float>();
  std::vector<float> wu = uniform.embedding->weight.to_vector<float>();
  float max_n = 0, max_u = 0;
  for (size_t i = 0; i < wn.size(); ++i) {
    max_n = std::max(max_n, std::abs(wn[i]));
    max_u = std::max(max_u, std::abs(wu[i]));
  }
  CHECK(max_n > 1.f);  // 160 draws of N(0, 1)
  CHECK(max_u <= 0.1f);
  CHECK(max_u > 0.05f);
  for (int j = 0; j < 4; ++j) CHECK(wu[size_t(j)] == 0.f);  // padding row
  c.vocab = 0;
  c.input_features = 2;
  CHECK_THROWS_WITH_AS(ParamixerModel{c}, doctest::Contains("token input only"), Error);
  c.vocab = 40;
  c.input_features = 0;
  c.embedding_init = -1;
  CHECK_THROWS_WITH_AS(ParamixerModel{c}, doctest::Contains("embedding_init must be >= 0"), Error);
}

TEST_CASE("paramixer: model state_dict keys match the official names") {
  ParamixerConfig c;
  c.seq_len = 8;
  c.vocab = 6;
  c.dim = 4;
  c.hidden = 5;
  c.layers = 2;
  c.classes = 4;
  c.position_table = true;
  ParamixerModel model(c);
  std::set<std::string> keys;
  for (const auto& [k, t] : model.state_dict()) keys.insert(k);
  std::set<std::string> want{"embedding.weight", "apc_embedding.weight", "final.weight", "final.bias"};
  for (int l = 0; l < 2; ++l) {
    std::string a = "attention." + std::to_string(l) + ".";
    for (std::string s : {"weight", "bias"}) {
      want.insert(a + "g.network.0." + s);
      want.insert(a + "g.network.2." + s);
      for (int m = 0; m < 3; ++m) {
        want.insert(a + "fs." + std::to_string(m) + ".network.0." + s);
        want.insert(a + "fs." + std::to_string(m) + ".network.2." + s);
      }
    }
  }
  CHECK(keys == want);
  auto sd = model.state_dict();
  CHECK(sd.at("apc_embedding.weight").shape() == Shape{8, 4});
  CHECK(sd.at("final.weight").shape() == Shape{4, 32});  // FLATTEN: N * d inputs
  CHECK(sd.at("attention.1.fs.2.network.2.bias").shape() == Shape{4});

  ParamixerModel adding(adding_config(16));
  std::set<std::string> adding_keys;
  for (const auto& [k, t] : adding.state_dict()) adding_keys.insert(k);
  CHECK(adding_keys.count("init_linear.weight") == 1);
  CHECK(adding_keys.count("init_linear.bias") == 1);
  CHECK(adding_keys.count("embedding.weight") == 0);
  CHECK(adding_keys.count("apc_embedding.weight") == 0);
}

TEST_CASE("paramixer: model gradcheck, tokens + position table + FLATTEN, both protocols") {
  for (auto protocol : {Protocol::Chord, Protocol::Cdil}) {
    CAPTURE(int(protocol));
    ParamixerConfig c;
    c.seq_len = 6;
    c.vocab = 5;
    c.dim = 3;
    c.hidden = 3;
    c.layers = 2;
    c.classes = 2;
    c.protocol = protocol;
    c.position_table = true;
    ParamixerModel model(c);
    Tensor tokens = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 1, 2, 2, 0, 4, 3, 1}, {2, 6});
    check_model_gradients(model, tokens);
  }
}

TEST_CASE("paramixer: the padding row of the token embedding starts at zero and gets no gradient") {
  ParamixerConfig c;
  c.seq_len = 6;
  c.vocab = 5;
  c.padding_idx = 0;
  c.dim = 3;
  c.hidden = 3;
  ParamixerModel model(c);
  std::vector<float> table = model.embedding->weight.to_vector<float>();
  for (int j = 0; j < 3; ++j) CHECK(table[j] == 0.f);
  Tensor tokens = from_vector(std::vector<int64_t>{0, 1, 2, 0, 4, 1}, {1, 6});
  model(tokens).backward(full({1, 1}, 1.0));
  std::vector<float> grad = model.embedding->weight.grad().to_vector<float>();
  for (int j = 0; j < 3; ++j) CHECK(grad[j] == 0.f);
  CHECK(std::abs(grad[3]) + std::abs(grad[4]) + std::abs(grad[5]) > 0.f);  // row 1 is used
}

TEST_CASE("paramixer: model gradcheck, real input + MEAN, MAX and CLS heads, both protocols") {
  for (auto head : {ParamixerHead::Mean, ParamixerHead::Max, ParamixerHead::Cls})
    for (auto protocol : {Protocol::Chord, Protocol::Cdil}) {
      CAPTURE(int(head));
      CAPTURE(int(protocol));
      ParamixerConfig c;
      c.seq_len = 9;
      c.input_features = 2;
      c.dim = 3;
      c.hidden = 4;
      c.classes = 3;
      c.protocol = protocol;
      c.head = head;
      c.position_table = head == ParamixerHead::Cls;
      ParamixerModel model(c);
      CHECK(model.inner_len() == (head == ParamixerHead::Cls ? 10 : 9));
      check_model_gradients(model, randn({2, 9, 2}));
    }
}

TEST_CASE("paramixer: each head reads the last block's output as documented") {
  // FLATTEN: all positions, position-major; MEAN: the mean over positions; MAX: the per-feature
  // maximum over positions; CLS: position 0. Features computed here by hand from the blocks.
  const int64_t B = 2, N = 6, d = 3;
  for (auto head : {ParamixerHead::Flatten, ParamixerHead::Mean, ParamixerHead::Max, ParamixerHead::Cls}) {
    CAPTURE(int(head));
    ParamixerConfig c;
    c.seq_len = N;
    c.input_features = 2;
    c.dim = d;
    c.hidden = 4;
    c.layers = 2;
    c.classes = 2;
    c.head = head;
    ParamixerModel model(c);
    model.to(DType::Float64);
    Tensor input = randn({B, N, 2}, DType::Float64);
    Tensor x = model.embed(input);
    Tensor v = x;
    for (auto& block : model.blocks) v = block->forward(v, x);
    const int64_t n = model.inner_len();
    std::vector<double> vv = v.to_vector<double>(), feat;
    for (int64_t b = 0; b < B; ++b) {
      auto at = [&](int64_t i, int64_t j) { return vv[size_t((b * n + i) * d + j)]; };
      if (head == ParamixerHead::Flatten) {
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < d; ++j) feat.push_back(at(i, j));
        continue;
      }
      for (int64_t j = 0; j < d; ++j) {
        double acc = head == ParamixerHead::Max ? at(0, j) : 0.0;
        if (head == ParamixerHead::Cls) acc = at(0, j);
        for (int64_t i = 0; i < n && head != ParamixerHead::Cls; ++i)
          acc = head == ParamixerHead::Max ? std::max(acc, at(i, j)) : acc + at(i, j) / double(n);
        feat.push_back(acc);
      }
    }
    const int64_t width = int64_t(feat.size()) / B;
    std::vector<double> want = (*model.final)(from_vector(feat, {B, width})).to_vector<double>();
    std::vector<double> got = model(input).to_vector<double>();
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
  }
}

TEST_CASE("paramixer: CLS head prepends a learned token, so the blocks see N + 1 positions") {
  ParamixerConfig c;
  c.seq_len = 7;
  c.input_features = 2;
  c.dim = 4;
  c.hidden = 4;
  c.head = ParamixerHead::Cls;
  ParamixerModel model(c);
  CHECK(model.blocks[0]->n == 8);
  CHECK(model.cls_token.shape() == Shape{4});
  CHECK(model.final->weight.shape() == Shape{1, 4});
  Tensor out = model(randn({3, 7, 2}));
  CHECK(out.shape() == Shape{3, 1});
}

// Every factor is circulant and every MLP acts per position, so without a position table a
// cyclic shift of the sequence shifts V and leaves a pooled head's output unchanged. Pathfinder
// relies on this (its label does not depend on where the path is); the position table breaks it.
TEST_CASE("paramixer: without a position table, a pooled model ignores a cyclic shift of its input") {
  const int64_t N = 12, B = 2;  // not a power of two: the offsets wrap mod N
  std::vector<int64_t> tokens(B * N);
  for (int64_t i = 0; i < B * N; ++i) tokens[i] = (i * 7 + i / 5) % 5;
  auto shifted = [&](int64_t s) {
    std::vector<int64_t> t(B * N);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < N; ++i) t[b * N + (i + s) % N] = tokens[b * N + i];
    return from_vector(t, {B, N});
  };
  for (auto head : {ParamixerHead::Mean, ParamixerHead::Max})
    for (auto protocol : {Protocol::Chord, Protocol::Cdil})
      for (bool table : {false, true}) {
        CAPTURE(int(head));
        CAPTURE(int(protocol));
        CAPTURE(table);
        ParamixerConfig c;
        c.seq_len = N;
        c.vocab = 5;
        c.dim = 4;
        c.hidden = 5;
        c.layers = 2;
        c.classes = 3;
        c.protocol = protocol;
        c.head = head;
        c.position_table = table;
        ParamixerModel model(c);
        model.to(DType::Float64);
        std::vector<double> base = model(shifted(0)).to_vector<double>();
        double worst = 0;
        for (int64_t s : {1, 5, 11}) {
          std::vector<double> out = model(shifted(s)).to_vector<double>();
          for (size_t j = 0; j < out.size(); ++j) worst = std::max(worst, std::abs(out[j] - base[j]));
        }
        if (table)
          CHECK(worst > 1e-6);  // the control: absolute positions do change the output
        else
          CHECK(worst < 1e-12);
      }
}

TEST_CASE("paramixer: fused and reference paths agree for the whole model") {
  ParamixerConfig c = adding_config(37);
  c.dim = 8;
  c.hidden = 6;
  c.layers = 2;
  ParamixerModel model(c);
  model.to(DType::Float64);
  Tensor in = randn({3, 37, 2}, DType::Float64);
  auto run = [&](bool fused) {
    model.set_fused_f(fused);
    model.zero_grad();
    Tensor out = model(in);
    out.backward(full({3, 1}, 1.0, DType::Float64));
    std::vector<Tensor> r{out.detach()};
    for (const Tensor& p : model.parameters()) r.push_back(p.grad());
    return r;
  };
  auto a = run(true), b = run(false);
  for (size_t i = 0; i < a.size(); ++i) {
    std::vector<double> x = a[i].to_vector<double>(), y = b[i].to_vector<double>();
    double err = 0;
    for (size_t j = 0; j < x.size(); ++j) err = std::max(err, std::abs(x[j] - y[j]));
    CHECK_MESSAGE(err < 1e-11, "tensor ", i);
  }
}

TEST_CASE("paramixer: model rejects bad inputs and configs, naming the problem") {
  ParamixerModel adding(adding_config(16));
  CHECK_THROWS_WITH_AS(adding(randn({2, 15, 2})), doctest::Contains("(B, 16, 2)"), Error);
  CHECK_THROWS_WITH_AS(adding(randn({2, 16, 3})), doctest::Contains("[ParamixerModel] real input"), Error);
  CHECK_THROWS_AS(adding(randn({2, 16, 2}, DType::Float64)), Error);
  ParamixerConfig padded_reals = adding_config(16);
  padded_reals.padding_idx = 0;  // would be ignored: there is no token embedding
  CHECK_THROWS_WITH_AS(ParamixerModel{padded_reals}, doctest::Contains("padding_idx applies to token input only"), Error);
  ParamixerConfig c;
  c.seq_len = 4;
  c.vocab = 6;
  c.dim = 4;
  c.hidden = 4;
  ParamixerModel tokens(c);
  CHECK_THROWS_WITH_AS(tokens(from_vector(std::vector<int64_t>{0, 1, 6, 2}, {1, 4})), doctest::Contains("6"), Error);
  CHECK_THROWS_AS(tokens(from_vector(std::vector<int64_t>{0, 1, -1, 2}, {1, 4})), Error);
  CHECK_THROWS_WITH_AS(tokens(from_vector(std::vector<int64_t>{0, 1, 2}, {1, 3})), doctest::Contains("token input"),
                       Error);
  CHECK_THROWS_WITH_AS(tokens(randn({1, 4})), doctest::Contains("int64"), Error);
  ParamixerConfig both = c;
  both.input_features = 2;
  CHECK_THROWS_WITH_AS(ParamixerModel{both}, doctest::Contains("exactly one"), Error);
  ParamixerConfig short_seq = c;
  short_seq.seq_len = 1;
  CHECK_THROWS_AS(ParamixerModel{short_seq}, Error);
  ParamixerConfig bad_p1 = c;
  bad_p1.p1 = 1.5;
  CHECK_THROWS_AS(ParamixerModel{bad_p1}, Error);
}

TEST_CASE("paramixer: p1 dropout masks X and the first V independently, only in training") {
  ParamixerConfig c;
  c.seq_len = 16;
  c.vocab = 4;
  c.dim = 8;
  c.hidden = 8;
  c.p1 = 0.3;
  ParamixerModel model(c);
  Tensor tokens = randint(0, 4, {2, 16});
  manual_seed(5);
  Tensor a = model(tokens);
  manual_seed(6);
  Tensor b = model(tokens);
  CHECK_FALSE(bit_equal(a, b));
  model.eval();
  CHECK(bit_equal(model(tokens), model(tokens)));
}

TEST_CASE("paramixer: model outputs and gradients are bit-identical at 1 and 2 threads") {
  int saved = get_num_threads();
  ParamixerModel model(adding_config(256));
  Tensor in, target;
  Generator g(3);
  adding_batch(8, 256, g, &in, &target);
  auto run = [&](int threads) {
    set_num_threads(threads);
    model.zero_grad();
    Tensor out = model(in);
    mse_loss(out, target).backward();
    std::vector<Tensor> r{out.detach()};
    for (const Tensor& p : model.parameters()) r.push_back(p.grad());
    return r;
  };
  auto one = run(1), two = run(2);
  set_num_threads(saved);
  for (size_t i = 0; i < one.size(); ++i) CHECK_MESSAGE(bit_equal(one[i], two[i]), "tensor ", i);
}

TEST_CASE("paramixer: a short Adam run on the adding problem lowers the MSE 5x") {
  // One thread: at B*N = 512 rows every op is a few microseconds, and OpenMP barriers on a
  // loaded 2-core machine would cost more than the work.
  int saved = get_num_threads();
  set_num_threads(1);
  auto start = std::chrono::steady_clock::now();
  manual_seed(0);
  const int64_t N = 16, B = 32;
  ParamixerModel model(adding_config(N));
  optim::Adam opt(model.parameters(), 1e-3);
  Generator data(11), eval_data(12);
  Tensor eval_in, eval_y;
  adding_batch(512, N, eval_data, &eval_in, &eval_y);
  auto eval_mse = [&] {
    NoGradGuard no_grad;
    return mse_loss(model(eval_in), eval_y).item();
  };
  double before = eval_mse();
  for (int step = 0; step < 300; ++step) {
    Tensor in, y;
    adding_batch(B, N, data, &in, &y);
    model.zero_grad();
    mse_loss(model(in), y).backward();
    optim::clip_grad_norm_(model.parameters(), 1.0);
    opt.step();
  }
  double after = eval_mse();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  set_num_threads(saved);
  MESSAGE("adding N = 16: eval MSE ", before, " -> ", after, " in ", seconds, " s");
  CHECK(after * 5 < before);
  // The time is reported above, not asserted: a loaded or sanitized build may take longer.
}

// weights_input: what the f_m read. Block-input variants, written out by hand from the blocks,
// must give the model's output; the official setting must differ from them once L >= 2.
TEST_CASE("paramixer: weights_input feeds each block's f_m its input V (or its layer norm)") {
  ParamixerConfig c;
  c.seq_len = 10;
  c.vocab = 6;
  c.dim = 4;
  c.hidden = 3;
  c.layers = 2;
  c.classes = 2;
  c.head = ParamixerHead::Mean;
  Tensor tokens = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 1, 2, 2, 0, 4, 3, 1, 5, 5, 2, 0, 1, 3, 3},
                              {2, 10});
  std::vector<float> official;
  for (auto input : {nn::MixingWeightsInput::Embedding, nn::MixingWeightsInput::BlockInput,
                     nn::MixingWeightsInput::NormalizedBlockInput}) {
    CAPTURE(int(input));
    c.weights_input = input;
    manual_seed(3);  // the same weights for every setting
    ParamixerModel model(c);
    Tensor x = model.embed(tokens), v = x;
    for (auto& block : model.blocks) {
      Tensor f_in = x;
      if (input == nn::MixingWeightsInput::BlockInput) f_in = v;
      if (input == nn::MixingWeightsInput::NormalizedBlockInput)
        f_in = layer_norm(v, ones({4}), zeros({4}));
      v = block->forward(v, f_in);
    }
    std::vector<float> want = (*model.final)(mean(v, 1)).to_vector<float>(), got = model(tokens).to_vector<float>();
    CHECK(got == want);
    if (input == nn::MixingWeightsInput::Embedding)
      official = got;
    else
      CHECK(got != official);  // the control: block 2's weights do change
  }
  CHECK(nn::parse_mixing_weights_input("block-input-ln") == nn::MixingWeightsInput::NormalizedBlockInput);
  CHECK_THROWS_WITH_AS(nn::parse_mixing_weights_input("block"), doctest::Contains("'block'"), Error);
}

TEST_CASE("paramixer: model gradcheck with the block-input weights variants, both protocols") {
  for (auto input : {nn::MixingWeightsInput::BlockInput, nn::MixingWeightsInput::NormalizedBlockInput})
    for (auto protocol : {Protocol::Chord, Protocol::Cdil}) {
      CAPTURE(int(input));
      CAPTURE(int(protocol));
      ParamixerConfig c;
      c.seq_len = 7;
      c.vocab = 5;
      c.dim = 3;
      c.hidden = 3;
      c.layers = 2;
      c.classes = 2;
      c.protocol = protocol;
      c.head = ParamixerHead::Mean;
      c.weights_input = input;
      ParamixerModel model(c);
      Tensor tokens = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 1, 2, 2, 0, 4, 3, 1, 0, 0}, {2, 7});
      check_model_gradients(model, tokens);
    }
}
