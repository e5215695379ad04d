// The shared training loop on a diverging run: a NaN or inf loss or gradient norm, or an update
// that overflows the weights, stops the run with an error before the bad values reach the
// parameters, an evaluation or a checkpoint.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "test_util.h"
#include "trainer_util.h"

#include "apps/common/trainer.h"
#include "apps/datasets/synthetic.h"
#include "autograd/ops_elementwise.h"
#include "core/error.h"
#include "optim/adam.h"
#include "optim/checkpoint.h"

namespace fs = std::filesystem;
using namespace pmx;
using pmx_test::GeneratorGuard;
using pmx_test::quiet_config;
using pmx_test::TempDir;
using pmx_test::tiny_model;

namespace {
// The adding task, except that the training batch of step `bad_step` has a target too large for
// float: its squared error overflows to inf, as a diverging run's loss does.
class DivergingTask : public apps::AddingTask {
 public:
  DivergingTask(int64_t bad_step, int64_t batch) : apps::AddingTask(16, 4), bad_first_((bad_step - 1) * batch) {}
  apps::Batch batch(apps::Split split, int64_t first, int64_t count) const override {
    apps::Batch b = apps::AddingTask::batch(split, first, count);
    if (split == apps::Split::Train && first == bad_first_) b.target = b.target + 1e30;
    return b;
  }

 private:
  int64_t bad_first_;
};

bool all_finite(const nn::Module& m) {
  for (const auto& [name, p] : m.named_parameters())
    for (float v : p.to_vector<float>())
      if (!std::isfinite(v)) return false;
  return true;
}
}  // namespace

TEST_CASE("trainer: a diverged step stops the run with an error before it reaches the parameters or the checkpoint") {
  GeneratorGuard guard;
  TempDir tmp("diverge");
  for (double clip : {1.0, 0.0}) {
    CAPTURE(clip);
    apps::TrainerConfig tc = quiet_config(10);
    tc.clip = clip;
    tc.checkpoint = tmp / "c.ckpt";
    tc.checkpoint_every = 1;
    DivergingTask task(4, tc.batch);
    auto model = tiny_model(2);
    optim::Adam opt(model->parameters(), 1e-2);
    std::string message;
    try {
      apps::train(*model, task, opt, tc);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK(message.find("training loss is inf at step 4") != std::string::npos);
    CHECK(message.find("--lr") != std::string::npos);
    CHECK(all_finite(*model));
    auto again = tiny_model(5);
    optim::Adam opt2(again->parameters(), 1e-2);
    CHECK(optim::load_checkpoint(tmp / "c.ckpt", *again, opt2).step == 3);
    CHECK(all_finite(*again));
  }
}

TEST_CASE("trainer: an update that overflows the weights stops the run before they are evaluated or saved") {
  GeneratorGuard guard;
  TempDir tmp("overflow");
  for (int64_t steps : {1, 5}) {
    CAPTURE(steps);
    apps::TrainerConfig tc = quiet_config(steps);
    tc.test_size = 20;
    tc.checkpoint = tmp / "o.ckpt";
    tc.checkpoint_every = 1;
    apps::AddingTask task(16, 4);
    auto model = tiny_model(2);
    // Loss and gradient are finite; Adam's first step moves every weight by ~lr: inf in float.
    optim::Adam opt(model->parameters(), 1e39);
    CHECK_THROWS_WITH_AS(apps::train(*model, task, opt, tc),
                         doctest::Contains("parameters are no longer finite after the update of step 1"), Error);
    CHECK_FALSE(fs::exists(tmp / "o.ckpt"));
  }
}
