#include "apps/common/model_flags.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "apps/common/json.h"
#include "apps/common/report.h"
#include "apps/datasets/fetch.h"
#include "apps/datasets/token_dataset.h"
#include "core/error.h"
#include "core/random.h"
#include "core/threads.h"
#include "layers/paramixer_model.h"
#include "layers/transformer.h"
#include "optim/adam.h"

namespace pmx::apps {

void declare_model_flags(ArgParser& args, const ModelDefaults& d) {
  args.add_string("--model", d.model, "paramixer | transformer");
  args.add_string("--protocol", d.protocol, "Paramixer sparsity protocol: chord | cdil");
  args.add_int("--layers", d.layers, "Paramixer blocks / Transformer encoder layers (L)");
  args.add_int("--dim", d.dim, "embedding size d");
  args.add_int("--hidden", d.hidden, "Paramixer MLP width h / Transformer feed-forward width");
  args.add_int("--heads", d.heads, "Transformer attention heads (must divide --dim)");
  args.add_string("--head", d.head, "classifier head: flatten | cls | mean | max (mean and max pool over positions)");
  args.add_int("--position-table", d.position_table ? 1 : 0, "1: learned position table added to the embedding");
  args.add_string("--weights-from", "embedding",
                  "Paramixer f_m input: embedding (official: every block's mixing weights read X) | block-input "
                  "(each block's f_m read that block's input V) | block-input-ln (its layer norm, no affine)");
  args.add_double("--embedding-init", d.embedding_init,
                  "token embedding init: 0 = N(0, 1); r > 0 = U(-r, r) (the official Paramixer text runs: 0.1)");
  args.add_double("--p1", d.p1, "dropout on the embedding");
  args.add_double("--p2", d.p2, "dropout at the end of every Paramixer block / inside every Transformer layer");
  args.add_int("--batch", d.batch, "sequences per training step");
  args.add_double("--lr", d.lr, "Adam learning rate");
  declare_schedule_flags(args);
  args.add_int("--steps", d.steps, "training steps (the most; --max-minutes may stop earlier)");
  args.add_double("--max-minutes", 0, "wall-clock budget of this run's loop; then validate, test, stop (<= 0: none)",
                  /*allow_infinite=*/true);
  args.add_int("--threads", d.threads, "OpenMP + OpenBLAS threads");
  args.add_int("--seed", 0, "seed of the initialisation, the data split/generator and the batch order");
  args.add_double("--clip", d.clip,
                  "gradient-norm clipping (<= 0: off; the official code clips its genome runs at 1.0 "
                  "but not the long-range-benchmark ones: --clip 0 there)",
                  /*allow_infinite=*/true);
  args.add_int("--eval-every", d.eval_every, "validate every this many steps (<= 0: only at the end)");
  args.add_int("--eval-size", d.eval_size, "validation sequences per evaluation");
  args.add_int("--test-size", d.test_size, "test sequences at the end");
  args.add_string("--checkpoint", "auto", "checkpoint path (auto: <run>.ckpt; none: off)");
  args.add_int("--checkpoint-every", d.checkpoint_every,
              "save the checkpoint every this many steps (<= 0: end and Ctrl-C)");
  args.add_string("--resume", "", "continue exactly from this checkpoint (same model and data flags required)");
  args.add_string("--best-weights", "none",
                  "keep the weights of the best validation step here and test those at the end (auto: "
                  "<run>.best.safetensors; none: test the last weights)");
  args.add_string("--log", "auto", "CSV log, one row per evaluation (auto: <run>.csv; none: off)");
  args.add_string("--plot", "auto", "PNG of the loss and accuracy curves (auto: <run>.png; none: off)");
  args.add_string("--summary", "", "write the final metrics as JSON to this file");
  args.add_flag("--quiet", "no progress line");
}

void declare_data_dir_flag(ArgParser& args, const std::string& dataset) {
  args.add_string("--data-dir", "", "where the " + dataset + " data is kept / fetched to (empty: $PMX_DATA_DIR/" +
                                        dataset + " or ~/.cache/pmx/" + dataset + ")");
}

std::string data_dir(const ArgParser& args, const std::string& dataset) {
  const std::string dir = args.get_string("--data-dir");
  return dir.empty() ? default_data_dir(dataset) : dir;
}

void declare_schedule_flags(ArgParser& args) {
  args.add_string("--schedule", "constant", "learning rate: constant | cosine (decays to 5 % of --lr at --steps)");
  args.add_int("--warmup", 0, "cosine schedule: linear warm-up steps");
}

std::unique_ptr<optim::LRSchedule> make_schedule(const ArgParser& args) {
  if (args.get_string("--schedule") != "cosine") return nullptr;
  return std::make_unique<optim::WarmupCosine>(args.get_double("--lr"), args.get_int("--warmup"),
                                               args.get_int("--steps"), 0.05);
}

std::string schedule_json(const ArgParser& args) {
  // The cosine curve depends on --steps and --warmup, so a resumed run must keep them.
  if (args.get_string("--schedule") != "cosine") return "";
  return ",\"schedule\":\"cosine\",\"steps\":" + std::to_string(args.get_int("--steps")) +
         ",\"warmup\":" + std::to_string(args.get_int("--warmup"));
}

uint64_t apply_loop_flags(const ArgParser& args) {
  args.get_int("--batch", 1, kMaxBatch);  // each throws naming the flag if out of range
  args.get_int("--steps", 1, kMaxSteps);
  PMX_CHECK(args.get_double("--lr") > 0, "--lr must be > 0, got ", args.get_double("--lr"));
  const std::string schedule = args.get_string("--schedule");
  PMX_CHECK(schedule == "constant" || schedule == "cosine", "--schedule must be constant or cosine, got '", schedule,
            "'");
  args.get_int("--warmup", 0, kMaxSteps);
  args.get_int("--eval-size", 1, kMaxEvalRows);
  args.get_int("--test-size", 0, kMaxEvalRows);
  const int threads = int(args.get_int("--threads", 1, kMaxThreads));
  set_num_threads(threads);
  uint64_t seed = uint64_t(args.get_int("--seed"));
  manual_seed(seed);
  return seed;
}

void check_model_size_flags(const ArgParser& args) {
  args.get_int("--layers", 1, kMaxLayers);
  for (const char* flag : {"--dim", "--hidden", "--heads"}) args.get_int(flag, 1, kMaxWidth);
}

uint64_t apply_run_flags(const ArgParser& args) {
  std::string model = args.get_string("--model"), protocol = args.get_string("--protocol");
  std::string head = args.get_string("--head");
  PMX_CHECK(model == "paramixer" || model == "transformer", "--model must be paramixer or transformer, got '", model,
            "'");
  PMX_CHECK(protocol == "chord" || protocol == "cdil", "--protocol must be chord or cdil, got '", protocol, "'");
  PMX_CHECK(head == "flatten" || head == "cls" || head == "mean" || head == "max",
            "--head must be flatten, cls, mean or max, got '", head, "'");
  check_model_size_flags(args);
  PMX_CHECK(model != "transformer" || args.get_int("--dim") % args.get_int("--heads") == 0, "--heads (",
            args.get_int("--heads"), ") must divide --dim (", args.get_int("--dim"), ")");
  PMX_CHECK(args.get_int("--position-table") == 0 || args.get_int("--position-table") == 1,
            "--position-table must be 0 or 1");
  nn::parse_mixing_weights_input(args.get_string("--weights-from"));  // throws on a bad value
  PMX_CHECK(args.get_double("--embedding-init") >= 0, "--embedding-init must be >= 0, got ",
            args.get_double("--embedding-init"));
  for (const char* p : {"--p1", "--p2"})
    PMX_CHECK(args.get_double(p) >= 0 && args.get_double(p) < 1, p, " must be in [0, 1), got ", args.get_double(p));
  return apply_loop_flags(args);
}

std::string model_variant(const ArgParser& args) {
  if (args.get_string("--model") == "transformer") return "transformer";
  return args.get_string("--protocol") == "cdil" ? "paramixer_cdil" : "paramixer";
}

std::unique_ptr<nn::Module> make_model(const ArgParser& args, const ModelShape& shape) {
  PMX_CHECK(shape.seq_len >= 1 && shape.vocab >= 1 && shape.classes >= 2, "[make_model] bad data shape: seq_len ",
            shape.seq_len, ", vocab ", shape.vocab, ", classes ", shape.classes);
  std::string head = args.get_string("--head");
  if (args.get_string("--model") == "paramixer") {
    nn::ParamixerConfig c;
    c.seq_len = shape.seq_len;
    c.vocab = shape.vocab;
    c.padding_idx = shape.padding_idx;
    c.classes = shape.classes;
    c.dim = args.get_int("--dim");
    c.hidden = args.get_int("--hidden");
    c.layers = args.get_int("--layers");
    c.protocol = args.get_string("--protocol") == "cdil" ? kernels::Protocol::Cdil : kernels::Protocol::Chord;
    c.position_table = args.get_int("--position-table") == 1;
    c.embedding_init = args.get_double("--embedding-init");
    c.weights_input = nn::parse_mixing_weights_input(args.get_string("--weights-from"));
    c.head = head == "cls"    ? nn::ParamixerHead::Cls
             : head == "mean" ? nn::ParamixerHead::Mean
             : head == "max"  ? nn::ParamixerHead::Max
                              : nn::ParamixerHead::Flatten;
    c.p1 = args.get_double("--p1");
    c.p2 = args.get_double("--p2");
    return std::make_unique<nn::ParamixerModel>(c);
  }
  nn::TransformerConfig c;
  c.seq_len = shape.seq_len;
  c.vocab = shape.vocab;
  c.padding_idx = shape.padding_idx;
  c.classes = shape.classes;
  c.dim = args.get_int("--dim");
  c.heads = args.get_int("--heads");
  c.ff_hidden = args.get_int("--hidden");
  c.layers = args.get_int("--layers");
  c.position_table = args.get_int("--position-table") == 1;
  c.embedding_init = args.get_double("--embedding-init");
  c.head = head == "cls"    ? nn::TransformerHead::Cls
           : head == "mean" ? nn::TransformerHead::Mean
           : head == "max"  ? nn::TransformerHead::Max
                            : nn::TransformerHead::Flatten;
  c.embed_dropout = args.get_double("--p1");
  c.dropout = args.get_double("--p2");
  return std::make_unique<nn::TransformerModel>(c);
}

// Only a non-default init is recorded, so checkpoints from before the flag still resume.
static std::string embedding_init_json(const ArgParser& args) {
  double r = args.get_double("--embedding-init");
  if (r == 0) return "";
  return ",\"embedding_init\":" + json_number(r);
}

static std::string weights_from_json(const ArgParser& args) {
  const std::string w = args.get_string("--weights-from");
  return w == "embedding" ? "" : ",\"weights_from\":" + json_string(w);
}

// The numbers through json_number: the text of values of up to 6 significant digits is what
// std::ostream wrote before (old checkpoints resume), more digits are kept, infinity is null.
std::string run_config_json(const ArgParser& args, const ModelShape& shape, const std::string& data_json) {
  std::ostringstream cfg;
  cfg << "{\"model\":" << json_string(args.get_string("--model"))
      << ",\"protocol\":" << json_string(args.get_string("--protocol")) << ",\"layers\":" << args.get_int("--layers")
      << ",\"dim\":" << args.get_int("--dim") << ",\"hidden\":" << args.get_int("--hidden")
      << ",\"heads\":" << args.get_int("--heads") << ",\"head\":" << json_string(args.get_string("--head"))
      << ",\"position_table\":" << args.get_int("--position-table")
      << ",\"p1\":" << json_number(args.get_double("--p1")) << ",\"p2\":" << json_number(args.get_double("--p2"))
      << embedding_init_json(args) << weights_from_json(args)
      << ",\"batch\":" << args.get_int("--batch") << ",\"lr\":" << json_number(args.get_double("--lr"))
      << ",\"clip\":" << json_number(args.get_double("--clip")) << ",\"seed\":" << args.get_int("--seed")
      << ",\"seq_len\":" << shape.seq_len << ",\"vocab\":" << shape.vocab << ",\"classes\":" << shape.classes
      << schedule_json(args) << ",\"data\":" << (data_json.empty() ? "{}" : data_json) << "}";
  return cfg.str();
}

std::string resolve_path(const std::string& value, const std::string& stem, const std::string& ext) {
  if (value == "none") return "";
  return value == "auto" ? stem + ext : value;
}

// "<app>_<variant>[_<tag>]": the name of the run's files.
static std::string run_stem(const ArgParser& args, const std::string& app, const std::string& tag) {
  return app + "_" + model_variant(args) + (tag.empty() ? "" : "_" + tag);
}

void check_run_output_paths(const ArgParser& args, const std::string& app, const std::string& tag) {
  const std::string stem = run_stem(args, app, tag);
  const std::vector<std::pair<std::string, std::string>> outputs = {
      {"--checkpoint", resolve_path(args.get_string("--checkpoint"), stem, ".ckpt")},
      {"--best-weights", resolve_path(args.get_string("--best-weights"), stem, ".best.safetensors")},
      {"--log", resolve_path(args.get_string("--log"), stem, ".csv")},
      {"--plot", resolve_path(args.get_string("--plot"), stem, ".png")},
      {"--summary", args.get_string("--summary")}};
  check_run_outputs(outputs, {"--resume", args.get_string("--resume")}, "--checkpoint");
}

int run_classification(const ArgParser& args, const std::string& app, const std::string& tag, const Task& task,
                       const ModelShape& shape, const std::string& data_json, int64_t val_rows,
                       int64_t test_rows) {
  // Else the run would fail at its first evaluation, after the training up to it.
  PMX_CHECK(val_rows != 0, "[", app, "] the validation split is empty: nothing to evaluate on, pick the best step by "
            "or stop at; hold out at least one row (see ", app, " --help)");
  std::unique_ptr<nn::Module> model = make_model(args, shape);
  optim::Adam opt(model->parameters(), args.get_double("--lr"));
  const std::string stem = run_stem(args, app, tag);

  TrainerConfig tc;
  tc.steps = args.get_int("--steps");
  tc.batch = args.get_int("--batch");
  tc.clip = args.get_double("--clip");
  std::unique_ptr<optim::LRSchedule> schedule = make_schedule(args);
  tc.schedule = schedule.get();
  tc.eval_every = args.get_int("--eval-every");
  tc.eval_size = args.get_int("--eval-size");
  tc.test_size = args.get_int("--test-size");
  if (val_rows >= 1 && tc.eval_size > val_rows) {
    std::printf("note: --eval-size %ld lowered to the %ld validation sequences\n", long(tc.eval_size), long(val_rows));
    tc.eval_size = val_rows;
  }
  if (test_rows >= 0 && tc.test_size > test_rows) {
    std::printf("note: --test-size %ld lowered to the %ld test sequences\n", long(tc.test_size), long(test_rows));
    tc.test_size = test_rows;
  }
  tc.checkpoint = resolve_path(args.get_string("--checkpoint"), stem, ".ckpt");
  tc.checkpoint_every = args.get_int("--checkpoint-every");
  tc.resume = args.get_string("--resume");
  tc.best_weights = resolve_path(args.get_string("--best-weights"), stem, ".best.safetensors");
  tc.log = resolve_path(args.get_string("--log"), stem, ".csv");
  tc.plot = resolve_path(args.get_string("--plot"), stem, ".png");
  tc.progress = !args.get_flag("--quiet");
  tc.metadata[app + "_config"] = run_config_json(args, shape, data_json);
  // Before training: a bad path found only when the file is written would lose the run.
  check_run_output_paths(args, app, tag);

  tc.max_seconds = args.get_double("--max-minutes") * 60;

  const int threads = int(args.get_int("--threads", 1, kMaxThreads));
  char budget[64] = "";
  if (tc.max_seconds > 0) std::snprintf(budget, sizeof budget, " or %g min", args.get_double("--max-minutes"));
  std::string model_name = args.get_string("--model");
  std::printf("%s, N = %ld: %s (%s), %ld parameters; batch %ld, lr %g, clip %g, up to %ld steps%s, %d threads\n",
              task.name().c_str(), long(shape.seq_len), model_name.c_str(),
              model_name == "paramixer" ? args.get_string("--protocol").c_str() : "dense",
              long(model->num_parameters()), long(tc.batch), args.get_double("--lr"), tc.clip, long(tc.steps),
              budget, threads);
  if (model_name == "transformer") note_blas_kernels();  // Paramixer's step hardly uses OpenBLAS
  std::fflush(stdout);
  TrainResult r = train(*model, task, opt, tc);
  if (r.interrupted) return 130;
  std::string stopped_by = r.stopped_by_budget ? "budget" : "steps";

  char tested[96] = "no test (--test-size 0)";
  if (r.tested)
    std::snprintf(tested, sizeof tested, "test accuracy %.2f %% (%ld sequences)", r.test_metric, long(tc.test_size));
  std::printf("%s, validation %.2f %%; %ld steps (%ld sequences) in %.1f s on %d threads, stopped by %s\n", tested,
              r.val_metric, long(r.steps), long(r.steps * tc.batch), r.total_seconds, threads, stopped_by.c_str());
  if (r.tested && r.best_step >= 0)
    std::printf("(tested: the weights of step %ld, the best validation accuracy, %.2f %%, kept in %s)\n",
                long(r.best_step), r.best_val_metric, tc.best_weights.c_str());
  if (!r.plot_written.empty()) std::printf("curves: %s\n", r.plot_written.c_str());
  if (!tc.log.empty()) std::printf("log: %s\n", tc.log.c_str());
  if (!r.checkpoint_written.empty()) std::printf("checkpoint: %s\n", r.checkpoint_written.c_str());

  if (!args.get_string("--summary").empty()) {
    Summary s;
    s.set("task", task.name());
    s.set("model", model_name);
    s.set("protocol", model_name == "paramixer" ? args.get_string("--protocol") : std::string("none"));
    s.set("n", double(shape.seq_len));
    s.set("steps", double(r.steps));
    s.set("sequences_seen", double(r.steps * tc.batch));
    s.set("seconds", r.total_seconds);
    s.set("threads", double(threads));
    s.set("parameters", double(model->num_parameters()));
    // No test ran with --test-size 0: the test fields are null, not made-up numbers.
    const std::string none = "null";
    if (r.tested) s.set("test_accuracy_pct", r.test_metric);
    else s.set_json("test_accuracy_pct", none);
    s.set("test_sequences", double(r.tested ? tc.test_size : 0));
    s.set("val_accuracy_pct", r.val_metric);
    if (r.tested) {
      s.set("tested_step", double(r.best_step >= 0 ? r.best_step : r.steps));
      s.set("tested_val_accuracy_pct", r.best_step >= 0 ? r.best_val_metric : r.val_metric);
    } else {
      s.set_json("tested_step", none);
      s.set_json("tested_val_accuracy_pct", none);
    }
    s.set("final_train_loss", r.history.empty() ? r.last_loss : r.history.back().train_loss);
    s.set("stopped_by", stopped_by);
    s.set("plot", r.plot_written);
    s.set_json("data", data_json.empty() ? "{}" : data_json);
    s.set_json("config", args.to_json());
    s.write(args.get_string("--summary"));
    std::printf("summary: %s\n", args.get_string("--summary").c_str());
  }
  return 0;
}

void require_validation_rows(const TokenDataset& data, const std::string& sized_by) {
  if (data.validation.count() > 0) return;
  std::vector<int64_t> per_class(size_t(std::max<int64_t>(data.classes(), 1)), 0);
  for (int64_t label : data.train.labels)
    if (label >= 0 && label < int64_t(per_class.size())) ++per_class[size_t(label)];
  const int64_t largest = *std::max_element(per_class.begin(), per_class.end());
  std::ostringstream why;
  why << sized_by << " holds out no validation row";
  if (largest > 0) {
    // The smallest 2-digit fraction whose share of the largest class rounds to a row.
    const double exact = 0.5 / double(largest), scale = std::pow(10.0, std::floor(std::log10(exact)) - 1);
    double enough = std::ceil(exact / scale - 1e-9) * scale;
    while (int64_t(enough * double(largest) + 0.5) < 1) enough += scale;
    why << ": its share of each class (at most " << largest << " rows) rounds to 0; use at least " << enough;
  }
  throw Error(why.str());
}

int run_token_classification(const ArgParser& args, const std::string& app, const std::string& tag,
                             const TokenDataset& data, const std::string& task_name, uint64_t seed,
                             const std::string& data_json) {
  TokenClassificationTask task(data, task_name, seed);
  ModelShape shape{data.seq_len, data.vocab, data.padding_idx, data.classes()};
  return run_classification(args, app, tag, task, shape, data_json, data.validation.count(), data.test.count());
}

}  // namespace pmx::apps
