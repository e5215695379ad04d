#include <doctest/doctest.h>

#include <cstring>

#include "autograd/checkpoint.h"
#include "autograd/gradcheck.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_linalg.h"
#include "autograd/ops_nn.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "core/random.h"
#include "layers/paramixer_model.h"

using namespace pmx;

static bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().data<float>(), b.contiguous().data<float>(), size_t(a.numel()) * 4) == 0;
}

// A small real-input Paramixer config (N = 37, not a power of two).
static nn::ParamixerConfig small_config(kernels::Protocol protocol = kernels::Protocol::Chord) {
  nn::ParamixerConfig c;
  c.seq_len = 37;
  c.input_features = 2;
  c.dim = 8;
  c.hidden = 6;
  c.layers = 2;
  c.protocol = protocol;
  return c;
}

// Same outputs on one input, and the same gradient for every parameter, bit for bit.
static void check_same_bits(nn::ParamixerModel& a, nn::ParamixerModel& b) {
  Tensor x = randn({3, 37, 2});
  Tensor y1 = a(x), y2 = b(x);
  CHECK(same_bits(y1, y2));
  sum(y1 * y1).backward();
  sum(y2 * y2).backward();
  auto p1 = a.named_parameters(), p2 = b.named_parameters();
  REQUIRE(p1.size() == p2.size());
  for (size_t i = 0; i < p1.size(); ++i) CHECK_MESSAGE(same_bits(p1[i].second.grad(), p2[i].second.grad()), p1[i].first);
}

TEST_CASE("recompute: checkpoint gives the gradients of the plain function, captured parameters included") {
  Tensor w = randn({4, 3}, DType::Float64).set_requires_grad(true);
  Tensor x = randn({5, 3}, DType::Float64).set_requires_grad(true);
  auto inner = [w](const std::vector<Tensor>& in) { return gelu(linear(in[0], w)); };
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return checkpoint(inner, {in[0]}); }, {x, w});
  CHECK_MESSAGE(r.ok, r.message);
  // An input that needs no gradient: the parameter still gets one (the node is recorded anyway).
  Tensor x2 = randn({5, 3}, DType::Float64);
  w.set_grad(Tensor());
  sum(checkpoint(inner, {x2})).backward();
  Tensor g1 = w.grad();
  w.set_grad(Tensor());
  sum(inner({x2})).backward();
  CHECK(g1.defined());
  CHECK(g1.to_vector<double>() == w.grad().to_vector<double>());
}

TEST_CASE("recompute: an input the checkpointed function does not use gets a zero gradient") {
  // The recomputed graph gave such an input no gradient, and checkpoint passed that on as an
  // undefined tensor: when the input came from another op, the engine then ran that op's
  // backward on an undefined gradient and threw "use of an undefined (default-constructed) tensor".
  Tensor x = randn({3}, DType::Float64).set_requires_grad(true);
  Tensor p = randn({3}, DType::Float64).set_requires_grad(true);
  Tensor y = exp(x);
  auto fn = [p](const std::vector<Tensor>& in) { return p * p; };
  REQUIRE_NOTHROW(sum(checkpoint(fn, {y})).backward());
  CHECK(p.grad().to_vector<double>() == (p * 2.0).to_vector<double>());
  CHECK(x.grad().to_vector<double>() == std::vector<double>(3, 0.0));
}

TEST_CASE("recompute: a function that returns its input or a captured tensor as it is leaves that tensor alone") {
  // record() attached the checkpoint node to fn's output tensor itself: when that was an input
  // (identity, contiguous() of a dense tensor) or a captured parameter, the leaf got a grad_fn
  // (and a reference cycle), and the next backward through it threw "graph ... already freed".
  Tensor x = randn({3, 2}).set_requires_grad(true);
  Tensor p = randn({3, 2}).set_requires_grad(true);
  for (int step = 0; step < 2; ++step) {
    Tensor y = checkpoint([](const std::vector<Tensor>& in) { return contiguous(in[0]); }, {x});
    Tensor z = checkpoint([p](const std::vector<Tensor>&) { return p; }, {x});
    CHECK(x.is_leaf());
    CHECK(p.is_leaf());
    CHECK_FALSE(y.same(x));
    REQUIRE_NOTHROW(sum(y * y + z).backward());
    CHECK(same_bits(x.grad(), x * 2.0));
    CHECK(p.grad().to_vector<float>() == std::vector<float>(6, 1.0f));
    x.set_grad(Tensor());
    p.set_grad(Tensor());
    REQUIRE_NOTHROW(sum(x * p).backward());  // both still usable as plain leaves
    CHECK(same_bits(x.grad(), p));
    x.set_grad(Tensor());
    p.set_grad(Tensor());
  }
}

TEST_CASE("recompute: dropout inside a checkpoint replays the same mask") {
  Tensor x = randn({64, 8}).set_requires_grad(true);
  auto fn = [](const std::vector<Tensor>& in) { return dropout(in[0], 0.5, true) * 3.0; };
  manual_seed(5);
  Tensor y1 = fn({x});
  Tensor between1 = rand({3});
  sum(y1).backward();
  Tensor g1 = x.grad(), after1 = rand({4});
  x.set_grad(Tensor());
  manual_seed(5);
  Tensor y2 = checkpoint(fn, {x});
  Tensor between2 = rand({3});  // draws between forward and backward must not change the replay
  sum(y2).backward();
  Tensor after2 = rand({4});
  CHECK(same_bits(y1, y2));
  CHECK(same_bits(g1, x.grad()));
  // The replay leaves the generator where backward found it: the draws after backward are the
  // ones a run without the checkpoint makes (not a repeat of the draws made before backward).
  CHECK(same_bits(between1, between2));
  CHECK(same_bits(after1, after2));
}

TEST_CASE("recompute: a Paramixer model with recomputed f-MLPs matches the stored-activation one") {
  for (auto protocol : {kernels::Protocol::Chord, kernels::Protocol::Cdil}) {
    nn::ParamixerConfig c = small_config(protocol);
    manual_seed(1);
    nn::ParamixerModel plain(c);
    plain.set_fused_f(false);
    c.recompute = true;
    manual_seed(1);
    nn::ParamixerModel recomputed(c);
    recomputed.set_fused_f(false);  // the path that would keep the hidden layers
    check_same_bits(plain, recomputed);
  }
}

TEST_CASE("recompute: on the default row-chunked path the option changes nothing") {
  // That path keeps no hidden layer; checkpointing plain MLPs there would only be slower. (The
  // plain MLPs round differently from the chunked op, so the bits tell the paths apart.)
  nn::ParamixerConfig c = small_config();
  manual_seed(1);
  nn::ParamixerModel chunked(c);
  c.recompute = true;
  manual_seed(1);
  nn::ParamixerModel with_option(c);
  REQUIRE(with_option.blocks[0]->recompute_f);
  REQUIRE(with_option.blocks[0]->chunked_f);
  check_same_bits(chunked, with_option);
}
