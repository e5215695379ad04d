// bench_paramixer_memory: does a Paramixer training step at N = 32768, B = 16 fit in 8 GiB,
// with and without recomputing the f-MLP activations in backward?
//
// Each mode runs in its own process (this program re-runs itself with --mode), so each peak
// RSS is that mode's alone. Prints peak RSS, the allocator's peak of live tensor bytes, and
// the step time (the second step; the first pays the page faults).
//
//   ./build/bench/bench_paramixer_memory [--n 32768] [--batch 16] [--threads 2]
#include <pmx/pmx.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace pmx;

static int run_mode(bool recompute, int64_t n, int64_t batch) {
  nn::ParamixerConfig c;
  c.seq_len = n;
  c.input_features = 2;
  c.dim = 32;
  c.hidden = 32;
  c.recompute = recompute;
  manual_seed(0);
  nn::ParamixerModel model(c);
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

int main(int argc, char** argv) {
  int64_t n = 32768, batch = 16;
  int threads = 2;
  const char* mode = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("usage: bench_paramixer_memory [--n 32768] [--batch 16] [--threads 2]\n");
      return 0;
    }
    if (i + 1 >= argc) break;
    if (!std::strcmp(argv[i], "--n")) n = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--batch")) batch = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--mode")) mode = argv[++i];
  }
  try {
    set_num_threads(threads);
    if (mode) return run_mode(!std::strcmp(mode, "recompute"), n, batch);
    std::printf("Paramixer adding model (d = h = 32, L = 1, CHORD, FLATTEN), N = %ld, B = %ld, %d threads\n",
                long(n), long(batch), threads);
    std::printf("training step = forward + backward + Adam\n");
    std::printf("%-28s %14s %18s %10s\n", "mode", "peak RSS MiB", "peak tensors MiB", "step s");
    double rss[2] = {0, 0};
    for (int recompute = 0; recompute < 2; ++recompute) {
      std::string cmd = std::string(argv[0]) + " --n " + std::to_string(n) + " --batch " + std::to_string(batch) +
                        " --threads " + std::to_string(threads) + " --mode " + (recompute ? "recompute" : "store");
      FILE* child = popen(cmd.c_str(), "r");
      long rss_kib = 0;
      size_t peak = 0;
      double secs = 0;
      if (!child || std::fscanf(child, "%ld %zu %lf", &rss_kib, &peak, &secs) != 3) {
        std::fprintf(stderr, "bench_paramixer_memory: child run failed: %s\n", cmd.c_str());
        return 1;
      }
      pclose(child);
      rss[recompute] = rss_kib / 1024.0;
      std::printf("%-28s %14.0f %18.0f %10.2f\n", recompute ? "recompute f-MLP activations" : "store all activations",
                  rss_kib / 1024.0, peak / 1048576.0, secs);
    }
    std::printf("recompute / store peak RSS: %.2f; budget 8192 MiB: %s\n", rss[1] / rss[0],
                rss[0] <= 8192 && rss[1] <= 8192 ? "both fit" : (rss[1] <= 8192 ? "recompute fits" : "neither fits"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_paramixer_memory: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
