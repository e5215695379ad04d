#include "optim/checkpoint.h"

#include <cstring>
#include <set>

#include "core/safetensors.h"

namespace pmx::optim {
namespace {

const char* const kFormat = "pmx-checkpoint";

Tensor int64_scalar(int64_t value) {
  Tensor t = empty({}, DType::Int64);
  t.data<int64_t>()[0] = value;  // not scalar(double): int64 values past 2^53 must survive
  return t;
}

// uint64 generator words are stored bit-cast in I64, the widest integer type safetensors readers share.
int64_t to_bits(uint64_t v) {
  int64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
uint64_t from_bits(int64_t v) {
  uint64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Rethrows an error from a nested loader with the file named in front.
template <class F>
void naming_file(const std::string& where, F&& load) {
  try {
    load();
  } catch (const Error& e) {
    throw Error(where + e.what());
  }
}

}  // namespace

void save_weights(const std::string& path, const nn::Module& module,
                  const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, module.state_dict(), metadata);
}

void load_weights(const std::string& path, nn::Module& module, bool strict) {
  // load_safetensors reads and checks the whole file first, and load_state_dict checks every key
  // before copying, so a bad file never half-loads.
  std::map<std::string, Tensor> tensors = load_safetensors(path);
  naming_file("[load_weights] '" + path + "': ", [&] { module.load_state_dict(tensors, strict); });
}

void save_checkpoint(const std::string& path, const nn::Module& model, const Optimizer& optimizer,
                     const CheckpointExtra& extra) {
  std::map<std::string, std::string> metadata = extra.metadata;
  PMX_CHECK(!metadata.count("format") && !metadata.count("version"), "[save_checkpoint] '", path,
            "': metadata keys 'format' and 'version' are reserved");
  metadata["format"] = kFormat;
  metadata["version"] = std::to_string(kCheckpointVersion);

  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : model.state_dict()) tensors["model." + name] = t;
  for (const auto& [name, t] : optimizer.state_dict()) tensors["optim." + name] = t;
  tensors["step"] = int64_scalar(extra.step);
  tensors["rng.seed"] = int64_scalar(to_bits(extra.rng.seed));
  tensors["rng.counter"] = int64_scalar(to_bits(extra.rng.counter));
  save_safetensors(path, tensors, metadata);
}

CheckpointExtra load_checkpoint(const std::string& path, nn::Module& model, Optimizer& optimizer) {
  const std::string where = "[load_checkpoint] '" + path + "': ";
  std::map<std::string, std::string> metadata;
  std::map<std::string, Tensor> tensors = load_safetensors(path, &metadata);

  auto format = metadata.find("format");
  PMX_CHECK(format != metadata.end() && format->second == kFormat, where, "not a pmx checkpoint (metadata 'format' is ",
            format == metadata.end() ? std::string("missing") : "'" + format->second + "'", ", expected '", kFormat, "')");
  auto version_it = metadata.find("version");
  PMX_CHECK(version_it != metadata.end(), where, "metadata 'version' is missing");
  const std::string& version_text = version_it->second;
  int64_t version = 0;
  bool numeric = !version_text.empty() && version_text.size() < 10;
  for (char c : version_text) numeric = numeric && c >= '0' && c <= '9';
  PMX_CHECK(numeric, where, "metadata 'version' is '", version_text, "', expected a positive integer");
  version = std::stoll(version_text);
  PMX_CHECK(version >= 1, where, "metadata 'version' is ", version, ", expected a positive integer");
  PMX_CHECK(version <= kCheckpointVersion, where, "checkpoint version ", version,
            " is newer than this build of pmx reads (up to ", kCheckpointVersion, ")");

  std::map<std::string, Tensor> model_state, optim_state;
  const std::set<std::string> scalars = {"step", "rng.seed", "rng.counter"};
  for (const auto& [key, t] : tensors) {
    if (starts_with(key, "model.")) model_state[key.substr(6)] = t;
    else if (starts_with(key, "optim.")) optim_state[key.substr(6)] = t;
    else PMX_CHECK(scalars.count(key), where, "unexpected key '", key, "'");
  }
  auto read_scalar = [&](const std::string& key) {
    auto it = tensors.find(key);
    PMX_CHECK(it != tensors.end(), where, "missing key '", key, "'");
    const Tensor& t = it->second;
    PMX_CHECK(t.dim() == 0 && t.dtype() == DType::Int64, where, "key '", key, "' must be a 0-d int64 tensor, got ",
              shape_str(t.shape()), " ", dtype_name(t.dtype()));
    return t.data<int64_t>()[0];
  };
  CheckpointExtra extra;
  extra.step = read_scalar("step");
  extra.rng.seed = from_bits(read_scalar("rng.seed"));
  extra.rng.counter = from_bits(read_scalar("rng.counter"));
  PMX_CHECK(extra.step >= 0, where, "key 'step' holds ", extra.step, ", expected a count >= 0");

  // The model is checked here with the same rules as Module::load_state_dict (strict), so that
  // once the optimizer has accepted its state (it validates before changing anything) the model
  // load cannot fail and leave the two out of step.
  std::map<std::string, Tensor> expected = model.state_dict();
  for (const auto& [name, dst] : expected) {
    auto it = model_state.find(name);
    PMX_CHECK(it != model_state.end(), where, "missing key 'model.", name, "' (model expects shape ",
              shape_str(dst.shape()), ")");
    const Tensor& src = it->second;
    PMX_CHECK(src.shape() == dst.shape(), where, "shape mismatch for 'model.", name, "': checkpoint has ",
              shape_str(src.shape()), ", model has ", shape_str(dst.shape()));
    PMX_CHECK(src.dtype() == dst.dtype(), where, "dtype mismatch for 'model.", name, "': checkpoint has ",
              dtype_name(src.dtype()), ", model has ", dtype_name(dst.dtype()));
    PMX_CHECK(dst.is_contiguous(), where, "model tensor '", name, "' is not contiguous");
  }
  for (const auto& [name, t] : model_state)
    PMX_CHECK(expected.count(name), where, "unexpected key 'model.", name, "' (shape ", shape_str(t.shape()),
              ") not in the model");

  naming_file(where, [&] { optimizer.load_state_dict(optim_state); });
  naming_file(where, [&] { model.load_state_dict(model_state, /*strict=*/true); });
  default_generator().set_state(extra.rng);

  metadata.erase("format");
  metadata.erase("version");
  extra.metadata = std::move(metadata);
  return extra;
}

}  // namespace pmx::optim
