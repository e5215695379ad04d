// bench_attention_kernel: one (batch, head) slice of dot-product attention, forward and backward,
// through each of the two float kernels of kernels/attention.h in the same run: the GEMM path
// (row blocks of scores between two GEMMs) and, on AVX-512 CPUs, the small-head kernel (16 keys
// per vector, scores in registers, dh <= 16). Prints each one's best time, the time per 16
// scores, and the ratio. The two alternate in rounds, so a busy host slows both alike.
//
//   bench_attention_kernel --n 1024 --dh 8 --rounds 10
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "bench_args.h"
#include "core/timer.h"
#include "kernels/attention.h"

using namespace pmx;

int main(int argc, char** argv) {
  int64_t n = 1024, dh = 8, rounds = 10, reps = 4;
  bench::ArgParser args("bench_attention_kernel",
                        "One attention slice, forward + backward, GEMM path against the small-head kernel.");
  args.add_int("--n", &n, 1, int64_t(1) << 16, "sequence length");
  args.add_int("--dh", &dh, 1, 256, "head size");
  args.add_int("--rounds", &rounds, 1, bench::kMaxReps, "alternations of the two kernels");
  args.add_int("--reps", &reps, 1, bench::kMaxReps, "timed calls per kernel and round");
  args.parse(argc, argv);

  kernels::set_attention_small_head(true);
  const bool small_head = kernels::attention_small_head_active(dh);
  if (!small_head)
    std::printf("the small-head kernel does not run here (%s); timing the GEMM path alone\n",
                dh > kernels::kSmallHead ? "dh > 16" : "no AVX-512F");
  // Q, K, V of one head inside packed (N, 3 dh) rows, as the op passes them; O and dO (N, dh).
  const int64_t ld = 3 * dh, block = kernels::attention_block_rows(n);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> qkv(n * ld), d_out(n * dh), out(n * dh), stats(2 * n), grad(n * ld);
  std::vector<float> scratch(kernels::attention_scratch_size(n, dh, block));
  for (float& x : qkv) x = normal(rng);
  for (float& x : d_out) x = normal(rng);
  const float* q = qkv.data();
  const float scale = 1.f / std::sqrt(float(dh));

  const char* names[2] = {"GEMM path", "small-head kernel"};
  double best_fwd[2] = {1e30, 1e30}, best_bwd[2] = {1e30, 1e30};
  const int kernels_timed = small_head ? 2 : 1;
  for (int64_t round = 0; round < rounds; ++round)
    for (int kernel = 0; kernel < kernels_timed; ++kernel) {
      kernels::set_attention_small_head(kernel == 1);
      for (int64_t rep = 0; rep < reps; ++rep) {
        Timer t;
        kernels::attention_forward(out.data(), dh, stats.data(), q, q + dh, q + 2 * dh, ld, n, dh, scale,
                                   scratch.data(), block);
        best_fwd[kernel] = std::min(best_fwd[kernel], t.seconds());
        std::fill(grad.begin(), grad.end(), 0.f);
        t.reset();
        kernels::attention_backward(grad.data(), grad.data() + dh, grad.data() + 2 * dh, d_out.data(), out.data(),
                                    dh, stats.data(), q, q + dh, q + 2 * dh, ld, n, dh, scale, scratch.data(), block);
        best_bwd[kernel] = std::min(best_bwd[kernel], t.seconds());
      }
    }
  kernels::set_attention_small_head(true);

  const double chunks = double(n) * double(n) / 16;  // scores / 16
  std::printf("attention slice N = %ld, dh = %ld, one thread, best of %ld x %ld calls\n", long(n), long(dh),
              long(rounds), long(reps));
  std::printf("%-18s %10s %10s %12s %12s\n", "kernel", "fwd ms", "bwd ms", "fwd ns/16", "bwd ns/16");
  for (int k = 0; k < kernels_timed; ++k)
    std::printf("%-18s %10.3f %10.3f %12.1f %12.1f\n", names[k], best_fwd[k] * 1e3, best_bwd[k] * 1e3,
                best_fwd[k] * 1e9 / chunks, best_bwd[k] * 1e9 / chunks);
  if (small_head)
    std::printf("GEMM path / small-head kernel: forward %.2fx, backward %.2fx, both %.2fx\n", best_fwd[0] / best_fwd[1],
                best_bwd[0] / best_bwd[1], (best_fwd[0] + best_bwd[0]) / (best_fwd[1] + best_bwd[1]));
  return 0;
}
