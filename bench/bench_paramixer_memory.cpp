// bench_paramixer_memory: does a Paramixer training step at N = 32768, B = 16 fit in 8 GiB,
// with the f-MLP activations kept for backward and with them recomputed?
//
// Three ways of handling the hidden layers of the M f-MLPs (and g), each in its own process
// (this program re-runs itself with --mode <way>), so each peak RSS is that way's alone:
//   keep        one (B N, d) x (d, M h) GEMM + GELU whose (B N, M h) hidden layer and GELU
//               input are kept for backward (ParamixerBlock::chunked_f = false)
//   chunk       the default: the row-chunked op recomputes each 64-row chunk's hidden layer in
//               backward, so no (B N, M h) tensor ever exists (autograd/ops_factor_mlps.h)
//   checkpoint  each f_m a plain MLP under checkpoint(), recomputed in backward one factor at a
//               time (ParamixerConfig::recompute on the keeping path)
// Prints peak RSS, the allocator's peak of live tensor bytes, and the step time (the second
// step; the first pays the page faults).
//
//   ./build/bench/bench_paramixer_memory [--n 32768] [--batch 16] [--threads 2]
#include <pmx/pmx.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>

#include "bench/bench_args.h"

using namespace pmx;

namespace {

struct Way {
  const char* mode;
  const char* label;
};
constexpr Way kWays[] = {
    {"keep", "kept (one GEMM, hidden kept)"},
    {"chunk", "recomputed per chunk (default)"},
    {"checkpoint", "recomputed per factor (checkpoint)"},
};

int run_mode(const std::string& mode, int64_t n, int64_t batch) {
  nn::ParamixerConfig c;
  c.seq_len = n;
  c.input_features = 2;
  c.dim = 32;
  c.hidden = 32;
  c.recompute = mode == "checkpoint";
  manual_seed(0);
  nn::ParamixerModel model(c);
  if (mode != "chunk")
    for (auto& b : model.blocks) b->chunked_f = false;
  optim::Adam opt(model.parameters(), 1e-3);
  Tensor x = randn({batch, n, 2}), y = rand({batch, 1});
  double seconds = 0;
  for (int step = 0; step < 2; ++step) {
    Timer t;
    Tensor loss = mse_loss(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    seconds = t.seconds();
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  // Machine-readable line for the parent: peak RSS (KiB), allocator peak (bytes), step seconds.
  std::printf("%ld %zu %.4f\n", long(ru.ru_maxrss), CachingAllocator::instance().stats().peak_bytes_in_use, seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 32768, batch = 16;
  int threads = 2;
  std::string mode = "all";
  bench::ArgParser args("bench_paramixer_memory",
                        "Peak memory and time of a Paramixer training step, f-MLP hidden layers kept or recomputed.");
  args.add_int("--n", &n, 2, bench::kMaxSeqLen, "sequence length");
  args.add_int("--batch", &batch, 1, bench::kMaxBatch, "batch size");
  args.add_int("--threads", &threads, 1, bench::kMaxThreads, "threads");
  args.add_choice("--mode", &mode, {"all", "keep", "chunk", "checkpoint"},
                  "all: each way in a child process; one way: run it alone, print one line");
  args.parse(argc, argv);
  try {
    set_num_threads(threads);
    if (mode != "all") return run_mode(mode, n, batch);
    std::printf("Paramixer adding model (d = h = 32, L = 1, CHORD, FLATTEN), N = %ld, B = %ld, %d threads\n",
                long(n), long(batch), threads);
    std::printf("training step = forward + backward + Adam; f-MLP hidden layers:\n");
    std::printf("%-36s %14s %18s %10s\n", "", "peak RSS MiB", "peak tensors MiB", "step s");
    double rss[3] = {0, 0, 0}, secs[3] = {0, 0, 0};
    for (int w = 0; w < 3; ++w) {
      std::string cmd = std::string(argv[0]) + " --n " + std::to_string(n) + " --batch " + std::to_string(batch) +
                        " --threads " + std::to_string(threads) + " --mode " + kWays[w].mode;
      FILE* child = popen(cmd.c_str(), "r");
      long rss_kib = 0;
      size_t peak = 0;
      if (!child || std::fscanf(child, "%ld %zu %lf", &rss_kib, &peak, &secs[w]) != 3) {
        std::fprintf(stderr, "bench_paramixer_memory: child run failed: %s\n", cmd.c_str());
        return 1;
      }
      pclose(child);
      rss[w] = rss_kib / 1024.0;
      std::printf("%-36s %14.0f %18.0f %10.2f\n", kWays[w].label, rss[w], peak / 1048576.0, secs[w]);
    }
    std::printf("recomputed per chunk / kept: peak RSS %.2f, step time %.2f; per factor / kept: %.2f, %.2f\n",
                rss[1] / rss[0], secs[1] / secs[0], rss[2] / rss[0], secs[2] / secs[0]);
    std::printf("budget 8192 MiB:");
    for (int w = 0; w < 3; ++w) std::printf(" %s %s%s", kWays[w].mode, rss[w] <= 8192 ? "fits" : "does not fit", w < 2 ? "," : "\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_paramixer_memory: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
