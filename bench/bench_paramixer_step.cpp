// bench_paramixer_step: one configuration of the adding-problem Paramixer (d = h = 32, input
// Linear(2, d), FLATTEN head, MSE, Adam), timed as a training step (forward, backward, Adam) and as
// a forward pass (no graph), in this process only, so the peak RSS is this configuration's.
// Prints one JSON object on stdout (bench/run_benchmarks.sh collects them).
//
// FLOPs (per sample; the mixing's as in docs/MIXER.md "Cost"): per block f-MLPs 2 M N (d h + h K), g 4 N d h, mixing
// 2 M N K d; input layer 2 N 2 d, head 2 N d. A training step counts 3x the forward (backward
// of a GEMM or of the mixing step is two products of the forward's size); GELU, the loss and
// Adam are not counted.
//
//   bench_paramixer_step --n 4096 --batch 16 --layers 1 --protocol chord --threads 1 --reps 5
//   bench_paramixer_step --peaks --threads 1        # bandwidth and FMA peak as JSON
//   bench_paramixer_step --n 64 --batch 3 --save-check /tmp/chk  # weights + io for torch_paramixer.py
//   options: --fused 0|1 (f-MLP path), --recompute 0|1 (checkpoint the f-MLPs; only with --fused 0,
//   since the default fused path keeps no hidden layer), --mode both|train|forward, --warmup 1
#include <pmx/pmx.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "bench/adding_model.h"
#include "bench/bench_args.h"
#include "bench/machine_peaks.h"
#include "bench/timing_stats.h"

using namespace pmx;

namespace {

struct Args {
  int64_t n = 1024, batch = 16, layers = 1;
  std::string protocol = "chord", mode = "both", save_check;
  int threads = 1, reps = 5, warmup = 1, fused = -1, recompute = 0;
  bool peaks = false;
};

// CPU seconds of this process (all threads): on a loaded shared machine wall time includes
// time spent waiting for a core, CPU time does not.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double forward_flops(const nn::ParamixerModel& model, int64_t batch) {
  const double N = model.config.seq_len, d = model.config.dim, h = model.config.hidden;
  double per_sample = 2 * N * 2 * d + 2 * N * d;  // input layer, head
  for (const auto& blk : model.blocks) {
    const double M = blk->num_factors, K = blk->links;
    per_sample += 2 * M * N * (d * h + h * K) + 4 * N * d * h + 2 * M * N * K * d;
  }
  return per_sample * batch;
}

int run_peaks(const Args& a) {
  set_num_threads(a.threads);
  double gbs = bench::stream_gbs(long(1) << 24), gf = bench::peak_fma_gflops();
  std::printf("{\"threads\": %d, \"bandwidth_gbs\": %.2f, \"peak_gflops\": %.2f, \"load\": \"%s\"}\n", a.threads,
              gbs, gf, bench::load_average().c_str());
  return 0;
}

// Weights, input, output, loss and every gradient, for bench/torch_paramixer.py --check.
int save_check(nn::ParamixerModel& model, const Tensor& x, const Tensor& y, const std::string& dir) {
  optim::save_weights(dir + "/weights.safetensors", model);
  Tensor out = model(x);
  Tensor loss = mse_loss(out, y);
  model.zero_grad();
  loss.backward();
  std::map<std::string, Tensor> io{{"input", x}, {"target", y}, {"output", out.detach()}, {"loss", loss.detach()}};
  for (auto& [name, p] : model.named_parameters()) io["grad." + name] = p.grad();
  save_safetensors(dir + "/io.safetensors", io);
  std::printf("{\"saved\": \"%s\"}\n", dir.c_str());
  return 0;
}

int run(const Args& a) {
  if (a.peaks) return run_peaks(a);
  set_num_threads(a.threads);
  nn::ParamixerConfig c = bench::adding_model_config(a.n, a.layers, a.protocol);
  c.recompute = a.recompute != 0;
  manual_seed(0);
  nn::ParamixerModel model(c);
  if (a.fused >= 0) model.set_fused_f(a.fused != 0);
  Tensor x, y;
  bench::adding_batch(a.batch, a.n, &x, &y);
  if (!a.save_check.empty()) return save_check(model, x, y, a.save_check);
  optim::Adam opt(model.parameters(), 1e-3);

  std::vector<double> train_ms, fwd_ms, train_cpu_ms;
  double rss_after_train = 0;
  if (a.mode != "forward") {
    for (int s = 0; s < a.warmup + a.reps; ++s) {
      Timer t;
      double c = cpu_seconds();
      Tensor loss = mse_loss(model(x), y);
      opt.zero_grad();
      loss.backward();
      opt.step();
      if (s >= a.warmup) {
        train_ms.push_back(t.milliseconds());
        train_cpu_ms.push_back((cpu_seconds() - c) * 1e3);
      }
    }
    rss_after_train = bench::peak_rss_mib();
  }
  if (a.mode != "train") {
    NoGradGuard no_grad;
    for (int s = 0; s < a.warmup + a.reps; ++s) {
      Timer t;
      Tensor out = model(x);
      if (s >= a.warmup) fwd_ms.push_back(t.milliseconds());
    }
  }
  const double flops = forward_flops(model, a.batch);
  std::printf("{\"impl\": \"pmx\", \"n\": %ld, \"batch\": %ld, \"layers\": %ld, \"protocol\": \"%s\", "
              "\"threads\": %d, \"reps\": %d, \"params\": %ld, \"fwd_flops\": %.6g, "
              "\"train_ms\": %.3f, \"train_ms_min\": %.3f, \"train_cpu_ms\": %.3f, \"fwd_ms\": %.3f, \"fwd_ms_min\": %.3f, "
              "\"rss_train_mib\": %.1f, \"rss_mib\": %.1f, \"load\": \"%s\"}\n",
              long(a.n), long(a.batch), long(a.layers), a.protocol.c_str(), a.threads, a.reps,
              long(model.num_parameters()), flops, bench::median(train_ms), bench::minimum(train_ms),
              bench::median(train_cpu_ms), bench::median(fwd_ms), bench::minimum(fwd_ms), rss_after_train,
              bench::peak_rss_mib(), bench::load_average().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  bench::ArgParser args("bench_paramixer_step",
                        "One configuration of the adding-problem Paramixer, timed; prints one JSON object.");
  args.add_int("--n", &a.n, 2, bench::kMaxSeqLen, "sequence length");
  args.add_int("--batch", &a.batch, 1, bench::kMaxBatch, "batch size");
  args.add_int("--layers", &a.layers, 1, bench::kMaxLayers, "Paramixer blocks");
  args.add_choice("--protocol", &a.protocol, {"chord", "cdil"}, "mixing protocol");
  args.add_int("--threads", &a.threads, 1, bench::kMaxThreads, "threads");
  args.add_int("--reps", &a.reps, 1, bench::kMaxReps, "timed steps, median and minimum printed");
  args.add_int("--warmup", &a.warmup, 0, bench::kMaxReps, "untimed steps first");
  args.add_choice("--mode", &a.mode, {"both", "train", "forward"}, "what to time");
  args.add_int("--fused", &a.fused, -1, 1, "f-MLP path: 1 fused, 0 one MLP per factor, -1 the model's choice");
  args.add_int("--recompute", &a.recompute, 0, 1, "1: checkpoint the f-MLPs, with --fused 0 only");
  args.add_string("--save-check", &a.save_check, "DIR",
                  "save weights and io for torch_paramixer.py --check, then exit");
  args.add_switch("--peaks", &a.peaks, "print the bandwidth and FMA peak as JSON, then exit");
  args.parse(argc, argv);
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_paramixer_step: error: %s\n", e.what());
    return 1;
  }
}
