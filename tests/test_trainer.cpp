// The shared training loop: resume is exact (bit for bit), Ctrl-C saves and stops, bad or
// mismatching checkpoints are refused, output paths are checked first, the target stops
// training, and a short run learns. Diverged runs: test_trainer_diverge.cpp; the synthetic app
// run as a program: test_synthetic_app.cpp.
#include <doctest/doctest.h>

#include "test_util.h"
#include "trainer_util.h"

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/common/plot.h"
#include "apps/common/report.h"
#include "apps/common/trainer.h"
#include "apps/datasets/synthetic.h"
#include "autograd/ops_elementwise.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "core/threads.h"
#include "layers/paramixer_model.h"
#include "optim/adam.h"
#include "optim/checkpoint.h"

namespace fs = std::filesystem;
using namespace pmx;
using pmx_test::GeneratorGuard;
using pmx_test::quiet_config;
using pmx_test::TempDir;
using pmx_test::tiny_model;


TEST_CASE("trainer: k steps + stop + resume + k steps gives the same losses, bit for bit, as 2k steps straight") {
  GeneratorGuard guard;
  TempDir tmp("resume");
  apps::AddingTask task(16, 3);
  const int64_t k = 7;  // between two evaluations: the resumed interval mean must still match

  std::vector<double> straight;
  auto m1 = tiny_model(1);
  optim::Adam o1(m1->parameters(), 1e-2);
  apps::TrainerConfig tc = quiet_config(2 * k);
  tc.on_step = [&](int64_t, double loss) { straight.push_back(loss); };
  apps::TrainResult full = apps::train(*m1, task, o1, tc);
  REQUIRE(straight.size() == size_t(2 * k));

  std::vector<double> pieces;
  auto m2 = tiny_model(1);
  optim::Adam o2(m2->parameters(), 1e-2);
  tc = quiet_config(2 * k);
  tc.checkpoint = tmp / "run.ckpt";
  tc.metadata["config"] = "tiny";
  tc.on_step = [&](int64_t step, double loss) {
    pieces.push_back(loss);
    if (step == k) apps::request_stop();  // as Ctrl-C would, between two evaluations
  };
  CHECK(apps::train(*m2, task, o2, tc).interrupted);
  REQUIRE(fs::exists(tmp / "run.ckpt"));

  auto m3 = tiny_model(99);  // different init and generator: the checkpoint must restore both
  optim::Adam o3(m3->parameters(), 1e-2);
  tc.checkpoint = "";
  tc.resume = tmp / "run.ckpt";
  apps::TrainResult resumed = apps::train(*m3, task, o3, tc);
  CHECK(resumed.start_step == k);
  REQUIRE(pieces.size() == size_t(2 * k));
  for (size_t i = 0; i < pieces.size(); ++i) CHECK(pieces[i] == straight[i]);  // exact, not approximate
  // The curve history, interval means included, continues across the resume.
  REQUIRE(resumed.history.size() == full.history.size());
  for (size_t i = 0; i < full.history.size(); ++i) {
    CHECK(resumed.history[i].step == full.history[i].step);
    CHECK(resumed.history[i].train_loss == full.history[i].train_loss);
    CHECK(resumed.history[i].val_metric == full.history[i].val_metric);
  }
}

TEST_CASE("trainer: the losses are the same at 1 and 2 threads") {
  GeneratorGuard guard;
  int saved_threads = get_num_threads();
  apps::AddingTask task(40, 8);
  std::vector<double> losses[2];
  for (int t = 1; t <= 2; ++t) {
    set_num_threads(t);
    auto model = tiny_model(6, 40, 16);
    optim::Adam opt(model->parameters(), 1e-2);
    apps::TrainerConfig tc = quiet_config(6);
    tc.batch = 64;  // big enough that the kernels split their loops
    tc.on_step = [&](int64_t, double loss) { losses[t - 1].push_back(loss); };
    apps::train(*model, task, opt, tc);
  }
  set_num_threads(saved_threads);
  CHECK(losses[0] == losses[1]);
}

TEST_CASE("trainer: Ctrl-C finishes the step, saves a checkpoint, stops, and the checkpoint resumes") {
  GeneratorGuard guard;
  TempDir tmp("sigint");
  apps::AddingTask task(16, 4);
  auto model = tiny_model(2);
  optim::Adam opt(model->parameters(), 1e-2);
  apps::TrainerConfig tc = quiet_config(50);
  tc.install_sigint = true;
  tc.checkpoint = tmp / "c.ckpt";
  tc.on_step = [](int64_t step, double) {
    if (step == 3) std::raise(SIGINT);
  };
  apps::TrainResult r = apps::train(*model, task, opt, tc);
  CHECK(r.interrupted);
  CHECK(r.steps == 3);
  CHECK(r.test_metric == -1);
  REQUIRE(fs::exists(tmp / "c.ckpt"));
  auto again = tiny_model(5);
  optim::Adam opt2(again->parameters(), 1e-2);
  CHECK(optim::load_checkpoint(tmp / "c.ckpt", *again, opt2).step == 3);

  // request_stop() is the same path without a signal.
  tc.install_sigint = false;
  tc.resume = tmp / "c.ckpt";
  tc.on_step = [](int64_t step, double) {
    if (step == 6) apps::request_stop();
  };
  apps::TrainResult r2 = apps::train(*again, task, opt2, tc);
  CHECK(r2.interrupted);
  CHECK(r2.start_step == 3);
  CHECK(r2.steps == 6);
  CHECK(optim::load_checkpoint(tmp / "c.ckpt", *again, opt2).step == 6);
}

TEST_CASE("trainer: a used-up wall-clock budget ends the run like its last step, and it resumes") {
  GeneratorGuard guard;
  TempDir tmp("budget");
  apps::AddingTask task(16, 4);
  auto model = tiny_model(2);
  optim::Adam opt(model->parameters(), 1e-2);
  apps::TrainerConfig tc = quiet_config(50);
  tc.test_size = 20;
  tc.checkpoint = tmp / "b.ckpt";
  tc.max_seconds = 1e-9;  // used up by the first step
  apps::TrainResult r = apps::train(*model, task, opt, tc);
  CHECK(r.stopped_by_budget);
  CHECK_FALSE(r.interrupted);
  CHECK(r.steps == 1);
  REQUIRE(r.history.size() == 1);  // validated at the step it stopped
  CHECK(r.history[0].step == 1);
  CHECK(r.test_metric >= 0);  // and tested
  CHECK(optim::load_checkpoint(tmp / "b.ckpt", *model, opt).step == 1);

  tc.resume = tmp / "b.ckpt";
  tc.max_seconds = 0;  // no budget: runs to --steps
  apps::TrainResult r2 = apps::train(*model, task, opt, tc);
  CHECK_FALSE(r2.stopped_by_budget);
  CHECK(r2.start_step == 1);
  CHECK(r2.steps == 50);
}

TEST_CASE("trainer: missing, corrupt and mismatching checkpoints are refused before anything changes") {
  GeneratorGuard guard;
  TempDir tmp("refuse");
  apps::AddingTask task(16, 0);
  auto model = tiny_model(3);
  optim::Adam opt(model->parameters(), 1e-2);
  apps::TrainerConfig tc = quiet_config(2);
  tc.checkpoint = tmp / "good.ckpt";
  tc.metadata["config"] = "{\"n\":16}";
  apps::train(*model, task, opt, tc);

  auto fresh = tiny_model(4);
  optim::Adam fresh_opt(fresh->parameters(), 1e-2);
  std::vector<float> before = fresh->parameters()[0].to_vector<float>();
  tc.checkpoint = "";
  tc.steps = 4;
  tc.resume = tmp / "missing.ckpt";
  CHECK_THROWS_AS(apps::train(*fresh, task, fresh_opt, tc), pmx::Error);
  std::ofstream(tmp / "corrupt.ckpt") << "this is not a checkpoint";
  tc.resume = tmp / "corrupt.ckpt";
  CHECK_THROWS_AS(apps::train(*fresh, task, fresh_opt, tc), pmx::Error);
  tc.resume = tmp / "good.ckpt";
  tc.metadata["config"] = "{\"n\":32}";
  try {
    apps::train(*fresh, task, fresh_opt, tc);
    FAIL("expected a config mismatch");
  } catch (const pmx::Error& e) {
    CHECK(std::string(e.what()).find("different config") != std::string::npos);
  }
  // Entries the trainer wrote, edited by hand: refused naming the entry, before anything loads.
  // ("1e300" as loss_count was converted to int64 out of range; "12abc" was read as 12.)
  tc.metadata["config"] = "{\"n\":16}";
  std::map<std::string, std::string> meta;
  const std::map<std::string, Tensor> tensors = load_safetensors(tmp / "good.ckpt", &meta);
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"loss_count", "1e300"}, {"loss_count", "-3"}, {"loss_count", "2.5"}, {"seconds", "12abc"},
           {"loss_sum", "nan"}, {"best_step", "1e300"}, {"best_val_metric", ""}}) {
    CAPTURE(key);
    CAPTURE(value);
    std::map<std::string, std::string> edited = meta;
    edited[key] = value;
    save_safetensors(tmp / "edited.ckpt", tensors, edited);
    tc.resume = tmp / "edited.ckpt";
    tc.best_weights = key == "best_step" ? std::string(tmp / "best.safetensors") : "";
    const std::string named = "'" + key + "' entry";
    CHECK_THROWS_WITH_AS(apps::train(*fresh, task, fresh_opt, tc), doctest::Contains(named.c_str()), pmx::Error);
  }
  CHECK(fresh->parameters()[0].to_vector<float>() == before);
  CHECK(fresh_opt.step_count() == 0);
}

TEST_CASE("trainer: bad loop settings throw") {
  apps::AddingTask task(16, 0);
  auto model = tiny_model(3);
  optim::Adam opt(model->parameters(), 1e-2);
  for (int which = 0; which < 4; ++which) {
    apps::TrainerConfig tc = quiet_config(5);
    if (which == 0) tc.steps = 0;
    if (which == 1) tc.batch = 0;
    if (which == 2) tc.eval_size = 0;
    if (which == 3) tc.test_size = -1;
    CHECK_THROWS_AS(apps::train(*model, task, opt, tc), pmx::Error);
  }
}

TEST_CASE("trainer: a learning-rate schedule sets the rate before every step") {
  GeneratorGuard guard;
  apps::AddingTask task(16, 0);
  auto model = tiny_model(3);
  optim::Adam opt(model->parameters(), 1.0);
  optim::WarmupCosine cosine(1e-2, 2, 10, 0.1);
  apps::TrainerConfig tc = quiet_config(10);
  tc.schedule = &cosine;
  std::vector<double> rates;
  tc.on_step = [&](int64_t, double) { rates.push_back(opt.lr()); };
  apps::train(*model, task, opt, tc);
  REQUIRE(rates.size() == 10);
  for (int64_t s = 0; s < 10; ++s) CHECK(rates[size_t(s)] == cosine.lr_at(s));
}

TEST_CASE("trainer: a reached target stops training at that evaluation") {
  GeneratorGuard guard;
  apps::AddingTask task(16, 0);
  auto model = tiny_model(3);
  optim::Adam opt(model->parameters(), 1e-2);
  apps::TrainerConfig tc = quiet_config(100);
  tc.target = 100;  // any error <= 100 %: reached at the first evaluation
  apps::TrainResult r = apps::train(*model, task, opt, tc);
  CHECK(r.reached_target);
  CHECK(r.steps == tc.eval_every);
}

TEST_CASE("trainer: history survives its checkpoint text form, malformed text throws") {
  std::vector<apps::HistoryRow> rows{{5, 0.125, 88.5, 1.5}, {10, 1.0 / 3.0, 0.1, 2.25}};
  std::vector<apps::HistoryRow> back = apps::history_from_string(apps::history_to_string(rows));
  REQUIRE(back.size() == 2);
  CHECK(back[1].step == 10);
  CHECK(back[1].train_loss == rows[1].train_loss);
  CHECK(back[0].val_metric == 88.5);
  CHECK(apps::history_from_string("").empty());
  CHECK_THROWS_AS(apps::history_from_string("5,1,2"), pmx::Error);
}

TEST_CASE("trainer: the curve plot is a PNG file (builtin routine and default backend)") {
  TempDir tmp("plot");
  apps::Panel loss{"loss", true, {{"train", {1, 2, 3, 4}, {1.0, 0.5, 0.1, 0.0}}}};
  apps::Panel err{"error %", false, {{"val", {1, 2, 3, 4}, {90, 50, NAN, 1}}}};
  for (apps::PlotBackend backend : {apps::PlotBackend::Builtin, apps::PlotBackend::Auto}) {
    std::string path = tmp / (backend == apps::PlotBackend::Builtin ? "b.png" : "a.png");
    apps::write_curves_png(path, {loss, err}, backend);
    std::ifstream in(path, std::ios::binary);
    char sig[8] = {};
    in.read(sig, 8);
    CHECK(std::string(sig + 1, 3) == "PNG");
    CHECK(fs::file_size(path) > 500);
  }
  CHECK_THROWS_AS(apps::write_curves_png(tmp / "x.png", {}), pmx::Error);
  CHECK_THROWS_AS(apps::write_curves_png(tmp / "no_such_dir/x.png", {loss}, apps::PlotBackend::Builtin), pmx::Error);
  // A write that fails leaves the plot already there as it was: here the file it is drawn into
  // first cannot be made (a folder has its name; root may write anywhere, so no permission trick).
  pmx_test::write_text(tmp / "keep.png", "an earlier plot");
  fs::create_directory(tmp / ("keep.png.tmp." + std::to_string(::getpid())));
  CHECK_THROWS_WITH_AS(apps::write_curves_png(tmp / "keep.png", {loss}, apps::PlotBackend::Builtin),
                       doctest::Contains("cannot write PNG"), pmx::Error);
  CHECK(pmx_test::read_text(tmp / "keep.png") == "an earlier plot");
}

TEST_CASE("trainer: a short end-to-end adding run at N = 16 lowers the validation error") {
  GeneratorGuard guard;
  TempDir tmp("e2e");
  apps::AddingTask task(16, 21);
  auto model = tiny_model(21, 16, 16, 0.0);
  optim::Adam opt(model->parameters(), 3e-3);
  double before = apps::evaluate(*model, task, apps::Split::Validation, 400, 100);
  apps::TrainerConfig tc = quiet_config(400);
  tc.batch = 40;
  tc.eval_every = 100;
  tc.eval_size = 400;
  tc.test_size = 400;
  tc.log = tmp / "log.csv";
  tc.plot = tmp / "curves.png";
  apps::TrainResult r = apps::train(*model, task, opt, tc);
  MESSAGE("error before " << before << " %, validation after " << r.val_metric << " %, test " << r.test_metric
                          << " %, " << r.seconds << " s");
  CHECK(before > 80);
  CHECK(r.val_metric < before - 30);
  CHECK(r.test_metric < before - 30);
  CHECK(r.history.size() == 4);
  CHECK(r.plot_written == tmp / "curves.png");
  CHECK(fs::exists(tmp / "curves.png"));
  std::ifstream log(tmp / "log.csv");
  std::string header;
  std::getline(log, header);
  CHECK(header == "step,train_loss,val_error_pct,seconds");
}

TEST_CASE("trainer: --best-weights keeps the best validation step's weights and tests those, resume carries it on") {
  GeneratorGuard guard;
  TempDir tmp("best");
  apps::AddingTask task(16, 4);
  auto run = [&](int64_t steps, const std::string& resume) {
    auto model = tiny_model(5);
    optim::Adam opt(model->parameters(), 3e-2);
    apps::TrainerConfig tc = quiet_config(steps);
    tc.test_size = 40;
    tc.checkpoint = tmp / "c.ckpt";
    tc.best_weights = tmp / "best.safetensors";
    tc.resume = resume;
    apps::TrainResult r = apps::train(*model, task, opt, tc);
    // The model is left holding the tested weights: its validation metric is the best one.
    CHECK(apps::evaluate(*model, task, apps::Split::Validation, tc.eval_size, tc.eval_batch) == r.best_val_metric);
    return r;
  };
  apps::TrainResult straight = run(40, "");
  REQUIRE(straight.history.size() == 8);
  size_t best = 0;  // the first evaluation with the lowest error
  for (size_t i = 1; i < straight.history.size(); ++i)
    if (straight.history[i].val_metric < straight.history[best].val_metric) best = i;
  CHECK(straight.best_step == straight.history[best].step);
  CHECK(straight.best_val_metric == straight.history[best].val_metric);
  // The test ran on those weights, loaded from the file.
  auto fresh = tiny_model(99);
  optim::load_weights(tmp / "best.safetensors", *fresh);
  CHECK(apps::evaluate(*fresh, task, apps::Split::Test, 40, 100) == straight.test_metric);

  fs::remove(tmp / "best.safetensors");
  fs::remove(tmp / "c.ckpt");
  run(20, "");
  apps::TrainResult resumed = run(40, tmp / "c.ckpt");
  CHECK(resumed.start_step == 20);
  CHECK(resumed.best_step == straight.best_step);
  CHECK(resumed.best_val_metric == straight.best_val_metric);
  CHECK(resumed.test_metric == straight.test_metric);
}

TEST_CASE("trainer: an output path that cannot be written is refused before the first step, creating nothing") {
  GeneratorGuard guard;
  TempDir tmp("outpaths");
  apps::AddingTask task(16, 3);
  const std::string bad = tmp / "no_such_dir/out";
  for (int which = 0; which < 4; ++which) {
    CAPTURE(which);
    auto model = tiny_model(3);
    optim::Adam opt(model->parameters(), 1e-3);
    apps::TrainerConfig tc = quiet_config(3);
    tc.test_size = 8;
    tc.log = tmp / "log.csv";
    tc.checkpoint = tmp / "c.ckpt";
    if (which == 0) tc.plot = bad;
    if (which == 1) tc.checkpoint = bad;
    if (which == 2) tc.best_weights = bad;
    if (which == 3) tc.plot = tmp.dir.string();  // a folder, not a file
    int64_t steps_run = 0;
    tc.on_step = [&](int64_t, double) { ++steps_run; };
    const std::string named = which == 3 ? tmp.dir.string() : bad;
    CHECK_THROWS_WITH_AS(apps::train(*model, task, opt, tc), doctest::Contains(named.c_str()), pmx::Error);
    CHECK(steps_run == 0);
    CHECK(fs::is_empty(tmp.dir));  // no log, no checkpoint, no probe file left behind
  }
}

TEST_CASE("trainer: check_output_path passes writable paths and names the flag, the path and the reason otherwise") {
  TempDir tmp("checkpath");
  apps::check_output_path("--plot", "");                    // output off
  apps::check_output_path("--plot", tmp / "new.png");       // a new file in an existing folder
  pmx_test::write_text(tmp / "old.json", "{}");
  apps::check_output_path("--summary", tmp / "old.json");  // an existing file is replaced later
  CHECK(fs::exists(tmp / "old.json"));
  CHECK(!fs::exists(tmp / "new.png"));
  CHECK(std::distance(fs::directory_iterator(tmp.dir), fs::directory_iterator()) == 1);  // no probe left
  struct Case {
    std::string path, why;
  } cases[] = {{tmp / "missing/x.png", "the folder " + (tmp / "missing") + " does not exist"},
               {tmp / "old.json/x.png", (tmp / "old.json") + " is not a folder"},
               {tmp.dir.string(), "it is a folder"},
               {tmp / "sub/", "it names a folder"},
               {"/dev/null", "it exists and is not a regular file"}};
  for (const Case& c : cases) {
    CAPTURE(c.path);
    CHECK_THROWS_WITH_AS(apps::check_output_path("--plot", c.path),
                         doctest::Contains(("--plot: cannot write " + c.path + ": " + c.why).c_str()), pmx::Error);
  }
}

TEST_CASE("trainer: on resume, a best-weights file that is not the checkpoint's best is refused, not tested") {
  GeneratorGuard guard;
  TempDir tmp("bestproof");
  apps::AddingTask task(16, 4);
  const std::string best = tmp / "best.safetensors";
  auto run = [&](int64_t steps, const std::string& resume) {
    auto model = tiny_model(5);
    optim::Adam opt(model->parameters(), 3e-2);
    apps::TrainerConfig tc = quiet_config(steps);
    tc.test_size = 40;
    tc.checkpoint = tmp / "c.ckpt";
    tc.best_weights = best;
    tc.resume = resume;
    tc.metadata["config"] = "tiny";
    return apps::train(*model, task, opt, tc);
  };
  CHECK(run(5, "").best_step == 5);
  fs::copy_file(tmp / "c.ckpt", tmp / "c5.ckpt");
  apps::TrainResult longer = run(40, tmp / "c.ckpt");  // a later step becomes the best
  REQUIRE(longer.best_step > 5);
  const std::string later_bytes = read_file(best);
  std::map<std::string, std::string> meta;
  load_safetensors(best, &meta);
  CHECK(meta["best_step"] == std::to_string(longer.best_step));  // the file says which step it holds
  CHECK(meta["config"] == "tiny");                                // and of which run

  // The checkpoint of step 5 recorded step 5 as the best, but the file now holds a later step's
  // weights (a crash between checkpoint saves leaves the same): refused, the file left as it was.
  try {
    run(5, tmp / "c5.ckpt");
    FAIL_CHECK("expected the best-weights file to be refused");
  } catch (const pmx::Error& e) {
    std::string m = e.what();
    INFO(m);
    CHECK(m.find(best) != std::string::npos);
    CHECK(m.find("step 5") != std::string::npos);
    CHECK(m.find("step " + std::to_string(longer.best_step)) != std::string::npos);
  }
  CHECK(read_file(best) == later_bytes);

  // Weights from elsewhere (no pmx best-weights record) are refused as well.
  optim::save_weights(best, *tiny_model(77));
  CHECK_THROWS_WITH_AS(run(10, tmp / "c5.ckpt"), doctest::Contains(best.c_str()), pmx::Error);

  // Without the file, the resumed run keeps the best afresh from the resumed step on.
  fs::remove(best);
  fs::copy_file(tmp / "c5.ckpt", tmp / "c.ckpt", fs::copy_options::overwrite_existing);
  apps::TrainResult fresh_best = run(10, tmp / "c.ckpt");
  CHECK(fresh_best.best_step == 10);
  // And the file it writes is the one the next resume accepts.
  CHECK(run(10, tmp / "c.ckpt").best_step == 10);
}
