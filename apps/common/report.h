// What a training run tells the person watching and the tools reading it afterwards:
// a one-line progress display, a CSV log of metrics, and a JSON summary of the final numbers.
//
//   Progress progress(total_steps);
//   progress.update(step, {{"loss", 0.41}, {"acc", 86.1}}, samples_per_second);  // \r line + ETA
//   CsvLog log("run.csv", {"step", "loss", "acc"});   log.row({10, 0.41, 86.1});
//   Summary s;  s.set("test_accuracy_pct", 87.2);  s.set("task", "fashion");  s.write("out.json");
#pragma once
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/timer.h"

namespace pmx::apps {

class Progress {
 public:
  // start_step: the step a resumed run starts after, so the rate and ETA count only this run's steps.
  explicit Progress(int64_t total_steps, bool interactive = true, int64_t start_step = 0);
  // Redraws the line: step/total, the metrics, samples/s and the time left.
  void update(int64_t step, const std::vector<std::pair<std::string, double>>& metrics, double samples_per_second);
  // Ends the line (so the next print starts on a fresh one).
  void finish();

 private:
  int64_t total_, start_;
  bool interactive_;
  Timer timer_;
  double last_print_ = -1;
};

class CsvLog {
 public:
  // An empty path disables logging. Throws pmx::Error if the file cannot be created.
  CsvLog(const std::string& path, const std::vector<std::string>& columns);
  ~CsvLog();
  // Appends a row and flushes it. A failed write (a full disk) prints one warning naming the
  // file and ends the log there, rather than stopping the run: the log is a by-product.
  void row(const std::vector<double>& values);
  // False once a write has failed (the log then lacks rows from that one on).
  bool ok() const { return ok_; }

 private:
  void check_written();
  std::FILE* file_ = nullptr;
  std::string path_;
  size_t columns_ = 0;
  bool ok_ = true;
};

class Summary {
 public:
  // Numbers as json_number writes them (NaN and infinity: null), strings escaped (json.h).
  void set(const std::string& key, double value);
  void set(const std::string& key, const std::string& value);
  // Raw JSON (an object or array) stored under key.
  void set_json(const std::string& key, const std::string& json);
  std::string to_json() const;
  // Written atomically (temp file + rename); throws pmx::Error naming the path on failure.
  void write(const std::string& path) const;

 private:
  std::vector<std::pair<std::string, std::string>> fields_;  // key -> JSON text
};

// Checks, before a long run, that an output file can be written at its end: `path` is not a
// folder, an existing file there is writable, and its folder exists and takes a new file (probed
// by creating a uniquely named empty file beside `path` and removing it at once). Throws
// pmx::Error "<what>: cannot write <path>: <why>" (what: the flag, say "--plot"). An empty path
// (output off) passes. Writes can still fail later (a full disk); then the write itself throws.
void check_output_path(const std::string& what, const std::string& path);

// Refuses two outputs of one run that name the same file, where one would silently replace the
// other (a --plot equal to --checkpoint left a PNG where the checkpoint had been). `outputs` are
// (what, path) pairs, what as in check_output_path; empty paths (off) are skipped. Paths are
// compared as files: "a", "./a" and a symlink to it are one. Throws pmx::Error naming both and
// the path.
void check_distinct_outputs(const std::vector<std::pair<std::string, std::string>>& outputs);

// What a run checks of its outputs before it starts: each can be written (check_output_path),
// no two name one file, and none but the one called `checkpoint` is the `resume` file (what,
// path; empty: not resuming). Resuming from the checkpoint the run goes on saving is the usual
// case; any other output written there would destroy the checkpoint the run continues from.
void check_run_outputs(const std::vector<std::pair<std::string, std::string>>& outputs,
                       const std::pair<std::string, std::string>& resume = {}, const std::string& checkpoint = "");

// "1m23s" style durations for the progress line.
std::string format_duration(double seconds);

// On a CPU with AVX2 where OpenBLAS runs kernels without FMA (its Prescott fallback for a CPU it
// does not know: kernels/blas.h), prints one line saying so and how to pick its kernels, since
// dense layers then run at a fraction of the CPU's speed. Prints nothing elsewhere. The apps call
// it for the Transformer and the MLP; Paramixer's step hardly changes (its f-MLPs run on pmx's
// own kernels).
void note_blas_kernels();

}  // namespace pmx::apps
