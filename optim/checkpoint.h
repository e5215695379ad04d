// Weights files and training checkpoints, both in the safetensors container (core/safetensors.h).
//
// Weights: save_weights writes a module's state_dict() under its PyTorch-style names
// ("0.weight", "encoder.fc.bias"), so `model.load_state_dict(safetensors.torch.load_file(p))`
// works in PyTorch and a PyTorch file with the same names loads here.
//
// Checkpoint: one file with everything needed to resume training bit for bit:
//   "model.<name>"   the model's state_dict
//   "optim.<key>"    the optimizer's state_dict ("optim.step", "optim.state.3.exp_avg", ...)
//   "step"           the training step (0-d I64)
//   "rng.seed", "rng.counter"   the default generator's state (0-d I64 holding the uint64 bits)
//   __metadata__     {"format": "pmx-checkpoint", "version": "1"} plus the caller's strings
//                    (e.g. the app's config as JSON, so --resume can refuse a different config)
// Writes are atomic: a crash mid-save leaves the previous checkpoint intact.
//
// Loading reads and checks the whole file, then every key, shape and dtype of BOTH the model and
// the optimizer, before changing either; on any error (wrong format, newer version, missing or
// unexpected key, shape mismatch, truncated file) it throws a pmx::Error naming the problem and
// the model, the optimizer and the generator are exactly as they were.
//
//   pmx::optim::save_checkpoint("run/ckpt.safetensors", model, opt, {step, pmx::default_generator().state(), {{"config", cfg}}});
//   pmx::optim::CheckpointExtra extra = pmx::optim::load_checkpoint("run/ckpt.safetensors", model, opt);
//   pmx::optim::save_weights("model.safetensors", model);   pmx::optim::load_weights("model.safetensors", model);
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "core/random.h"
#include "layers/module.h"
#include "optim/optimizer.h"

namespace pmx::optim {

// Module weights only, with optional free-form strings in the file's __metadata__ (load_weights
// ignores them; load_safetensors returns them). strict=false tolerates missing and unexpected
// keys (shapes must still match).
void save_weights(const std::string& path, const nn::Module& module,
                  const std::map<std::string, std::string>& metadata = {});
void load_weights(const std::string& path, nn::Module& module, bool strict = true);

struct CheckpointExtra {
  int64_t step = 0;
  GeneratorState rng;
  // Free-form strings. "format" and "version" are reserved for the checkpoint itself.
  std::map<std::string, std::string> metadata;
};

// The checkpoint format version this build writes and the newest it reads.
constexpr int kCheckpointVersion = 1;

void save_checkpoint(const std::string& path, const nn::Module& model, const Optimizer& optimizer,
                     const CheckpointExtra& extra);
// Restores model, optimizer and default_generator() state; returns the step and the caller's
// metadata (without "format" and "version").
CheckpointExtra load_checkpoint(const std::string& path, nn::Module& model, Optimizer& optimizer);

}  // namespace pmx::optim
