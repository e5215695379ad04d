// bench_allocator: what the caching allocator saves. Times a training step of the Paramixer
// adding model (N = 4096, B = 16) with buffer caching on and off, in the same run. With caching
// off every activation is a fresh allocation that page-faults on first touch.
//
//   ./build/bench/bench_allocator [--n 4096] [--batch 16] [--threads 2] [--reps 5]
#include <pmx/pmx.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench/bench_args.h"

using namespace pmx;

int main(int argc, char** argv) {
  int64_t n = 4096, batch = 16;
  int threads = 2, reps = 5;
  bench::ArgParser args("bench_allocator", "A Paramixer training step with the caching allocator on and off.");
  args.add_int("--n", &n, 2, bench::kMaxSeqLen, "sequence length");
  args.add_int("--batch", &batch, 1, bench::kMaxBatch, "batch size");
  args.add_int("--threads", &threads, 1, bench::kMaxThreads, "threads");
  args.add_int("--reps", &reps, 1, bench::kMaxReps, "timed steps per mode, median printed");
  args.parse(argc, argv);
  set_num_threads(threads);
  nn::ParamixerConfig c;
  c.seq_len = n;
  c.input_features = 2;
  manual_seed(0);
  nn::ParamixerModel model(c);
  optim::Adam opt(model.parameters(), 1e-3);
  Tensor x = randn({batch, n, 2}), y = rand({batch, 1});
  auto step = [&] {
    Tensor loss = mse_loss(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  };
  auto& alloc = CachingAllocator::instance();
  std::printf("Paramixer adding model training step, N = %ld, B = %ld, %d threads, median of %d\n", long(n),
              long(batch), threads, reps);
  std::vector<double> cached, uncached;
  step();  // warm-up: fills the cache and Adam's state
  for (int r = 0; r < reps; ++r) {  // interleaved, so both modes see the same machine noise
    alloc.set_caching(true);
    step();  // refill the cache emptied by the uncached run
    Timer t1;
    step();
    cached.push_back(t1.milliseconds());
    alloc.set_caching(false);
    Timer t2;
    step();
    uncached.push_back(t2.milliseconds());
  }
  alloc.set_caching(true);
  std::sort(cached.begin(), cached.end());
  std::sort(uncached.begin(), uncached.end());
  double a = cached[cached.size() / 2], b = uncached[uncached.size() / 2];
  std::printf("caching allocator: %8.1f ms/step\n", a);
  std::printf("malloc/free each:  %8.1f ms/step\n", b);
  std::printf("uncached / cached: %.2fx\n", b / a);
  return 0;
}
