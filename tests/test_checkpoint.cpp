// Checkpoints: resuming reproduces training bit for bit, and every bad checkpoint is refused
// before the model, the optimizer or the generator changes.
#include <doctest/doctest.h>

#include "test_util.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "autograd/ops_loss.h"
#include "core/file_io.h"
#include "core/safetensors.h"
#include "layers/activation.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "optim/adam.h"
#include "optim/checkpoint.h"

namespace fs = std::filesystem;
using namespace pmx;

namespace {

using pmx_test::TempDir;

// Keeps the process-wide generator as it was for the tests that run after these.
struct GeneratorGuard {
  GeneratorState saved = default_generator().state();
  ~GeneratorGuard() { default_generator().set_state(saved); }
};

std::shared_ptr<nn::Sequential> make_model(int64_t hidden) {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Linear>(4, hidden));
  net->push_back(std::make_shared<nn::Tanh>());
  net->push_back(std::make_shared<nn::Linear>(hidden, 2));
  return net;
}

// Each step draws its batch from the default generator, so resuming also needs the RNG state.
std::vector<double> train(nn::Module& model, optim::Optimizer& opt, int steps) {
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    Tensor x = randn({8, 4}), y = randn({8, 2});
    opt.zero_grad();
    Tensor loss = mse_loss(model(x), y);
    loss.backward();
    opt.step();
    losses.push_back(loss.item());
  }
  return losses;
}

// Everything a failed load must leave alone, as plain values.
struct Snapshot {
  std::vector<std::vector<double>> model, optim;
  int64_t step_count = 0;
  uint64_t seed = 0, counter = 0;
  bool operator==(const Snapshot& o) const {
    return model == o.model && optim == o.optim && step_count == o.step_count && seed == o.seed && counter == o.counter;
  }
};
Snapshot snapshot(const nn::Module& model, const optim::Optimizer& opt) {
  Snapshot s;
  for (const auto& [name, t] : model.state_dict()) s.model.push_back(t.to_vector<double>());
  for (const auto& [name, t] : opt.state_dict()) s.optim.push_back(t.to_vector<double>());
  s.step_count = opt.step_count();
  s.seed = default_generator().state().seed;
  s.counter = default_generator().state().counter;
  return s;
}

std::string load_error(const std::string& path, nn::Module& model, optim::Optimizer& opt) {
  try {
    optim::load_checkpoint(path, model, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("checkpoint: resuming reproduces the remaining losses bit for bit") {
  GeneratorGuard guard;
  TempDir tmp("resume");
  manual_seed(123);
  auto model = make_model(6);
  optim::Adam opt(model->parameters(), 1e-2);
  train(*model, opt, 4);
  const std::string config = "{\"hidden\": 6, \"lr\": 0.01}";
  optim::save_checkpoint(tmp / "ckpt.safetensors", *model, opt, {4, default_generator().state(), {{"config", config}}});
  const GeneratorState at_save = default_generator().state();
  std::vector<double> expected = train(*model, opt, 3);

  manual_seed(999);  // a different init and a different generator position
  auto resumed = make_model(6);
  optim::Adam resumed_opt(resumed->parameters(), 1e-2);
  optim::CheckpointExtra extra = optim::load_checkpoint(tmp / "ckpt.safetensors", *resumed, resumed_opt);
  CHECK(extra.step == 4);
  CHECK(extra.metadata == std::map<std::string, std::string>{{"config", config}});
  CHECK(extra.rng.seed == at_save.seed);
  CHECK(extra.rng.counter == at_save.counter);
  CHECK(default_generator().state().counter == at_save.counter);
  CHECK(resumed_opt.step_count() == 4);

  std::vector<double> got = train(*resumed, resumed_opt, 3);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(std::memcmp(&got[i], &expected[i], sizeof(double)) == 0);
  auto a = model->parameters(), b = resumed->parameters();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].to_vector<float>() == b[i].to_vector<float>());
}

TEST_CASE("checkpoint: generator words and steps beyond 2^53 round trip exactly") {
  GeneratorGuard guard;
  TempDir tmp("bits");
  auto model = make_model(3);
  optim::Adam opt(model->parameters());
  optim::CheckpointExtra extra{(int64_t(1) << 53) + 1, {~uint64_t(0), (uint64_t(1) << 63) + 5}, {}};
  optim::save_checkpoint(tmp / "c.safetensors", *model, opt, extra);
  manual_seed(1);
  optim::CheckpointExtra back = optim::load_checkpoint(tmp / "c.safetensors", *model, opt);
  CHECK(back.step == extra.step);
  CHECK(default_generator().state().seed == ~uint64_t(0));
  CHECK(default_generator().state().counter == (uint64_t(1) << 63) + 5);
  CHECK(back.metadata.empty());
  // The file is a plain safetensors file with the documented names.
  std::map<std::string, std::string> meta;
  auto tensors = load_safetensors(tmp / "c.safetensors", &meta);
  CHECK(meta.at("format") == "pmx-checkpoint");
  CHECK(meta.at("version") == "1");
  CHECK(tensors.count("model.0.weight"));
  CHECK(tensors.count("optim.step"));
  CHECK(tensors.at("rng.seed").to_vector<int64_t>() == std::vector<int64_t>{-1});

  CHECK_THROWS_WITH_AS(optim::save_checkpoint(tmp / "c.safetensors", *model, opt, {0, {}, {{"version", "7"}}}),
                       doctest::Contains("reserved"), Error);
}

TEST_CASE("checkpoint: a mismatched model or optimizer is refused and nothing changes") {
  GeneratorGuard guard;
  TempDir tmp("mismatch");
  manual_seed(5);
  auto source = make_model(6);
  optim::Adam source_opt(source->parameters(), 1e-2);
  train(*source, source_opt, 2);
  const std::string path = tmp / "ckpt.safetensors";
  optim::save_checkpoint(path, *source, source_opt, {2, default_generator().state(), {}});

  // A different hidden size: the model check fails before the optimizer is touched.
  auto wider = make_model(7);
  optim::Adam wider_opt(wider->parameters(), 1e-2);
  train(*wider, wider_opt, 1);
  Snapshot before = snapshot(*wider, wider_opt);
  std::string message = load_error(path, *wider, wider_opt);
  CHECK(message.find(path) != std::string::npos);
  CHECK(message.find("shape mismatch for 'model.0.bias': checkpoint has (6,), model has (7,)") != std::string::npos);
  CHECK(snapshot(*wider, wider_opt) == before);

  // The right model but an optimizer over fewer parameters: the optimizer refuses, and the
  // model (which would have loaded) is left as it was too.
  auto same = make_model(6);
  optim::Adam partial_opt({same->parameters()[0], same->parameters()[1]}, 1e-2);
  train(*same, partial_opt, 1);
  before = snapshot(*same, partial_opt);
  message = load_error(path, *same, partial_opt);
  CHECK(message.find("the optimizer has 2") != std::string::npos);
  CHECK(snapshot(*same, partial_opt) == before);
}

TEST_CASE("checkpoint: wrong format, newer version, missing keys and truncation are refused") {
  GeneratorGuard guard;
  TempDir tmp("bad");
  manual_seed(11);
  auto model = make_model(4);
  optim::Adam opt(model->parameters(), 1e-2);
  train(*model, opt, 1);
  const std::string good = tmp / "good.safetensors";
  optim::save_checkpoint(good, *model, opt, {1, default_generator().state(), {{"note", "x"}}});
  std::map<std::string, std::string> meta;
  const auto tensors = load_safetensors(good, &meta);

  manual_seed(12);
  auto target = make_model(4);
  optim::Adam target_opt(target->parameters(), 1e-2);
  train(*target, target_opt, 1);
  const Snapshot before = snapshot(*target, target_opt);
  const std::string bad = tmp / "bad.safetensors";
  auto expect_refused = [&](const std::string& problem) {
    std::string message = load_error(bad, *target, target_opt);
    INFO("message: ", message);
    CHECK(message.find(bad) != std::string::npos);
    CHECK(message.find(problem) != std::string::npos);
    CHECK(snapshot(*target, target_opt) == before);
  };
  auto with_meta = [&](const std::string& key, const std::string& value) {
    auto m = meta;
    m[key] = value;
    save_safetensors(bad, tensors, m);
  };
  auto without = [&](const std::string& key) {
    auto t = tensors;
    REQUIRE(t.erase(key) == 1);
    save_safetensors(bad, t, meta);
  };

  optim::save_weights(bad, *model);
  expect_refused("not a pmx checkpoint (metadata 'format' is missing");
  with_meta("format", "something-else");
  expect_refused("'something-else'");
  with_meta("version", "2");
  expect_refused("checkpoint version 2 is newer");
  with_meta("version", "1.0");
  expect_refused("expected a positive integer");
  without("rng.seed");
  expect_refused("missing key 'rng.seed'");
  without("model.2.bias");
  expect_refused("missing key 'model.2.bias'");
  without("optim.state.1.exp_avg_sq");
  expect_refused("missing key 'state.1.exp_avg_sq'");
  auto extra_key = tensors;
  extra_key["model.9.weight"] = zeros({1});
  save_safetensors(bad, extra_key, meta);
  expect_refused("unexpected key 'model.9.weight'");
  extra_key = tensors;
  extra_key["epoch"] = zeros({1});
  save_safetensors(bad, extra_key, meta);
  expect_refused("unexpected key 'epoch'");
  auto wrong_step = tensors;
  wrong_step["step"] = zeros({2}, DType::Int64);
  save_safetensors(bad, wrong_step, meta);
  expect_refused("key 'step' must be a 0-d int64 tensor");
  const std::string bytes = read_file(good);
  write_file_atomic(bad, bytes.substr(0, bytes.size() - 3));
  expect_refused("truncated");

  // The untouched target still loads the good file.
  optim::CheckpointExtra extra = optim::load_checkpoint(good, *target, target_opt);
  CHECK(extra.metadata.at("note") == "x");
  CHECK(snapshot(*target, target_opt).model == snapshot(*model, opt).model);
}
