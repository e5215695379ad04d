// TransformerEncoderLayer and TransformerModel: pre-LN wiring, gradients in float64 for every input
// kind and head, parameter names and counts, errors, thread independence, and a tiny training run.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_loss.h"
#include "autograd/ops_reduce.h"
#include "core/random.h"
#include "core/threads.h"
#include "layers/transformer.h"
#include "optim/adam.h"

using namespace pmx;

namespace {

nn::TransformerConfig small_config(nn::TransformerHead head, bool tokens) {
  nn::TransformerConfig c;
  c.seq_len = 4;
  c.dim = 4;
  c.heads = 2;
  c.ff_hidden = 6;
  c.layers = 2;
  c.classes = 3;
  c.head = head;
  if (tokens) c.vocab = 5; else c.input_features = 2;
  return c;
}

// Every LayerNorm gets a non-trivial affine map and every bias a non-zero value, so gradcheck
// and value tests see whether they are used.
void perturb(nn::Module& model) {
  for (auto& [name, p] : model.named_parameters())
    if (name.find("norm") != std::string::npos || name.find("bias") != std::string::npos)
      uniform_(p, 0.5, 1.5);
}

std::vector<float> flat_grads(const nn::Module& model) {
  std::vector<float> all;
  for (const Tensor& p : model.parameters()) {
    std::vector<float> g = p.grad().to_vector<float>();
    all.insert(all.end(), g.begin(), g.end());
  }
  return all;
}

}  // namespace

TEST_CASE("attention: encoder layer is x + Attn(LN1(x)), then h + FF(LN2(h)) (pre-LN)") {
  manual_seed(1);
  nn::TransformerEncoderLayer layer(8, 2, 12);
  perturb(layer);
  Tensor x = randn({2, 5, 8});
  Tensor h = add(x, (*layer.self_attn)((*layer.norm1)(x)));
  Tensor expected = add(h, (*layer.linear2)(gelu((*layer.linear1)((*layer.norm2)(h)))));
  CHECK(layer(x).to_vector<float>() == expected.to_vector<float>());

  // With both residual branches' output maps zeroed the layer is the identity.
  for (Tensor t : {layer.self_attn->out_proj->weight, layer.self_attn->out_proj->bias, layer.linear2->weight,
                   layer.linear2->bias})
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 0.f;
  CHECK(layer(x).to_vector<float>() == x.to_vector<float>());
}

TEST_CASE("attention: encoder layer gradcheck in float64") {
  manual_seed(4);
  nn::TransformerEncoderLayer layer(4, 2, 6);
  perturb(layer);
  layer.to(DType::Float64);
  Tensor x = randn({2, 3, 4}, DType::Float64).set_requires_grad(true);
  std::vector<Tensor> inputs{x};
  for (const Tensor& p : layer.parameters()) inputs.push_back(p);
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return layer(in[0]); }, inputs);
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("attention: model gradcheck in float64 for every head and input kind") {
  struct Case { nn::TransformerHead head; bool tokens; bool positions; const char* what; };
  for (const Case& k : {Case{nn::TransformerHead::Flatten, true, true, "tokens + positions + FLATTEN"},
                        Case{nn::TransformerHead::Cls, true, true, "tokens + positions + CLS"},
                        Case{nn::TransformerHead::Mean, false, false, "real input + MEAN"},
                        Case{nn::TransformerHead::Max, false, false, "real input + MAX"},
                        Case{nn::TransformerHead::Cls, false, true, "real input + positions + CLS"}}) {
    CAPTURE(k.what);
    manual_seed(7);
    nn::TransformerConfig c = small_config(k.head, k.tokens);
    c.position_table = k.positions;
    nn::TransformerModel model(c);
    perturb(model);
    model.to(DType::Float64);
    Tensor input = k.tokens ? randint(0, c.vocab, {2, c.seq_len}) : randn({2, c.seq_len, 2}, DType::Float64);
    if (!k.tokens) input.set_requires_grad(true);
    std::vector<Tensor> inputs{input};
    for (const Tensor& p : model.parameters()) inputs.push_back(p);
    auto r = gradcheck([&](const std::vector<Tensor>& in) { return model(in[0]); }, inputs);
    CHECK_MESSAGE(r.ok, r.message);
  }
}

TEST_CASE("attention: model is embed, CLS first, + positions, the layers, the norm, then the head") {
  // The model's output rebuilt from its own submodules, with the embedding lookup, the CLS
  // position, the position table and the pooling written out here: which position the CLS head
  // reads and how MEAN and MAX pool are seen only by their values (a gradcheck passes either way).
  struct Case { nn::TransformerHead head; bool tokens; bool positions; const char* what; };
  for (const Case& k : {Case{nn::TransformerHead::Flatten, true, true, "tokens + positions + FLATTEN"},
                        Case{nn::TransformerHead::Cls, true, true, "tokens + positions + CLS"},
                        Case{nn::TransformerHead::Mean, false, true, "real input + positions + MEAN"},
                        Case{nn::TransformerHead::Max, false, false, "real input + MAX"},
                        Case{nn::TransformerHead::Cls, false, false, "real input + CLS"}}) {
    CAPTURE(k.what);
    manual_seed(9);
    nn::TransformerConfig c = small_config(k.head, k.tokens);
    c.position_table = k.positions;
    nn::TransformerModel model(c);
    perturb(model);
    model.to(DType::Float64);
    const int64_t B = 2, N = c.seq_len, d = c.dim, P = model.positions();
    Tensor input = k.tokens ? randint(0, c.vocab, {B, N}) : randn({B, N, 2}, DType::Float64);
    std::vector<double> x(size_t(B * P * d));  // (B, P, d): the encoder's input
    Tensor projected = k.tokens ? Tensor() : (*model.init_linear)(input);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t n = 0; n < N; ++n) {
        const int64_t at = (b * P + n + (P - N)) * d;  // the CLS position, if any, is position 0
        if (k.tokens) {
          const int64_t id = input.to_vector<int64_t>()[size_t(b * N + n)];
          for (int64_t j = 0; j < d; ++j) x[size_t(at + j)] = model.embedding->weight.to_vector<double>()[size_t(id * d + j)];
        } else {
          for (int64_t j = 0; j < d; ++j) x[size_t(at + j)] = projected.to_vector<double>()[size_t((b * N + n) * d + j)];
        }
      }
    if (k.head == nn::TransformerHead::Cls)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t j = 0; j < d; ++j) x[size_t(b * P * d + j)] = model.cls_token.to_vector<double>()[size_t(j)];
    if (k.positions)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < P * d; ++i) x[size_t(b * P * d + i)] += model.pos_embedding.to_vector<double>()[size_t(i)];
    Tensor h = from_vector(x, {B, P, d});
    for (const auto& layer : model.layers) h = (*layer)(h);
    std::vector<double> hv = (*model.norm)(h).to_vector<double>(), pooled;
    const int64_t width = k.head == nn::TransformerHead::Flatten ? P * d : d;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < width; ++j) {
        const double* row = &hv[size_t(b * P * d)];
        double v = row[j];  // FLATTEN: everything in order; CLS: position 0
        if (k.head == nn::TransformerHead::Mean || k.head == nn::TransformerHead::Max) {
          v = k.head == nn::TransformerHead::Mean ? 0.0 : row[j];
          for (int64_t n = 0; n < P; ++n)
            v = k.head == nn::TransformerHead::Mean ? v + row[n * d + j] / double(P) : std::max(v, row[n * d + j]);
        }
        pooled.push_back(v);
      }
    std::vector<double> want = (*model.final)(from_vector(pooled, {B, width})).to_vector<double>();
    std::vector<double> got = model(input).to_vector<double>();
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
  }
}

TEST_CASE("attention: model parameter names and count match the formula") {
  nn::TransformerConfig c;
  c.seq_len = 16; c.dim = 8; c.heads = 2; c.ff_hidden = 12; c.layers = 3; c.classes = 4; c.vocab = 6;
  c.position_table = true;
  c.head = nn::TransformerHead::Cls;
  nn::TransformerModel model(c);
  const int64_t d = 8, ff = 12, L = 3, N1 = 17;
  const int64_t per_layer = (4 * d * d + 4 * d) + (2 * d * ff + ff + d) + 4 * d;
  CHECK(model.layers[0]->num_parameters() == per_layer);
  CHECK(model.num_parameters() == d /*cls*/ + N1 * d /*positions*/ + 6 * d /*embedding*/ + L * per_layer +
                                      2 * d /*norm*/ + d * 4 + 4 /*final*/);
  auto sd = model.state_dict();
  for (const char* key : {"cls_token", "pos_embedding", "embedding.weight", "layers.0.self_attn.in_proj_weight",
                          "layers.2.self_attn.out_proj.bias", "layers.1.linear1.weight", "layers.1.linear2.bias",
                          "layers.2.norm1.weight", "layers.0.norm2.bias", "norm.weight", "final.weight"})
    CHECK_MESSAGE(sd.count(key) == 1, key);
  CHECK(sd.at("pos_embedding").shape() == Shape{N1, d});

  c.head = nn::TransformerHead::Flatten;
  c.vocab = 0; c.input_features = 2; c.position_table = false; c.layers = 1;
  nn::TransformerModel flat(c);
  CHECK(flat.num_parameters() == (2 * d + d) + per_layer + 2 * d + (16 * d * 4 + 4));
  CHECK(flat.state_dict().count("init_linear.weight") == 1);
}

TEST_CASE("attention: model rejects bad configs and inputs, naming shapes") {
  nn::TransformerConfig c = small_config(nn::TransformerHead::Flatten, true);
  nn::TransformerModel model(c);
  CHECK_THROWS_WITH_AS(model(randint(0, 5, {2, 6})),
                       doctest::Contains("[TransformerModel] expected token ids (B, 4) int64, got (2, 6)"), Error);
  CHECK_THROWS_WITH_AS(model(randn({2, 4})), doctest::Contains("float32"), Error);
  CHECK_THROWS_WITH_AS(model(from_vector(std::vector<int64_t>{0, 1, 2, 9}, {1, 4})), doctest::Contains("id 9"),
                       Error);
  nn::TransformerModel real(small_config(nn::TransformerHead::Mean, false));
  CHECK_THROWS_WITH_AS(real(randn({2, 4, 3})), doctest::Contains("expected values (B, 4, 2), got (2, 4, 3)"), Error);
  nn::TransformerConfig padded_reals = small_config(nn::TransformerHead::Mean, false);
  padded_reals.padding_idx = 0;
  CHECK_THROWS_WITH_AS(nn::TransformerModel{padded_reals}, doctest::Contains("padding_idx applies to token input only"),
                       Error);

  nn::TransformerConfig both = c;
  both.input_features = 2;
  CHECK_THROWS_WITH_AS(nn::TransformerModel{both}, doctest::Contains("exactly one of vocab"), Error);
  nn::TransformerConfig indivisible = c;
  indivisible.heads = 3;
  CHECK_THROWS_WITH_AS(nn::TransformerModel{indivisible}, doctest::Contains("not divisible by heads = 3"), Error);
  CHECK_THROWS_WITH_AS(nn::TransformerEncoderLayer(4, 2, 6)(randn({2, 3, 5})),
                       doctest::Contains("[TransformerEncoderLayer] expected input (B, N, 4), got (2, 3, 5)"), Error);
}

TEST_CASE("attention: model outputs and gradients are bit-identical at 1 and 2 threads") {
  const int previous = get_num_threads();
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    manual_seed(21);
    nn::TransformerConfig c;
    c.seq_len = 37; c.dim = 16; c.heads = 4; c.ff_hidden = 24; c.layers = 2; c.classes = 3; c.vocab = 7;
    c.head = nn::TransformerHead::Cls; c.position_table = true; c.dropout = 0.1; c.embed_dropout = 0.1;
    nn::TransformerModel model(c);
    Tensor logits = model(randint(0, 7, {4, 37}));
    cross_entropy(logits, randint(0, 3, {4})).backward();
    std::vector<float> all = logits.to_vector<float>(), grads = flat_grads(model);
    all.insert(all.end(), grads.begin(), grads.end());
    runs.push_back(all);
  }
  set_num_threads(previous);
  CHECK(runs[0] == runs[1]);
}

TEST_CASE("attention: a tiny Transformer learns to copy the token at position 2 (CLS head)") {
  // The CLS position must attend to position 2 to answer, so this exercises the attention path.
  auto start = std::chrono::steady_clock::now();
  manual_seed(0);
  nn::TransformerConfig c;
  c.seq_len = 8; c.dim = 16; c.heads = 2; c.ff_hidden = 32; c.layers = 1; c.classes = 4; c.vocab = 4;
  c.head = nn::TransformerHead::Cls;
  c.position_table = true;  // without positions the task is not solvable
  nn::TransformerModel model(c);
  optim::Adam opt(model.parameters(), 3e-3);
  auto batch_loss = [&](int64_t batch) {
    Tensor tokens = randint(0, 4, {batch, 8});
    std::vector<int64_t> ids = tokens.to_vector<int64_t>(), labels(batch);
    for (int64_t b = 0; b < batch; ++b) labels[b] = ids[b * 8 + 2];
    return cross_entropy(model(tokens), from_vector(labels, {batch}));
  };
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    Tensor loss = batch_loss(32);
    if (step < 10) first += loss.item() / 10;
    if (step >= 290) last += loss.item() / 10;
    loss.backward();
    opt.step();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("copy task: loss ", first, " -> ", last, " in ", seconds, " s");
  CHECK(first > 1.0);   // about ln 4 = 1.39 at the start
  CHECK(last < 0.2);
  // The time is reported above, not asserted: a loaded or sanitized build may take longer.
}
