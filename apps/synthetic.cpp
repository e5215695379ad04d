// synthetic: the Paramixer paper's long-sequence tasks (adding problem, temporal order) with
// Paramixer or the Transformer baseline, trained by the shared loop (apps/common/trainer.h).
//
// Data is generated on the fly from --seed (train, validation and test from disjoint streams).
// Prints a progress line; writes a CSV log, a PNG of the curves, a checkpoint (every
// --checkpoint-every steps, at the end and on Ctrl-C) and with --summary the final metrics as JSON.
// Every output path is checked before training starts, so a typo cannot cost a long run.
//
//   ./build/apps/synthetic --task adding --n 1024 --threads 2 --target 0.5 --summary adding.json
//   ./build/apps/synthetic --task adding --n 1024 --resume synthetic_adding_paramixer_n1024.ckpt
//   ./build/apps/synthetic --task order --n 256 --model transformer --heads 4
#include <pmx/pmx.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "apps/common/args.h"
#include "apps/common/json.h"
#include "apps/common/model_flags.h"
#include "apps/common/report.h"
#include "apps/common/trainer.h"
#include "apps/datasets/synthetic.h"
#include "core/image_io.h"
#include "layers/paramixer_inspect.h"

using namespace pmx;

namespace {

std::unique_ptr<nn::Module> make_model(const std::string& model, const std::string& task, int64_t n,
                                       const apps::ArgParser& args) {
  bool adding = task == "adding";
  if (model == "paramixer") {
    nn::ParamixerConfig c;
    c.seq_len = n;
    c.dim = args.get_int("--dim");
    c.hidden = args.get_int("--hidden");
    c.layers = args.get_int("--layers");
    c.protocol = args.get_string("--protocol") == "cdil" ? kernels::Protocol::Cdil : kernels::Protocol::Chord;
    if (adding) {
      c.input_features = 2;  // (value, marker); no position table, as the paper's adding model
      c.classes = 1;
    } else {
      c.vocab = apps::kOrderVocab;
      c.position_table = true;
      c.classes = apps::kOrderClasses;
    }
    return std::make_unique<nn::ParamixerModel>(c);
  }
  nn::TransformerConfig c;
  c.seq_len = n;
  c.dim = args.get_int("--dim");
  c.heads = args.get_int("--heads");
  c.ff_hidden = args.get_int("--hidden");
  c.layers = args.get_int("--layers");
  c.position_table = true;  // attention alone cannot tell positions apart
  if (adding) {
    c.input_features = 2;
    c.classes = 1;
  } else {
    c.vocab = apps::kOrderVocab;
    c.classes = apps::kOrderClasses;
  }
  return std::make_unique<nn::TransformerModel>(c);
}

// "auto" paths are named after the run, so runs with different settings do not overwrite each other.
std::string resolve(const std::string& value, const std::string& stem, const std::string& ext) {
  if (value == "none") return "";
  return value == "auto" ? stem + ext : value;
}

int run(int argc, char** argv) {
  apps::ArgParser args("synthetic",
                       "Train Paramixer or a Transformer on the adding problem or temporal order (Paramixer paper).");
  args.add_string("--task", "adding", "adding | order");
  args.add_int("--n", 1024, "sequence length (2 to 1048576)");
  args.add_string("--model", "paramixer", "paramixer | transformer");
  args.add_string("--protocol", "chord", "Paramixer sparsity protocol: chord | cdil");
  args.add_int("--layers", 1, "Paramixer blocks / Transformer encoder layers");
  args.add_int("--dim", 32, "embedding size d");
  args.add_int("--hidden", 32, "Paramixer MLP width h / Transformer feed-forward width");
  args.add_int("--heads", 4, "Transformer attention heads (must divide --dim)");
  args.add_int("--batch", 40, "sequences per training step");
  args.add_double("--lr", 1e-3, "Adam learning rate");
  apps::declare_schedule_flags(args);
  args.add_int("--steps", 3000, "training steps (the most; --target or --max-minutes may stop earlier)");
  args.add_double("--max-minutes", 0, "wall-clock budget of this run's loop; then validate, test, stop (<= 0: none)",
                  /*allow_infinite=*/true);
  args.add_int("--threads", 2, "OpenMP + OpenBLAS threads");
  args.add_int("--seed", 0, "seed of the initialisation and of the data streams");
  args.add_double("--clip", 1.0, "gradient-norm clipping (<= 0: off)", /*allow_infinite=*/true);
  args.add_int("--eval-every", 100, "validate every this many steps (<= 0: only at the end)");
  args.add_int("--eval-size", 1000, "validation sequences per evaluation");
  args.add_int("--test-size", 2000, "test sequences at the end");
  args.add_double("--target", -1, "stop when the validation metric reaches it (adding: error %, order: "
                                  "accuracy %; < 0: never)");
  args.add_string("--checkpoint", "auto", "checkpoint path (auto: synthetic_<task>_<model>_n<N>.ckpt; none: off)");
  args.add_int("--checkpoint-every", 500, "save the checkpoint every this many steps (<= 0: only at the end)");
  args.add_string("--resume", "", "continue exactly from this checkpoint (same config required)");
  args.add_string("--log", "auto", "CSV log, one row per evaluation (auto: <run>.csv; none: off)");
  args.add_string("--plot", "auto", "PNG of the loss and metric curves (auto: <run>.png; none: off)");
  args.add_string("--mixing", "auto", "Paramixer, N <= 2048: PNG heatmap of block 0's effective N x N mixing "
                                      "matrix on test sequence 0 (auto: <run>_mixing.png; none: off)");
  args.add_string("--summary", "", "write the final metrics as JSON to this file");
  args.add_flag("--quiet", "no progress line");
  args.parse(argc, argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }
  std::string task_name = args.get_string("--task"), model_name = args.get_string("--model");
  std::string protocol = args.get_string("--protocol");
  const int64_t n = args.get_int("--n", 2, apps::kMaxSeqLen);
  PMX_CHECK(task_name == "adding" || task_name == "order", "--task must be adding or order, got '", task_name, "'");
  PMX_CHECK(model_name == "paramixer" || model_name == "transformer", "--model must be paramixer or transformer, got '",
            model_name, "'");
  PMX_CHECK(protocol == "chord" || protocol == "cdil", "--protocol must be chord or cdil, got '", protocol, "'");
  apps::check_model_size_flags(args);
  const uint64_t seed = apps::apply_loop_flags(args);
  const int threads = int(args.get_int("--threads", 1, apps::kMaxThreads));

  std::unique_ptr<apps::Task> task;
  if (task_name == "adding") task = std::make_unique<apps::AddingTask>(n, seed);
  else task = std::make_unique<apps::OrderTask>(n, seed);
  std::unique_ptr<nn::Module> model = make_model(model_name, task_name, n, args);
  optim::Adam opt(model->parameters(), args.get_double("--lr"));

  std::string variant = model_name == "paramixer" ? model_name + (protocol == "cdil" ? "_cdil" : "") : model_name;
  std::string stem = "synthetic_" + task_name + "_" + variant + "_n" + std::to_string(n);
  apps::TrainerConfig tc;
  tc.steps = args.get_int("--steps");
  tc.batch = args.get_int("--batch");
  tc.clip = args.get_double("--clip");
  std::unique_ptr<optim::LRSchedule> schedule = apps::make_schedule(args);
  tc.schedule = schedule.get();
  tc.eval_every = args.get_int("--eval-every");
  tc.eval_size = args.get_int("--eval-size");
  tc.test_size = args.get_int("--test-size");
  tc.target = args.get_double("--target");
  tc.max_seconds = args.get_double("--max-minutes") * 60;
  tc.checkpoint = resolve(args.get_string("--checkpoint"), stem, ".ckpt");
  tc.checkpoint_every = args.get_int("--checkpoint-every");
  tc.resume = args.get_string("--resume");
  tc.log = resolve(args.get_string("--log"), stem, ".csv");
  tc.plot = resolve(args.get_string("--plot"), stem, ".png");
  tc.progress = !args.get_flag("--quiet");
  // What must match for --resume to continue the same run (steps, threads, paths may change).
  std::ostringstream cfg;
  // Numbers through json_number: the same text as std::ostream wrote for up to 6 significant
  // digits (old checkpoints resume), all the digits beyond, null for an infinite --clip.
  cfg << "{\"task\":" << apps::json_string(task_name) << ",\"n\":" << n << ",\"model\":" << apps::json_string(model_name)
      << ",\"protocol\":" << apps::json_string(protocol) << ",\"layers\":" << args.get_int("--layers")
      << ",\"dim\":" << args.get_int("--dim") << ",\"hidden\":" << args.get_int("--hidden")
      << ",\"heads\":" << args.get_int("--heads") << ",\"batch\":" << tc.batch
      << ",\"lr\":" << apps::json_number(args.get_double("--lr")) << ",\"seed\":" << seed
      << ",\"clip\":" << apps::json_number(tc.clip) << apps::schedule_json(args) << "}";
  tc.metadata["synthetic_config"] = cfg.str();
  // The heatmap is drawn for a Paramixer whose effective mixing matrix is small enough.
  auto* paramixer = dynamic_cast<nn::ParamixerModel*>(model.get());
  std::string mixing = resolve(args.get_string("--mixing"), stem + "_mixing", ".png");
  if (!paramixer || paramixer->inner_len() > nn::kMaxInteractionLen) mixing.clear();
  // Before training: a bad path found only when the file is written would lose the run.
  apps::check_run_outputs({{"--checkpoint", tc.checkpoint},
                           {"--log", tc.log},
                           {"--plot", tc.plot},
                           {"--mixing", mixing},
                           {"--summary", args.get_string("--summary")}},
                          {"--resume", tc.resume}, "--checkpoint");

  std::string metric = apps::metric_name(task->metric_kind());
  char budget[64] = "";
  if (tc.max_seconds > 0) std::snprintf(budget, sizeof budget, " or %g min", args.get_double("--max-minutes"));
  std::printf("%s, N = %ld: %s (%s), %ld parameters; batch %ld, lr %g, clip %g, up to %ld steps%s, %d threads\n",
              task_name.c_str(), long(n), model_name.c_str(), model_name == "paramixer" ? protocol.c_str() : "dense",
              long(model->num_parameters()), long(tc.batch), args.get_double("--lr"), tc.clip, long(tc.steps), budget,
              threads);
  if (model_name == "transformer") apps::note_blas_kernels();  // Paramixer's step hardly uses OpenBLAS
  apps::TrainResult r = apps::train(*model, *task, opt, tc);
  if (r.interrupted) return 130;

  const char* what = task->metric_kind() == apps::MetricKind::ErrorPct ? "error" : "accuracy";
  char tested[96] = "no test (--test-size 0)";
  if (r.tested) std::snprintf(tested, sizeof tested, "test %s %.2f %% (%ld sequences)", what, r.test_metric,
                              long(tc.test_size));
  std::printf("%s, validation %.2f %%; %ld steps (%ld sequences) in %.1f s on %d threads%s\n", tested, r.val_metric,
              long(r.steps), long(r.steps * tc.batch), r.total_seconds, threads,
              r.reached_target ? " (target reached)" : r.stopped_by_budget ? " (stopped by --max-minutes)" : "");
  if (!r.plot_written.empty()) std::printf("curves: %s\n", r.plot_written.c_str());
  if (!tc.log.empty()) std::printf("log: %s\n", tc.log.c_str());
  if (!r.checkpoint_written.empty()) std::printf("checkpoint: %s\n", r.checkpoint_written.c_str());
  if (!mixing.empty()) {
    apps::Batch one = task->batch(apps::Split::Test, 0, 1);
    Tensor e = nn::effective_interaction(*paramixer->blocks[0], nn::block_weights_input(*paramixer, one.input, 0));
    write_heatmap_png(mixing, e);
    std::printf("mixing matrix (block 0, test sequence 0, log10 |E|): %s", mixing.c_str());
    if (task_name == "adding") {  // the columns a trained block should draw on
      std::vector<float> x = one.input.to_vector<float>();
      std::printf(" (markers at positions");
      for (int64_t t = 0; t < n; ++t)
        if (x[2 * t + 1] == 1.f) std::printf(" %ld", long(t));
      std::printf(")");
    }
    std::printf("\n");
  }

  if (!args.get_string("--summary").empty()) {
    apps::Summary s;
    s.set("task", task_name);
    s.set("model", model_name);
    s.set("protocol", model_name == "paramixer" ? protocol : std::string("none"));
    s.set("n", double(n));
    s.set("steps", double(r.steps));
    s.set("sequences_seen", double(r.steps * tc.batch));
    s.set("seconds", r.total_seconds);
    s.set("threads", double(threads));
    s.set("parameters", double(model->num_parameters()));
    // No test ran with --test-size 0: null, not a made-up number.
    if (r.tested) s.set("test_" + metric, r.test_metric);
    else s.set_json("test_" + metric, "null");
    s.set("test_sequences", double(r.tested ? tc.test_size : 0));
    s.set("val_" + metric, r.val_metric);
    s.set("final_train_loss", r.history.empty() ? r.last_loss : r.history.back().train_loss);
    s.set_json("reached_target", r.reached_target ? "true" : "false");
    s.set("stopped_by", r.reached_target ? "target" : r.stopped_by_budget ? "budget" : "steps");
    s.set("plot", r.plot_written);
    s.set("mixing_png", mixing);
    s.set_json("config", args.to_json());
    s.write(args.get_string("--summary"));
    std::printf("summary: %s\n", args.get_string("--summary").c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synthetic: error: %s\n", e.what());
    return 1;
  }
}
