// bench_linear: is pmx's Linear free of overhead? Times forward + backward of pmx::nn::Linear
// (bias included, gradients for input, weight and bias) against the bare kernels::gemm calls the
// same math needs (y = x W^T, dx = dy W, dW = dy^T x), in the same run, and prints the ratio.
// (kernels::gemm is one cblas_sgemm call, or for these skinny shapes pmx's split of it into
// single-threaded calls side by side: kernels/blas.cpp.)
//
//   ./build/bench/bench_linear [--threads 1] [--reps 30]
#include <pmx/pmx.h>

#include <cstdio>
#include <vector>

#include "bench/bench_args.h"
#include "bench/timing_stats.h"
#include "kernels/blas.h"

using namespace pmx;

int main(int argc, char** argv) {
  int threads = 1, reps = 30;
  bench::ArgParser args("bench_linear",
                        "Linear forward+backward against the bare kernels::gemm calls it needs, as a ratio.");
  args.add_int("--threads", &threads, 1, bench::kMaxThreads, "threads");
  args.add_int("--reps", &reps, 1, bench::kMaxReps, "timed repetitions per shape, median printed");
  args.parse(argc, argv);
  set_num_threads(threads);
  std::printf("Linear forward+backward vs bare kernels::gemm, %d thread(s), median of %d\n", threads, reps);
  std::printf("%-22s %10s %10s %8s\n", "shape", "pmx ms", "gemm ms", "ratio");
  struct Case { int64_t rows, in, out; };
  for (Case c : {Case{65536, 32, 32}, Case{4096, 512, 512}}) {
    manual_seed(0);
    nn::Linear layer(c.in, c.out);
    Tensor x = randn({c.rows, c.in}).set_requires_grad(true);
    Tensor dy = randn({c.rows, c.out});
    Tensor w = layer.parameters()[0];
    // Buffers for the bare version, touched once so no page faults are timed.
    std::vector<float> y(c.rows * c.out, 0.f), dx(c.rows * c.in, 0.f), dw(c.out * c.in, 0.f);
    auto run_pmx = [&] {
      layer.zero_grad();
      x.set_grad(Tensor());
      Tensor out = layer(x);
      out.backward(dy);
    };
    auto run_bare = [&] {
      const float* X = x.data<float>();
      const float* W = w.data<float>();
      const float* DY = dy.data<float>();
      kernels::gemm(false, true, c.rows, c.out, c.in, 1.f, X, c.in, W, c.in, 0.f, y.data(), c.out);
      kernels::gemm(false, false, c.rows, c.in, c.out, 1.f, DY, c.out, W, c.in, 0.f, dx.data(), c.in);
      kernels::gemm(true, false, c.out, c.in, c.rows, 1.f, DY, c.out, X, c.in, 0.f, dw.data(), c.in);
    };
    for (int i = 0; i < 3; ++i) { run_pmx(); run_bare(); }
    std::vector<double> t_pmx, t_bare;
    for (int i = 0; i < reps; ++i) {  // interleaved, so both see the same machine noise
      Timer t1;
      run_pmx();
      t_pmx.push_back(t1.milliseconds());
      Timer t2;
      run_bare();
      t_bare.push_back(t2.milliseconds());
    }
    double a = bench::median(t_pmx), b = bench::median(t_bare);
    char name[64];
    std::snprintf(name, sizeof name, "(%ld x %ld -> %ld)", long(c.rows), long(c.in), long(c.out));
    std::printf("%-22s %10.3f %10.3f %8.3f\n", name, a, b, a / b);
  }
  std::printf("target: ratio <= 1.15\n");
  return 0;
}
