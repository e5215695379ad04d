// The flags, model construction and run-and-report flow shared by the real-task apps (listops,
// seq_images, pathfinder, spam, dna): each app declares its own data flags, builds a Task, and
// hands the rest to run_classification.
//
// Flags (declare_model_flags, defaults per app from ModelDefaults, so --help shows the paper's
// config of that task): --model paramixer|transformer, --protocol chord|cdil, --layers, --dim,
// --hidden (Paramixer h / Transformer feed-forward width), --heads, --head flatten|cls|mean,
// --position-table 0|1, --embedding-init (token embedding: 0 = N(0, 1), r = U(-r, r)),
// --p1 (embedding dropout), --p2 (block dropout; Transformer: in-layer dropout), --batch, --lr,
// --schedule constant|cosine, --warmup, --steps, --max-minutes (wall-clock budget), --threads,
// --seed, --clip,
// --eval-every, --eval-size, --test-size, --checkpoint, --checkpoint-every, --resume,
// --best-weights (test the best validation step's weights instead of the last), --log,
// --plot, --summary, --quiet. The apps that read a data set (seq_images, spam, dna) add
// --data-dir with declare_data_dir_flag; listops and pathfinder generate theirs.
//
// --max-minutes: once this run's loop has used the budget, the step finishes, the checkpoint is
// saved (so --resume continues it) and validation and test are measured as at a normal end; the
// summary says "stopped_by": "budget". Without it the run ends at --steps.
//
//   ArgParser args("spam", "...");
//   ModelDefaults d;  d.layers = 3;  d.hidden = 128;  d.head = "cls";  d.p1 = 0.4;  d.lr = 1e-4;
//   declare_model_flags(args, d);
//   args.parse(argc, argv);
//   uint64_t seed = apply_run_flags(args);                  // validates, threads, manual_seed
//   TokenClassificationTask task(data, "spam", seed);
//   return run_classification(args, "spam", task, ModelShape{4096, 257, 0, 2}, "{...}");
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "apps/common/args.h"
#include "apps/common/trainer.h"
#include "layers/module.h"
#include "optim/lr_schedule.h"

namespace pmx::apps {

struct ModelDefaults {
  std::string model = "paramixer", protocol = "chord", head = "flatten";
  int64_t layers = 1, dim = 32, hidden = 32, heads = 4, batch = 32, steps = 10000;
  bool position_table = true;
  double p1 = 0, p2 = 0, lr = 1e-3, clip = 1.0;
  double embedding_init = 0;  // 0: N(0, 1); r > 0: U(-r, r) (ParamixerConfig::embedding_init)
  int64_t eval_every = 200, eval_size = 1000, test_size = 2000, checkpoint_every = 500;
  int64_t threads = 1;
};

// What the data fixes about the model: the input length, the token vocabulary, the padding id
// (-1: none) and the number of classes.
struct ModelShape {
  int64_t seq_len = 0, vocab = 0, padding_idx = -1, classes = 2;
};

void declare_model_flags(ArgParser& args, const ModelDefaults& defaults);

// Checks every shared flag (throws pmx::Error naming the flag), sets the thread count and the
// default generator's seed; returns the seed.
uint64_t apply_run_flags(const ArgParser& args);

// --layers, --dim, --hidden and --heads each from 1 to its cap (kMaxLayers, kMaxWidth); part of
// apply_run_flags, and used by apps/synthetic.cpp, which has its own model flags.
void check_model_size_flags(const ArgParser& args);

// The part of apply_run_flags every training app shares (apps/synthetic.cpp has its own model
// flags): checks --batch, --steps, --lr, --schedule, --warmup, --eval-size, --test-size and
// --threads, sets the thread
// count, seeds the generator with --seed and returns it.
uint64_t apply_loop_flags(const ArgParser& args);

// --data-dir: where `dataset` is kept or fetched to; empty (the default): default_data_dir(dataset),
// that is $PMX_DATA_DIR/<dataset> or ~/.cache/pmx/<dataset> (apps/datasets/fetch.h). data_dir
// returns the folder to use.
void declare_data_dir_flag(ArgParser& args, const std::string& dataset);
std::string data_dir(const ArgParser& args, const std::string& dataset);

// --schedule constant|cosine and --warmup (declare_model_flags declares them too).
void declare_schedule_flags(ArgParser& args);
// The learning-rate schedule the flags ask for (warm-up, then cosine decay to 5 % of --lr at
// --steps), or nullptr for a constant rate.
std::unique_ptr<optim::LRSchedule> make_schedule(const ArgParser& args);
// What --resume must match about the schedule, as JSON members to append to a config object
// ("" for a constant rate, so checkpoints from before the flag existed still resume).
std::string schedule_json(const ArgParser& args);

// "paramixer" (CHORD), "paramixer_cdil" or "transformer": names the run's files.
std::string model_variant(const ArgParser& args);

// A ParamixerModel or TransformerModel with the flags' config for data of this shape.
std::unique_ptr<nn::Module> make_model(const ArgParser& args, const ModelShape& shape);

// The checkpoint metadata that must match on --resume: the model flags, the shape and data_json.
std::string run_config_json(const ArgParser& args, const ModelShape& shape, const std::string& data_json);

// The flag value, with "auto" -> stem + ext and "none" -> "".
std::string resolve_path(const std::string& value, const std::string& stem, const std::string& ext);

// Checks that every output path of the run (--checkpoint, --best-weights, --log, --plot,
// --summary, named as run_classification names them) can be written (check_output_path), that no
// two name one file and that none but --checkpoint is the --resume file (check_run_outputs). The
// apps call it right after apply_run_flags, so a bad path fails before their data is generated
// or fetched; run_classification calls it again for any other caller.
void check_run_output_paths(const ArgParser& args, const std::string& app, const std::string& tag);

// Builds the model, checks that every output path (--checkpoint, --best-weights, --log, --plot,
// --summary) can be written (check_output_path, before any training), trains it on `task` with
// Adam (trainer.h), prints the result and writes the --summary JSON (task, model, protocol, n,
// steps, sequences_seen, seconds, threads, parameters, test_accuracy_pct, test_sequences,
// val_accuracy_pct, tested_step, tested_val_accuracy_pct, stopped_by, config; with --test-size 0
// no test runs: the output says so and the test_* / tested_* values are null). Files are named
// "<app>_<variant>[_<tag>]". val_rows / test_rows (>= 0): the sizes of the evaluation splits;
// --eval-size and --test-size are lowered to them (with a note) instead of failing, and an empty
// validation split (val_rows == 0) is refused before training. Returns the
// exit code (130 after Ctrl-C).
int run_classification(const ArgParser& args, const std::string& app, const std::string& tag, const Task& task,
                       const ModelShape& shape, const std::string& data_json, int64_t val_rows = -1,
                       int64_t test_rows = -1);

struct TokenDataset;  // apps/datasets/token_dataset.h

// Refuses, before any training, a data set whose validation split came out empty (every class's
// share rounded to 0 rows, as assign_splits rounds it): throws pmx::Error naming `sized_by`, what
// sized the split (say "--val-fraction 1e-05"), and the smallest fraction that holds out a row.
void require_validation_rows(const TokenDataset& data, const std::string& sized_by);

// run_classification on a TokenDataset: its TokenClassificationTask (named task_name, train
// order shuffled by seed), the model shape taken from the data, the split sizes passed on.
int run_token_classification(const ArgParser& args, const std::string& app, const std::string& tag,
                             const TokenDataset& data, const std::string& task_name, uint64_t seed,
                             const std::string& data_json);

}  // namespace pmx::apps
