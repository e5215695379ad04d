// Helpers shared by the trainer tests (test_trainer.cpp, test_trainer_diverge.cpp): a tiny
// adding-problem model, a quiet loop config, and a guard that puts the default generator back.
#pragma once
#include <memory>

#include "apps/common/trainer.h"
#include "core/random.h"
#include "layers/paramixer_model.h"

namespace pmx_test {

using namespace pmx;

struct GeneratorGuard {
  GeneratorState saved = default_generator().state();
  ~GeneratorGuard() { default_generator().set_state(saved); }
};

// A tiny adding-problem Paramixer with dropout, so the generator state matters on resume too.
inline std::unique_ptr<nn::ParamixerModel> tiny_model(uint64_t seed, int64_t n = 16, int64_t dim = 8, double dropout = 0.1) {
  manual_seed(seed);
  nn::ParamixerConfig c;
  c.seq_len = n;
  c.input_features = 2;
  c.dim = c.hidden = dim;
  c.p1 = dropout;
  return std::make_unique<nn::ParamixerModel>(c);
}

inline apps::TrainerConfig quiet_config(int64_t steps) {
  apps::TrainerConfig tc;
  tc.steps = steps;
  tc.batch = 8;
  tc.eval_every = 5;
  tc.eval_size = 40;
  tc.test_size = 0;
  tc.progress = false;
  tc.install_sigint = false;
  return tc;
}

}  // namespace pmx_test
