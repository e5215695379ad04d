// Two outputs of one run naming the same file are refused before anything runs: one would
// silently replace the other (a --plot equal to --checkpoint left a PNG where the checkpoint had
// been; a --log equal to --resume truncated the checkpoint being resumed).
#include <doctest/doctest.h>

#include <filesystem>

#include "apps/common/report.h"
#include "apps/common/trainer.h"
#include "apps/datasets/synthetic.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "optim/adam.h"
#include "real_apps_util.h"
#include "test_util.h"
#include "trainer_util.h"

namespace fs = std::filesystem;
using namespace pmx;
using pmx_test::TempDir;

TEST_CASE("output_paths: check_distinct_outputs refuses one file named twice, however it is spelled") {
  TempDir tmp("distinct");
  apps::check_distinct_outputs({{"--log", tmp / "a.csv"}, {"--plot", tmp / "a.png"}, {"--summary", ""},
                                {"--checkpoint", ""}});  // empty: off, never a clash
  const std::string a = tmp / "a.out";
  const std::string spellings[] = {a, tmp / "./a.out", tmp / "sub/../a.out", tmp / "link.out"};
  fs::create_directories(tmp.dir / "sub");
  pmx_test::write_text(a, "an earlier run's output");
  fs::create_symlink(a, tmp.dir / "link.out");
  for (const std::string& other : spellings) {
    CAPTURE(other);
    CHECK_THROWS_WITH_AS(apps::check_distinct_outputs({{"--checkpoint", a}, {"--log", tmp / "b"}, {"--plot", other}}),
                         doctest::Contains("--checkpoint and --plot name the same file"), pmx::Error);
  }
}

TEST_CASE("output_paths: the trainer refuses outputs that are one file, and an output over the checkpoint it resumes") {
  pmx_test::GeneratorGuard guard;
  TempDir tmp("distinct_train");
  apps::AddingTask task(16, 3);
  const std::string ckpt = tmp / "c.ckpt";
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    auto model = pmx_test::tiny_model(3);
    optim::Adam opt(model->parameters(), 1e-3);
    apps::TrainerConfig tc = pmx_test::quiet_config(3);
    tc.checkpoint = ckpt;
    if (which == 0) tc.plot = ckpt;
    if (which == 1) tc.log = ckpt;
    if (which == 2) tc.best_weights = tmp / "./c.ckpt";
    int64_t steps_run = 0;
    tc.on_step = [&](int64_t, double) { ++steps_run; };
    CHECK_THROWS_WITH_AS(apps::train(*model, task, opt, tc), doctest::Contains("name the same file"), pmx::Error);
    CHECK(steps_run == 0);
    CHECK(fs::is_empty(tmp.dir));
  }
  // A good checkpoint, then a resume whose log, plot or best weights would be written over it.
  {
    auto model = pmx_test::tiny_model(3);
    optim::Adam opt(model->parameters(), 1e-3);
    apps::TrainerConfig tc = pmx_test::quiet_config(3);
    tc.checkpoint = ckpt;
    apps::train(*model, task, opt, tc);
  }
  const std::string saved = pmx_test::read_text(ckpt);
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    auto model = pmx_test::tiny_model(3);
    optim::Adam opt(model->parameters(), 1e-3);
    apps::TrainerConfig tc = pmx_test::quiet_config(6);
    tc.resume = ckpt;
    tc.checkpoint = tmp / "next.ckpt";
    if (which == 0) tc.log = ckpt;
    if (which == 1) tc.plot = ckpt;
    if (which == 2) tc.best_weights = ckpt;
    CHECK_THROWS_WITH_AS(apps::train(*model, task, opt, tc), doctest::Contains("name the same file"), pmx::Error);
    CHECK(pmx_test::read_text(ckpt) == saved);
    CHECK(!fs::exists(tmp / "next.ckpt"));
  }
  // Resuming from the checkpoint the run goes on writing is the usual case and stays allowed.
  auto model = pmx_test::tiny_model(3);
  optim::Adam opt(model->parameters(), 1e-3);
  apps::TrainerConfig tc = pmx_test::quiet_config(6);
  tc.resume = tc.checkpoint = ckpt;
  CHECK(apps::train(*model, task, opt, tc).steps == 6);
}

TEST_CASE("output_paths: the apps refuse two output flags naming one file before they load or train") {
  TempDir tmp("distinct_apps");
  const std::string x = tmp / "x";
  // The real-task apps' flags (check_run_output_paths, called before their data is made).
  pmx_test::StateGuard state;
  apps::ModelDefaults d;
  CHECK_THROWS_WITH_AS(apps::check_run_output_paths(pmx_test::parsed(d, {"--log", x, "--summary", x}), "app", ""),
                       doctest::Contains("--log and --summary name the same file"), pmx::Error);
  CHECK_THROWS_WITH_AS(apps::check_run_output_paths(pmx_test::parsed(d, {"--resume", x, "--plot", x}), "app", ""),
                       doctest::Contains("--resume and --plot name the same file"), pmx::Error);
  apps::check_run_output_paths(pmx_test::parsed(d, {"--resume", x, "--checkpoint", x}), "app", "");
  const pmx_test::RefusedRun cases[] = {
      {"synthetic", "--n 8 --steps 2 --threads 1 --quiet --log none --mixing none --checkpoint " + x + " --plot " + x,
       "--checkpoint and --plot name the same file"},
      {"synthetic", "--n 8 --steps 2 --threads 1 --quiet --log none --plot none --checkpoint none --mixing " + x +
                        " --summary " + x, "--mixing and --summary name the same file"},
      {"synthetic", "--n 8 --steps 2 --threads 1 --quiet --log none --plot none --mixing none --resume " + x +
                        " --summary " + x, "--resume and --summary name the same file"},
      {"fashion_mlp", "--data-dir /dev/null/none --log " + x + " --summary " + x,
       "--log and --summary name the same file"},
  };
  for (const pmx_test::RefusedRun& c : cases) {
    pmx_test::expect_refused(c);
    CHECK_MESSAGE(fs::is_empty(tmp.dir), c.app << " " << c.flags);
  }
}
