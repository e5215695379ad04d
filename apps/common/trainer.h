// The training loop every app shares: a Task makes batches and scores predictions, the loop
// trains a model with an optimizer, evaluates, logs, plots, checkpoints and resumes.
//
// One step s (1-based): lr = schedule(s - 1) if given; batch = task.batch(Train, (s - 1) * batch, batch); loss = task.loss(
// model(batch.input), batch.target); zero_grad; backward; clip_grad_norm_(clip) if clip > 0;
// optimizer step. A loss or gradient norm that is not finite (the run diverged) throws
// pmx::Error naming the step before the optimizer step, so neither the parameters nor any file
// (checkpoint, best weights) ever takes the NaN or inf in; the last checkpoint written stays
// good for --resume with a lower learning rate or a clip.
// The data of a step is a pure function of (task seed, s), and the checkpoint holds
// the model, the optimizer, the step and the default generator (dropout), so a resumed run
// computes the same losses, bit for bit, as one that never stopped (same seed and threads).
//
// Every eval_every steps (and at the end, also when a run resumed at its last step has not
// validated that step yet) the metric is computed on the first eval_size validation sequences;
// with a target the loop stops once the validation metric reaches it (error_pct <= target,
// accuracy_pct >= target). Then the test metric on test_size sequences.
// Every checkpoint_every steps, at the end and on Ctrl-C (SIGINT sets a flag; the loop finishes
// the step, saves, and returns with interrupted = true) the checkpoint is written atomically.
// The CSV log has one row per evaluation: step, train_loss (mean since the previous row),
// the validation metric, seconds; the PNG plot draws those curves.
//
//   AddingTask task(1024, seed);
//   nn::ParamixerModel model(cfg);
//   optim::Adam opt(model.parameters(), 1e-3);
//   TrainerConfig tc;  tc.steps = 3000;  tc.batch = 40;  tc.clip = 1;  tc.target = 1.0;
//   TrainResult r = train(model, task, opt, tc);      // r.test_metric: % error on the test split
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "layers/module.h"
#include "optim/lr_schedule.h"
#include "optim/optimizer.h"

namespace pmx::apps {

enum class Split { Train = 0, Validation = 1, Test = 2 };

struct Batch {
  Tensor input;   // the model's input
  Tensor target;  // what task.loss and task.correct compare the output with
};

// error_pct: % of sequences predicted wrong (lower is better); accuracy_pct: % right.
enum class MetricKind { ErrorPct, AccuracyPct };
std::string metric_name(MetricKind kind);  // "error_pct" / "accuracy_pct"

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  // Sequences [first, first + count) of a split; a pure function of the arguments and the seed.
  virtual Batch batch(Split split, int64_t first, int64_t count) const = 0;
  virtual Tensor loss(const Tensor& output, const Tensor& target) const = 0;
  // How many of the batch's predictions are right.
  virtual int64_t correct(const Tensor& output, const Tensor& target) const = 0;
  virtual MetricKind metric_kind() const = 0;
};

struct TrainerConfig {
  int64_t steps = 1000;
  int64_t batch = 40;
  double clip = 1.0;             // <= 0: no clipping
  // Sets the learning rate before every step (0-based step index, a pure function of it, so
  // resume stays exact); null: the optimizer's rate is left alone.
  const optim::LRSchedule* schedule = nullptr;
  int64_t eval_every = 100;      // <= 0: evaluate only at the end
  int64_t eval_size = 1000;      // validation sequences per evaluation
  int64_t test_size = 2000;      // test sequences at the end (0: no test)
  int64_t eval_batch = 100;      // sequences per forward pass when evaluating
  double target = -1;            // stop when the validation metric reaches it; < 0: never
  // Wall-clock budget of this run's loop (<= 0: none). When it is used up, the step in flight
  // finishes, then validation, the checkpoint and the test run as at the last step, so a budget
  // stop ends like a finished run and --resume continues it.
  double max_seconds = 0;
  std::string checkpoint;        // "" : no checkpoints (and Ctrl-C just stops)
  int64_t checkpoint_every = 0;  // <= 0: only at the end and on Ctrl-C
  std::string resume;            // a checkpoint to continue from
  // Model selection: when set, the weights of the best validation metric so far are kept in this
  // file (weights only, written atomically at every improvement; its metadata names the step,
  // the metric and the run's `metadata`), and the test at the end runs on them instead of the
  // last weights. The main checkpoint records their step, metric and a digest of the weights, so
  // a resumed run carries on comparing against them. On resume the file must hold exactly those
  // weights (same digest): a file saved after the checkpoint (a crash between two checkpoint
  // saves, or a run resumed from it) or by another run is refused with an error naming both
  // steps, before anything is loaded, since testing it would report the wrong step. A missing
  // file: the best is kept afresh from the resumed step on (a note says so).
  std::string best_weights;
  // Strings stored in the checkpoint; on resume, every key here must have the same value in the
  // checkpoint (the app's model/task config), else the load is refused before touching anything.
  std::map<std::string, std::string> metadata;
  std::string log;               // CSV path ("" : none)
  std::string plot;              // PNG path ("" : none)
  bool progress = true;          // draw the progress line
  bool install_sigint = true;    // Ctrl-C handling (tests may drive it with request_stop())
  // Called after every step with (step, loss); tests use it to record losses or to interrupt.
  std::function<void(int64_t, double)> on_step;
};

struct HistoryRow {
  int64_t step;
  double train_loss, val_metric, seconds;
};

struct TrainResult {
  int64_t start_step = 0;       // the step the run resumed from (0: fresh)
  int64_t steps = 0;            // the last completed step
  double seconds = 0;           // wall time of this run's loop (including evaluations)
  double total_seconds = 0;     // including the time before a resume
  double last_loss = 0;
  double val_metric = -1;       // the last validation metric
  bool tested = false;          // the test ran (not with test_size == 0, nor after Ctrl-C)
  double test_metric = -1;      // on the test split (-1 when !tested)
  int64_t best_step = -1;       // with best_weights: the step the tested weights are from
  double best_val_metric = -1;  // and their validation metric
  bool reached_target = false;
  bool interrupted = false;
  bool stopped_by_budget = false;  // max_seconds ran out before steps
  std::vector<HistoryRow> history;
  std::string plot_written;     // the PNG path, if one was written
  std::string checkpoint_written;
};

// The loop described above. Throws pmx::Error for a bad config, an output path that cannot be
// written (checkpoint, best_weights, log, plot: checked before the first step, see
// check_output_path in report.h), two of them naming one file or one of them naming the resume
// file (other than checkpoint; check_distinct_outputs), or a missing, corrupt or mismatching
// checkpoint.
TrainResult train(nn::Module& model, const Task& task, optim::Optimizer& optimizer, const TrainerConfig& config);

// The metric of a split: sequences [0, size) in batches of eval_batch, eval mode, no graph.
double evaluate(nn::Module& model, const Task& task, Split split, int64_t size, int64_t eval_batch);

// What the SIGINT handler does; the loop checks it after every step. train() clears it on entry.
void request_stop();
bool stop_requested();

// The history as the text stored in checkpoints ("step,loss,metric,seconds;...") and back.
std::string history_to_string(const std::vector<HistoryRow>& rows);
std::vector<HistoryRow> history_from_string(const std::string& text);

}  // namespace pmx::apps
