// Paramixer interop with the official PyTorch model: weights written by tests/make_golden_paramixer.py
// under PyTorch's own state_dict names load strictly into ParamixerModel, and the outputs, the loss
// and every parameter's loss gradient match the PyTorch numbers (computed in float64 from the same
// float32 weights).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "autograd/ops_loss.h"
#include "core/safetensors.h"
#include "layers/paramixer_model.h"
#include "optim/checkpoint.h"

using namespace pmx;
using pmx::nn::ParamixerConfig;
using pmx::nn::ParamixerHead;
using pmx::nn::ParamixerModel;
using pmx::nn::Protocol;

namespace {

std::string data_path(const std::string& name) { return std::string(PMX_TEST_DATA_DIR) + "/" + name; }

// The two models of make_golden_paramixer.py, as pmx configs.
ParamixerConfig adding_config() {
  ParamixerConfig c;
  c.seq_len = 13;
  c.input_features = 2;
  c.dim = c.hidden = 8;
  c.layers = 2;
  c.classes = 1;
  c.protocol = Protocol::Chord;
  c.head = ParamixerHead::Flatten;
  return c;
}

ParamixerConfig order_config() {
  ParamixerConfig c;
  c.seq_len = 16;
  c.vocab = 6;
  c.position_table = true;
  c.dim = 8;
  c.hidden = 4;
  c.layers = 1;
  c.classes = 4;
  c.protocol = Protocol::Cdil;
  c.head = ParamixerHead::Flatten;
  return c;
}

// max |a - b| / (1 + |b|) over all elements; b is the float64 reference.
double max_rel_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::vector<double> x = a.to(DType::Float64).to_vector<double>(), y = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]) / (1 + std::abs(y[i])));
  return worst;
}

// Loads the golden weights into a fresh model (strictly), optionally moves it to float64, runs
// the golden input and the loss, and compares output, loss and every parameter gradient.
void check_against_torch(const std::string& name, const ParamixerConfig& config, DType dtype, bool fused,
                         double tol) {
  CAPTURE(name);
  std::string dtype_str = dtype_name(dtype);
  CAPTURE(dtype_str);
  CAPTURE(fused);
  ParamixerModel model(config);
  optim::load_weights(data_path("paramixer_" + name + ".safetensors"), model);
  model.eval();
  model.set_fused_f(fused);
  model.to(dtype);
  std::map<std::string, Tensor> io = load_safetensors(data_path("paramixer_" + name + "_io.safetensors"));
  Tensor input = io.at("input"), target = io.at("target");
  if (input.dtype() != DType::Int64) input = input.to(dtype);

  Tensor out = model(input);
  CHECK(max_rel_error(out, io.at("output")) < tol);
  Tensor loss = config.classes == 1 ? mse_loss(out, target.to(dtype)) : cross_entropy(out, target);
  CHECK(std::abs(loss.item() - io.at("loss").item()) < tol * (1 + std::abs(io.at("loss").item())));
  loss.backward();

  int compared = 0;
  for (const auto& [pname, p] : model.named_parameters()) {
    CAPTURE(pname);
    auto it = io.find("grad." + pname);
    REQUIRE(it != io.end());  // PyTorch has a gradient for every pmx parameter, by the same name
    REQUIRE(p.grad().defined());
    CHECK(max_rel_error(p.grad(), it->second) < tol);
    ++compared;
  }
  int torch_grads = int(std::count_if(io.begin(), io.end(), [](const auto& kv) { return kv.first.rfind("grad.", 0) == 0; }));
  CHECK(compared == torch_grads);
}

}  // namespace

TEST_CASE("interop: the golden state_dicts carry exactly the pmx parameter names") {
  // The point of the names: PyTorch's keys load with no renaming. Compare the sets directly so a
  // mismatch lists the differing key instead of failing inside load_weights.
  for (auto [name, config] : {std::pair<std::string, ParamixerConfig>{"adding", adding_config()},
                              std::pair<std::string, ParamixerConfig>{"order", order_config()}}) {
    CAPTURE(name);
    ParamixerModel model(config);
    std::map<std::string, Tensor> torch_sd = load_safetensors(data_path("paramixer_" + name + ".safetensors"));
    std::map<std::string, Tensor> pmx_sd = model.state_dict();
    for (const auto& [k, t] : torch_sd) {
      CAPTURE(k);
      REQUIRE(pmx_sd.count(k) == 1);
      CHECK(pmx_sd.at(k).shape() == t.shape());
      CHECK(t.dtype() == DType::Float32);
    }
    CHECK(pmx_sd.size() == torch_sd.size());
  }
}

TEST_CASE("interop: adding model (CHORD, N = 13, L = 2) matches PyTorch, float32 and float64") {
  for (bool fused : {true, false}) {
    check_against_torch("adding", adding_config(), DType::Float32, fused, 1e-5);
    check_against_torch("adding", adding_config(), DType::Float64, fused, 1e-11);
  }
}

TEST_CASE("interop: token model (CDIL, position table, N = 16) matches PyTorch, float32 and float64") {
  for (bool fused : {true, false}) {
    check_against_torch("order", order_config(), DType::Float32, fused, 1e-5);
    check_against_torch("order", order_config(), DType::Float64, fused, 1e-11);
  }
}

TEST_CASE("interop: the comparison is sensitive (one perturbed weight or a permuted slot order is caught)") {
  // A golden test that passes for any numbers proves nothing: show that a small weight change and
  // a permuted slot order (a silent checkpoint-parity break) both move the output past tolerance.
  ParamixerModel model(adding_config());
  optim::load_weights(data_path("paramixer_adding.safetensors"), model);
  model.eval();
  model.to(DType::Float64);
  std::map<std::string, Tensor> io = load_safetensors(data_path("paramixer_adding_io.safetensors"));
  Tensor input = io.at("input");
  CHECK(max_rel_error(model(input), io.at("output")) < 1e-11);
  model.blocks[0]->fs[1]->first().weight.data<double>()[5] += 1e-3;
  CHECK(max_rel_error(model(input), io.at("output")) > 1e-9);
  model.blocks[0]->fs[1]->first().weight.data<double>()[5] -= 1e-3;
  for (auto& block : model.blocks) std::reverse(block->offsets[0].begin() + 1, block->offsets[0].end());
  CHECK(max_rel_error(model(input), io.at("output")) > 1e-6);
}

TEST_CASE("interop: strict loading refuses the official code's unused tables, lenient loading ignores them") {
  // The official Paramixer also allocates embedding and apc_embedding for the adding problem
  // (never used in its forward). A file with them does not load strictly into the adding model.
  std::map<std::string, Tensor> sd = load_safetensors(data_path("paramixer_adding.safetensors"));
  sd["apc_embedding.weight"] = zeros({13, 8});
  ParamixerModel model(adding_config());
  try {
    model.load_state_dict(sd, /*strict=*/true);
    FAIL("strict load accepted an unexpected key");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("unexpected key 'apc_embedding.weight'") != std::string::npos);
  }
  model.load_state_dict(sd, /*strict=*/false);
  CHECK(max_rel_error(model.final->weight, sd.at("final.weight").to(DType::Float64)) == 0);
}

TEST_CASE("interop: a file from a differently sized model is refused, naming the key and shapes") {
  ParamixerConfig c = adding_config();
  c.seq_len = 16;  // same M = 4 and K = 5, but the FLATTEN head has 128 inputs instead of 104
  ParamixerModel model(c);
  try {
    optim::load_weights(data_path("paramixer_adding.safetensors"), model);
    FAIL("a mismatched file loaded");
  } catch (const Error& e) {
    std::string what = e.what();
    CHECK(what.find("final.weight") != std::string::npos);
    CHECK(what.find("paramixer_adding.safetensors") != std::string::npos);
  }
}
