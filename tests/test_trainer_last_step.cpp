// A run resumed at its last step (a Ctrl-C'd run resumed with --steps at the checkpoint's step)
// validates the weights it then tests, as every run's last step does.
#include <doctest/doctest.h>

#include <cmath>

#include "apps/common/trainer.h"
#include "apps/datasets/synthetic.h"
#include "optim/adam.h"
#include "test_util.h"
#include "trainer_util.h"

using namespace pmx;

TEST_CASE("trainer_last_step: resuming at the last step validates those weights instead of reporting -1 or an older step") {
  pmx_test::GeneratorGuard guard;
  pmx_test::TempDir tmp("last_step");
  apps::AddingTask task(16, 4);
  for (int64_t stop_at : {3, 7}) {  // 3: before any evaluation; 7: after the one at step 5
    CAPTURE(stop_at);
    const std::string ckpt = tmp / ("c" + std::to_string(stop_at) + ".ckpt");
    {
      auto model = pmx_test::tiny_model(2);
      optim::Adam opt(model->parameters(), 1e-2);
      apps::TrainerConfig tc = pmx_test::quiet_config(50);
      tc.checkpoint = ckpt;
      tc.on_step = [stop_at](int64_t step, double) {
        if (step == stop_at) apps::request_stop();
      };
      REQUIRE(apps::train(*model, task, opt, tc).steps == stop_at);
    }
    // What a straight run to stop_at reports: its last step is validated.
    auto straight = pmx_test::tiny_model(2);
    optim::Adam straight_opt(straight->parameters(), 1e-2);
    apps::TrainerConfig sc = pmx_test::quiet_config(stop_at);
    sc.test_size = 8;
    const apps::TrainResult s = apps::train(*straight, task, straight_opt, sc);

    auto model = pmx_test::tiny_model(9);
    optim::Adam opt(model->parameters(), 1e-2);
    apps::TrainerConfig tc = pmx_test::quiet_config(stop_at);
    tc.test_size = 8;
    tc.resume = ckpt;
    tc.checkpoint = ckpt;
    const apps::TrainResult r = apps::train(*model, task, opt, tc);
    CHECK(r.start_step == stop_at);
    CHECK(r.tested);
    REQUIRE(!r.history.empty());
    CHECK(r.history.back().step == stop_at);
    CHECK(r.val_metric == s.val_metric);
    CHECK(r.history.back().train_loss == s.history.back().train_loss);
    CHECK(r.test_metric == s.test_metric);
    // The checkpoint keeps that row: resuming it again does not validate a second time.
    apps::TrainResult again = apps::train(*model, task, opt, tc);
    CHECK(again.history.size() == r.history.size());
  }
}
