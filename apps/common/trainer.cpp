#include "apps/common/trainer.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <sstream>

#include "apps/common/plot.h"
#include "apps/common/report.h"
#include "apps/datasets/token_dataset.h"
#include "autograd/node.h"
#include "core/error.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "core/timer.h"
#include "optim/checkpoint.h"
#include "optim/clip_grad.h"

namespace pmx::apps {

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_sigint(int) {
  g_stop = 1;
  // A second Ctrl-C kills the process the usual way, in case a step hangs.
  std::signal(SIGINT, SIG_DFL);
}

// Installs the handler for the loop's lifetime and puts the previous one back afterwards.
class SigintScope {
 public:
  explicit SigintScope(bool on) : on_(on) {
    if (on_) previous_ = std::signal(SIGINT, on_sigint);
  }
  ~SigintScope() {
    if (on_) std::signal(SIGINT, previous_ == SIG_ERR ? SIG_DFL : previous_);
  }

 private:
  bool on_;
  void (*previous_)(int) = SIG_DFL;
};

bool better(MetricKind kind, double metric, double than) {
  return kind == MetricKind::ErrorPct ? metric < than : metric > than;
}

bool reached(MetricKind kind, double metric, double target) {
  if (target < 0) return false;
  return kind == MetricKind::ErrorPct ? metric <= target : metric >= target;
}

// Reads the checkpoint's metadata (and its step) first, so a mismatching config is refused before
// load_checkpoint overwrites anything.
std::map<std::string, std::string> checked_metadata(const std::string& path,
                                                    const std::map<std::string, std::string>& expected,
                                                    int64_t* step) {
  std::map<std::string, std::string> meta;
  std::map<std::string, Tensor> tensors = load_safetensors(path, &meta);
  auto s = tensors.find("step");
  *step = s != tensors.end() && s->second.numel() == 1 ? int64_t(s->second.item()) : 0;
  for (const auto& [key, value] : expected) {
    auto it = meta.find(key);
    PMX_CHECK(it != meta.end(), "[train] checkpoint ", path, " has no '", key, "' entry; it was not written by this "
              "app");
    PMX_CHECK(it->second == value, "[train] checkpoint ", path, " was trained with a different ", key,
              ":\n  checkpoint: ", it->second, "\n  this run:   ", value);
  }
  return meta;
}

// A number the trainer wrote into the checkpoint (0 when absent), read back strictly: the whole
// text must be a finite number, an integer within [min, 2^53] when `integer` is set. A hand-edited
// "1e300" step would otherwise be converted to int64 out of range (undefined behaviour).
double metadata_number(const std::map<std::string, std::string>& meta, const std::string& key,
                       const std::string& path, bool integer = false, double min = 0) {
  auto it = meta.find(key);
  if (it == meta.end()) return 0.0;
  const char* text = it->second.c_str();
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  const bool ok = end != text && *end == '\0' && std::isfinite(value) &&
                  (!integer || (value == std::floor(value) && value >= min && value <= 9007199254740992.0));
  PMX_CHECK(ok, "[train] checkpoint ", path, ": its '", key, "' entry is '", it->second, "', not ",
            integer ? "an integer from " + std::to_string(long(min)) + " to 2^53" : std::string("a finite number"));
  return value;
}

// What identifies a set of weights: FNV-1a 64 over every tensor's name, dtype, shape and bytes, in
// name order, as 16 hex digits. The checkpoint records it for the best weights, so a resumed run
// can prove that the --best-weights file holds exactly those.
std::string weights_digest(const std::map<std::string, Tensor>& tensors) {
  uint64_t h = kContentHashStart;
  auto mix = [&h](const void* data, size_t bytes) { h = content_hash(data, bytes, h); };
  for (const auto& [name, tensor] : tensors) {
    const Tensor t = tensor.detach().contiguous();
    const int64_t head[2] = {int64_t(t.dtype()), t.dim()};
    mix(name.c_str(), name.size() + 1);
    mix(head, sizeof head);
    mix(t.shape().data(), t.shape().size() * sizeof(int64_t));
    if (t.numel() == 0) continue;
    const void* bytes = t.dtype() == DType::Float32   ? static_cast<const void*>(t.data<float>())
                        : t.dtype() == DType::Float64 ? static_cast<const void*>(t.data<double>())
                                                      : static_cast<const void*>(t.data<int64_t>());
    mix(bytes, size_t(t.numel()) * dtype_size(t.dtype()));
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// On --resume with best_weights: the checkpoint says which weights were the best (step, metric,
// digest). The file must hold exactly those, or the final test would run on other weights than
// the step it reports (a file saved after the checkpoint by a run that then crashed, or one of
// another run). A mismatch is refused, naming both, before anything is loaded; a missing file
// means the best is kept afresh from the resumed step on (said so). Returns the best step
// carried on (-1: none).
int64_t check_best_weights(const TrainerConfig& config, const std::map<std::string, std::string>& meta,
                           int64_t checkpoint_step, std::string* digest) {
  const int64_t best_step =
      meta.count("best_step") ? int64_t(metadata_number(meta, "best_step", config.resume, true, -1)) : -1;
  if (config.best_weights.empty() || best_step < 0) return -1;
  const std::string& path = config.best_weights;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    std::printf("note: the best weights of checkpoint %s (step %ld) are not at %s; the best is kept afresh from "
                "step %ld on\n", config.resume.c_str(), long(best_step), path.c_str(), long(checkpoint_step));
    return -1;
  }
  std::map<std::string, std::string> file_meta;
  const std::string found = weights_digest(load_safetensors(path, &file_meta));
  auto expected = meta.find("best_weights_digest");
  if (expected != meta.end() && expected->second == found) {
    *digest = found;
    return best_step;
  }
  std::string holds = "weights without a pmx best-weights record (saved by another program or an older pmx)";
  auto step = file_meta.find("best_step");
  if (step != file_meta.end()) {
    const bool same_config = std::all_of(config.metadata.begin(), config.metadata.end(), [&](const auto& kv) {
      auto f = file_meta.find(kv.first);
      return f != file_meta.end() && f->second == kv.second;
    });
    const bool later = std::strtoll(step->second.c_str(), nullptr, 10) > checkpoint_step;
    holds = "the weights of step " + step->second +
            (!same_config ? " of a run with another config"
             : later      ? " of this config, saved after this checkpoint (by a run resumed from it, or by one "
                            "that crashed before its next checkpoint)"
                          : " of another run with this config");
  }
  throw Error(detail::concat(
      "[train] the best-weights file ", path, " does not hold the weights that checkpoint ", config.resume,
      " recorded as its best (step ", best_step, "): it holds ", holds,
      expected == meta.end() ? "; the checkpoint, from an older pmx, records no digest to check it by" : "",
      ". Testing it would report the wrong step. Move the file away (the best is then kept afresh from step ",
      checkpoint_step, " on), pass another --best-weights path, or resume from the checkpoint saved with it."));
}

// The running loss sum since the last evaluation travels too, so a run resumed between two
// evaluations logs the same interval means as one that never stopped.
void save(const std::string& path, const nn::Module& model, const optim::Optimizer& opt, int64_t step,
          const TrainerConfig& config, const TrainResult& result, const std::string& best_digest, double seconds,
          double loss_sum, int64_t loss_count) {
  optim::CheckpointExtra extra{step, default_generator().state(), config.metadata};
  char sum[40], best[40];
  std::snprintf(sum, sizeof sum, "%.17g", loss_sum);
  std::snprintf(best, sizeof best, "%.17g", result.best_val_metric);
  extra.metadata["history"] = history_to_string(result.history);
  extra.metadata["best_step"] = std::to_string(result.best_step);
  extra.metadata["best_val_metric"] = best;
  if (!best_digest.empty()) extra.metadata["best_weights_digest"] = best_digest;
  extra.metadata["seconds"] = std::to_string(seconds);
  extra.metadata["loss_sum"] = sum;
  extra.metadata["loss_count"] = std::to_string(loss_count);
  optim::save_checkpoint(path, model, opt, extra);
}

void write_plot(const std::string& path, const std::vector<HistoryRow>& history, MetricKind kind,
                TrainResult& result) {
  std::string what = kind == MetricKind::ErrorPct ? "error" : "accuracy";
  Curve loss{"train loss (mean per interval)", {}, {}}, metric{"validation " + what + " %", {}, {}};
  for (const HistoryRow& r : history) {
    loss.x.push_back(double(r.step)), loss.y.push_back(r.train_loss);
    metric.x.push_back(double(r.step)), metric.y.push_back(r.val_metric);
  }
  write_curves_png(path, {Panel{"train loss (log scale)", true, {loss}},
                          Panel{"validation " + what + " (%)", false, {metric}}});
  result.plot_written = path;
}

}  // namespace

std::string metric_name(MetricKind kind) { return kind == MetricKind::ErrorPct ? "error_pct" : "accuracy_pct"; }

void request_stop() { g_stop = 1; }
bool stop_requested() { return g_stop != 0; }

std::string history_to_string(const std::vector<HistoryRow>& rows) {
  std::string out;
  char buf[128];
  for (const HistoryRow& r : rows) {
    std::snprintf(buf, sizeof buf, "%s%ld,%.17g,%.17g,%.17g", out.empty() ? "" : ";", long(r.step), r.train_loss,
                  r.val_metric, r.seconds);
    out += buf;
  }
  return out;
}

std::vector<HistoryRow> history_from_string(const std::string& text) {
  std::vector<HistoryRow> rows;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ';')) {
    HistoryRow r{};
    long step = 0;
    PMX_CHECK(std::sscanf(item.c_str(), "%ld,%lf,%lf,%lf", &step, &r.train_loss, &r.val_metric, &r.seconds) == 4,
              "[train] malformed history entry '", item, "' in the checkpoint");
    r.step = step;
    rows.push_back(r);
  }
  return rows;
}

// Stops a diverged run before its NaN or inf reaches the parameters or a file.
void check_finite(const char* what, double value, int64_t step, const TrainerConfig& config) {
  PMX_CHECK(std::isfinite(value), "[train] the ", what, " is ", value, " at step ", step, ": the run diverged. The parameters were not ",
            "updated with it", config.checkpoint.empty() ? "" : " and the last checkpoint written is left as it was",
            "; try a lower --lr", config.clip > 0 ? "" : " or --clip 1");
}

double evaluate(nn::Module& model, const Task& task, Split split, int64_t size, int64_t eval_batch) {
  PMX_CHECK(size >= 1 && eval_batch >= 1, "[evaluate] size and eval_batch must be >= 1, got ", size, " and ",
            eval_batch);
  NoGradGuard no_grad;
  bool was_training = model.is_training();
  model.eval();
  int64_t ok = 0;
  for (int64_t first = 0; first < size; first += eval_batch) {
    Batch b = task.batch(split, first, std::min(eval_batch, size - first));
    ok += task.correct(model(b.input), b.target);
  }
  model.train(was_training);
  double accuracy = 100.0 * double(ok) / double(size);
  return task.metric_kind() == MetricKind::ErrorPct ? 100.0 - accuracy : accuracy;
}

TrainResult train(nn::Module& model, const Task& task, optim::Optimizer& optimizer, const TrainerConfig& config) {
  PMX_CHECK(config.steps >= 1 && config.batch >= 1 && config.eval_size >= 1 && config.eval_batch >= 1 &&
                config.test_size >= 0,
            "[train] need steps, batch, eval_size, eval_batch >= 1 and test_size >= 0, got steps ", config.steps,
            ", batch ", config.batch, ", eval_size ", config.eval_size, ", eval_batch ", config.eval_batch,
            ", test_size ", config.test_size);
  // Every file the run writes at its end is checked now, so a bad path cannot cost the run.
  check_run_outputs({{"[train] checkpoint", config.checkpoint},
                     {"[train] best weights", config.best_weights},
                     {"[train] log", config.log},
                     {"[train] plot", config.plot}},
                    {"[train] resume", config.resume}, "[train] checkpoint");
  g_stop = 0;
  TrainResult result;
  const MetricKind kind = task.metric_kind();
  const std::string mname = "val_" + metric_name(kind);
  double prior_seconds = 0, loss_sum = 0;
  int64_t loss_count = 0;
  std::string best_digest;  // of the weights in config.best_weights, once written or checked
  if (!config.resume.empty()) {
    int64_t checkpoint_step = 0;
    std::map<std::string, std::string> meta = checked_metadata(config.resume, config.metadata, &checkpoint_step);
    // Every entry is read before anything is loaded: a bad one leaves the model and optimizer as they were.
    result.history = history_from_string(meta.count("history") ? meta.at("history") : "");
    prior_seconds = metadata_number(meta, "seconds", config.resume);
    loss_sum = metadata_number(meta, "loss_sum", config.resume);
    loss_count = int64_t(metadata_number(meta, "loss_count", config.resume, true));
    const double best_val_metric = metadata_number(meta, "best_val_metric", config.resume);
    const int64_t carried_best = check_best_weights(config, meta, checkpoint_step, &best_digest);
    optim::CheckpointExtra extra = optim::load_checkpoint(config.resume, model, optimizer);
    result.start_step = extra.step;
    if (carried_best >= 0) {
      result.best_step = carried_best;
      result.best_val_metric = best_val_metric;
    }
    PMX_CHECK(extra.step <= config.steps, "[train] checkpoint ", config.resume, " is at step ", extra.step,
              ", past --steps ", config.steps);
    std::printf("resumed from %s at step %ld\n", config.resume.c_str(), long(extra.step));
  }
  result.steps = result.start_step;
  if (!result.history.empty()) result.val_metric = result.history.back().val_metric;

  CsvLog log(config.log, {"step", "train_loss", mname, "seconds"});
  for (const HistoryRow& r : result.history) log.row({double(r.step), r.train_loss, r.val_metric, r.seconds});

  SigintScope sigint(config.install_sigint);
  Progress progress(config.steps, config.progress, result.start_step);
  Timer timer;
  bool saved_now = false;
  // The validation of the weights after `step`: a history and log row, the target, the best weights.
  auto validate = [&](int64_t step) {
    result.val_metric = evaluate(model, task, Split::Validation, config.eval_size, config.eval_batch);
    HistoryRow row{step, loss_sum / double(loss_count), result.val_metric, prior_seconds + timer.seconds()};
    result.history.push_back(row);
    log.row({double(row.step), row.train_loss, row.val_metric, row.seconds});
    loss_sum = 0, loss_count = 0;
    result.reached_target = reached(kind, result.val_metric, config.target);
    if (!config.best_weights.empty() &&
        (result.best_step < 0 || better(kind, result.val_metric, result.best_val_metric))) {
      // The file names its step and run; the checkpoint records its digest (check_best_weights).
      std::map<std::string, std::string> meta = config.metadata;
      char metric[40];
      std::snprintf(metric, sizeof metric, "%.17g", result.val_metric);
      meta["best_step"] = std::to_string(step);
      meta["best_val_metric"] = metric;
      optim::save_weights(config.best_weights, model, meta);
      best_digest = weights_digest(model.state_dict());
      result.best_step = step, result.best_val_metric = result.val_metric;
    }
  };
  model.train();
  for (int64_t step = result.start_step + 1; step <= config.steps; ++step) {
    if (config.schedule) config.schedule->apply(optimizer, step - 1);
    Batch b = task.batch(Split::Train, (step - 1) * config.batch, config.batch);
    Tensor loss = task.loss(model(b.input), b.target);
    result.last_loss = loss.item();
    check_finite("training loss", result.last_loss, step, config);
    optimizer.zero_grad();
    loss.backward();
    // The norm is computed even without clipping (an infinite max_norm scales nothing): an inf
    // or NaN gradient would otherwise reach the parameters, and the next checkpoint, unseen.
    const double grad_norm = optim::clip_grad_norm_(optimizer.params(), config.clip > 0 ? config.clip : INFINITY);
    check_finite("gradient norm", grad_norm, step, config);
    optimizer.step();
    // A finite gradient can still overflow the update (a huge --lr): the new weights are checked
    // before anything evaluates or saves them.
    PMX_CHECK(std::isfinite(optim::global_norm(optimizer.params())), "[train] the parameters are no longer finite "
              "after the update of step ", step, ": the run diverged",
              config.checkpoint.empty() ? "" : "; the last checkpoint written is left as it was", "; try a lower --lr");
    result.steps = step;
    loss_sum += result.last_loss, ++loss_count;
    saved_now = false;
    if (config.on_step) config.on_step(step, result.last_loss);

    const bool out_of_time = config.max_seconds > 0 && timer.seconds() >= config.max_seconds;
    bool last = step == config.steps || out_of_time;
    if ((config.eval_every > 0 && step % config.eval_every == 0) || last) validate(step);
    double sps = double(step - result.start_step) * double(config.batch) / std::max(timer.seconds(), 1e-9);
    if (config.progress) progress.update(step, {{"loss", result.last_loss}, {mname, result.val_metric}}, sps);
    if (!config.checkpoint.empty() && config.checkpoint_every > 0 && step % config.checkpoint_every == 0) {
      save(config.checkpoint, model, optimizer, step, config, result, best_digest, prior_seconds + timer.seconds(),
           loss_sum, loss_count);
      saved_now = true;
    }
    if (stop_requested()) {
      result.interrupted = true;
      break;
    }
    if (result.reached_target) break;
    if (out_of_time && step < config.steps) {
      result.stopped_by_budget = true;
      break;
    }
  }
  if (config.progress) progress.finish();
  // A run resumed at its last step (stopped by Ctrl-C, resumed with --steps at its step) ran no
  // step here, so its weights were never validated: the test would be reported beside -1 or an
  // earlier step's metric. Validate them now, as a last step does, and save that in the checkpoint.
  const bool validated_at_end = result.steps == result.start_step && !result.interrupted &&
                                (result.history.empty() || result.history.back().step != result.steps);
  if (validated_at_end) validate(result.steps);
  result.seconds = timer.seconds();
  result.total_seconds = prior_seconds + result.seconds;
  const bool changed = result.steps > result.start_step || validated_at_end;
  if (!config.checkpoint.empty() && changed && !saved_now) {
    save(config.checkpoint, model, optimizer, result.steps, config, result, best_digest, result.total_seconds,
         loss_sum, loss_count);
  }
  if (!config.checkpoint.empty() && changed) result.checkpoint_written = config.checkpoint;
  if (result.interrupted) {
    if (config.checkpoint.empty()) std::printf("interrupted at step %ld (no --checkpoint path, nothing saved)\n",
                                               long(result.steps));
    else std::printf("interrupted at step %ld: checkpoint saved to %s (continue with --resume %s)\n",
                     long(result.steps), config.checkpoint.c_str(), config.checkpoint.c_str());
  } else if (config.test_size > 0) {
    // With best_weights, the model is left holding the best weights (the checkpoint above keeps
    // the last ones, for --resume).
    if (result.best_step >= 0) optim::load_weights(config.best_weights, model);
    result.test_metric = evaluate(model, task, Split::Test, config.test_size, config.eval_batch);
    result.tested = true;
  }
  if (!config.plot.empty()) write_plot(config.plot, result.history, kind, result);
  return result;
}

}  // namespace pmx::apps
