// bench_attention_kernel: one (batch, head) slice of dot-product attention, forward and backward,
// through the float kernels of kernels/attention.h in the same run: the GEMM path (row blocks of
// scores between two GEMMs), the small-head kernel (scores in registers, dh <= 16) in its AVX2
// build (8 keys per vector) and, on AVX-512 CPUs, its AVX-512 build (16), and the tiled kernel
// (register tiles, dh = 32 to 128 in steps of 16) in its two builds likewise, each forced on
// (kEverywhere) whatever kAuto would pick. Prints OpenBLAS's kernels, what kAuto picks, each
// kernel's best time, the time per 16 scores, GFLOP/s, and the GEMM path's time over each. The
// kernels alternate in rounds, so a busy host slows all of them alike.
//
//   bench_attention_kernel --n 1024 --dh 8 --rounds 10
//   bench_attention_kernel --n 2000 --dh 32
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "bench_args.h"
#include "core/timer.h"
#include "kernels/attention.h"
#include "kernels/blas.h"

using namespace pmx;

int main(int argc, char** argv) {
  int64_t n = 1024, dh = 8, rounds = 10, reps = 4;
  bench::ArgParser args("bench_attention_kernel",
                        "One attention slice, forward + backward, GEMM path against the small-head and tiled kernels.");
  args.add_int("--n", &n, 1, int64_t(1) << 16, "sequence length");
  args.add_int("--dh", &dh, 1, 256, "head size");
  args.add_int("--rounds", &rounds, 1, bench::kMaxReps, "alternations of the kernels");
  args.add_int("--reps", &reps, 1, bench::kMaxReps, "timed calls per kernel and round");
  args.parse(argc, argv);

  kernels::set_attention_small_head(kernels::AttentionKernel::kAuto);
  kernels::set_attention_tiled(kernels::AttentionKernel::kAuto);
  kernels::set_attention_avx512(true);
  const char* auto_choice = kernels::attention_small_head_active(dh) ? "small-head kernel"  // what the op runs
                            : kernels::attention_tiled_active(dh)   ? "tiled kernel"
                                                                    : "GEMM path";
  kernels::set_attention_small_head(kernels::AttentionKernel::kEverywhere);
  kernels::set_attention_tiled(kernels::AttentionKernel::kEverywhere);
  const bool wide = kernels::attention_avx512_active();
  const bool small_head_avx2 = dh <= kernels::kSmallHead, small_head_wide = wide && small_head_avx2;
  const bool tiled_wide = wide && kernels::attention_tiled_active(dh);
  kernels::set_attention_avx512(false);
  const bool tiled_avx2 = kernels::attention_tiled_active(dh);  // its AVX2 build takes fewer sizes
  kernels::set_attention_avx512(true);
  if (!small_head_avx2 && !tiled_avx2 && !tiled_wide)
    std::printf("neither the small-head nor the tiled kernel runs at dh = %ld here; timing the GEMM path alone\n",
                long(dh));
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

  struct Kernel {
    const char* name;
    bool small_head, tiled, avx512;
    double fwd = 1e30, bwd = 1e30;
  };
  std::vector<Kernel> timed = {{"GEMM path", false, false, wide}};
  if (small_head_avx2) timed.push_back({"small-head AVX2", true, false, false});
  if (small_head_wide) timed.push_back({"small-head AVX-512", true, false, true});
  if (tiled_avx2) timed.push_back({"tiled AVX2", false, true, false});
  if (tiled_wide) timed.push_back({"tiled AVX-512", false, true, true});
  for (int64_t round = 0; round < rounds; ++round)
    for (Kernel& kernel : timed) {
      kernels::set_attention_small_head(kernel.small_head ? kernels::AttentionKernel::kEverywhere
                                                          : kernels::AttentionKernel::kOff);
      kernels::set_attention_tiled(kernel.tiled ? kernels::AttentionKernel::kEverywhere
                                                : kernels::AttentionKernel::kOff);
      kernels::set_attention_avx512(kernel.avx512);
      for (int64_t rep = 0; rep < reps; ++rep) {
        Timer t;
        kernels::attention_forward(out.data(), dh, stats.data(), q, q + dh, q + 2 * dh, ld, n, dh, scale,
                                   scratch.data(), block);
        kernel.fwd = std::min(kernel.fwd, t.seconds());
        std::fill(grad.begin(), grad.end(), 0.f);
        t.reset();
        kernels::attention_backward(grad.data(), grad.data() + dh, grad.data() + 2 * dh, d_out.data(), out.data(),
                                    dh, stats.data(), q, q + dh, q + 2 * dh, ld, n, dh, scale, scratch.data(), block);
        kernel.bwd = std::min(kernel.bwd, t.seconds());
      }
    }
  kernels::set_attention_small_head(kernels::AttentionKernel::kAuto);
  kernels::set_attention_tiled(kernels::AttentionKernel::kAuto);
  kernels::set_attention_avx512(true);

  const double chunks = double(n) * double(n) / 16;  // scores / 16
  std::printf("attention slice N = %ld, dh = %ld, one thread, best of %ld x %ld calls; OpenBLAS kernels: %s\n",
              long(n), long(dh), long(rounds), long(reps), kernels::blas_core_name());
  std::printf("the op takes the %s here (kernels::AttentionKernel::kAuto)\n", auto_choice);
  // FLOPs per score: forward 4 dh (S and P V), backward 10 dh (S again, dP, dV, dK, dQ).
  const double scores = double(n) * double(n), fwd_flop = 4.0 * dh * scores, bwd_flop = 10.0 * dh * scores;
  std::printf("%-20s %10s %10s %11s %11s %9s %9s %22s\n", "kernel", "fwd ms", "bwd ms", "fwd ns/16", "bwd ns/16",
              "fwd GF/s", "bwd GF/s", "GEMM path / this: both");
  for (const Kernel& k : timed)
    std::printf("%-20s %10.3f %10.3f %11.1f %11.1f %9.1f %9.1f %21.2fx\n", k.name, k.fwd * 1e3, k.bwd * 1e3,
                k.fwd * 1e9 / chunks, k.bwd * 1e9 / chunks, fwd_flop / k.fwd * 1e-9, bwd_flop / k.bwd * 1e-9,
                (timed[0].fwd + timed[0].bwd) / (k.fwd + k.bwd));
  return 0;
}
