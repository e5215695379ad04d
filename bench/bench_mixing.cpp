// Benchmark of the mixing step (kernels/mixing.h) against the machine's own limits.
//
// Measures, in the same run: memory bandwidth (STREAM-like copy and triad over 64 MiB arrays,
// with regular and with non-temporal stores, as the kernels write; the best counts) and peak
// fp32 FMA throughput (independent FMA chains in registers), at 1 and 2 threads. Then times forward and backward of all M = 15 factors of a block at
// B = 16, N = 32768, d = 32 for CHORD (K = 16) and CDIL (K = 9, dilations 1 .. 2^14), and
// prints each time next to the lower bound max(bytes / bandwidth, flops / peak) and the
// achieved fraction of it. The machine is shared with other work, so bandwidth and peak are
// sampled again before every timed rep and the best values seen in the run make the bound (at
// 2 threads, at least the 1-thread values); times are the best rep per pass. (GB/s: the
// traffic rate the kernels achieved.)
// At 1 thread the rows also show the thread's CPU time (best rep) and the fraction of the bound
// it reaches: time the thread spent descheduled by other work on the machine does not count, so
// that column is the one to compare variants with when the load average is high. Its bound comes
// from bandwidth and peak measured the same way, over the thread's CPU time (best in the run):
// a wall-clock reading on a loaded machine counts the descheduled time too, understates the
// machine, and let CPU times show 185 % of their "bound".
// Bytes are the minimum traffic: forward reads V, W and writes out; backward reads dOut, V, W
// and writes dV, dW (each tensor once; V alone is 64 MiB, twice the Zen 5's L3, so there
// everything streams from DRAM; the Intel Xeon's L3, 260 MiB shared with other tenants, can
// hold part of it, for the STREAM arrays (3 x 64 MiB) as for the kernels' tensors).
// No write-allocate is counted, neither here nor in the bandwidth figures (copy 2 arrays,
// triad 3): the kernels write these outputs with non-temporal stores, all but CDIL's dW, whose
// 9-float rows are not whole lines, so its read-for-ownership is traffic the bound leaves out.
//
//   ./build/bench/bench_mixing [--isa=auto|avx512|avx2|portable] [--order=auto|rows]
//                              [--backward=auto|two-pass|one-gather] [--per-factor] [--reps=4]
//                              [--n=32768] [--batch=16] [--dim=32]
//
// --order=rows turns off the chain walk of large CDIL dilations (for comparison); --backward
// forces how the backward gets its two gradients (kernels/mixing.h, MixBackward); --per-factor
// also prints each factor's time (1 thread, thread CPU time).
// --n / --batch / --dim change the problem (the figure is the default); a small one (say
// --n=1024 --batch=1, under 1 MiB in all) runs from L2 and shows what the kernels reach when memory
// is not in the way.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench_args.h"
#include "core/allocator.h"
#include "core/threads.h"
#include "core/timer.h"
#include "kernels/mixing.h"
#include "machine_peaks.h"

using namespace pmx::kernels;

namespace {

// Float buffer from the library's allocator, so the kernels see the memory a training step
// gives them (2 MiB-aligned, transparent huge pages requested for big blocks), touched (zeroed
// in parallel) at creation so page faults (~15 us per 4 KiB page here) never land inside a
// timed region.
struct Buffer {
  float* p = nullptr;
  long n = 0;
  size_t granted = 0;
  explicit Buffer(long count) : n(count) {
    p = static_cast<float*>(pmx::CachingAllocator::instance().allocate(count * sizeof(float), &granted));
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) p[i] = 0.f;
  }
  ~Buffer() { pmx::CachingAllocator::instance().release(p, granted); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

void fill(Buffer& b, float scale, unsigned seed) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < b.n; ++i) {
    unsigned x = unsigned(i) * 2654435761u + seed;  // cheap hash: values in [-scale, scale)
    x ^= x >> 13;
    b.p[i] = scale * (float(x % 20001u) / 10000.f - 1.f);
  }
}

// Wall-clock limits, and at 1 thread the same over the thread's CPU time (for the cpu columns).
struct Limits {
  double gbs = 0, gflops = 0, cpu_gbs = 0, cpu_gflops = 0;
  // Measures bandwidth (over the three buffers) and peak again and keeps the best of each seen
  // so far (the CPU-time figures too when with_cpu).
  void sample(float* a, const float* b, const float* c, long n, int stream_reps, long fma_iters,
              int fma_reps, bool with_cpu) {
    gbs = std::max(gbs, pmx::bench::stream_gbs(a, b, c, n, stream_reps, with_cpu ? &cpu_gbs : nullptr));
    gflops = std::max(gflops, pmx::bench::peak_fma_gflops(fma_iters, fma_reps, with_cpu ? &cpu_gflops : nullptr));
  }
};

struct Result {
  double seconds = 0, bytes = 0, flops = 0, cpu_seconds = 0;
};

using pmx::bench::thread_cpu_seconds;  // with one OpenMP thread: all the kernel's work

// Prints one row; returns false when a time beats its bound (then the bound is no lower bound:
// the measured bandwidth or peak is below what the machine delivers to the kernels).
bool print_row(const char* name, int threads, const char* pass, const Result& r,
               const Limits& lim) {
  const double t_mem = r.bytes / (lim.gbs * 1e9), t_flop = r.flops / (lim.gflops * 1e9);
  const double bound = std::max(t_mem, t_flop);
  char cpu[32] = "       -        -";
  bool holds = r.seconds >= bound;
  if (threads == 1) {
    const double cpu_bound =
        std::max(r.bytes / (lim.cpu_gbs * 1e9), r.flops / (lim.cpu_gflops * 1e9));
    std::snprintf(cpu, sizeof cpu, "%8.1f %6.1f %%", r.cpu_seconds * 1e3,
                  100.0 * cpu_bound / r.cpu_seconds);
    holds &= r.cpu_seconds >= cpu_bound;
  }
  std::printf("%-14s %3d  %-8s %8.1f %8.1f %6.2f %6.2f %6.1f  %-7s %5.1f %%  %s\n", name, threads,
              pass, r.seconds * 1e3, bound * 1e3, r.bytes * 1e-9, r.flops * 1e-9,
              r.bytes / r.seconds * 1e-9, t_mem >= t_flop ? "memory" : "compute",
              100.0 * bound / r.seconds, cpu);
  return holds;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 4;
  bool per_factor = false;
  long n_arg = 32768, b_arg = 16, d_arg = 32;
  std::string isa = "auto", order = "auto", backward = "auto";
  pmx::bench::ArgParser args("bench_mixing",
                             "Forward and backward of a block's mixing factors against the machine's bound.");
  args.add_choice("--isa", &isa, {"auto", "avx512", "avx2", "portable"}, "kernel path");
  args.add_choice("--order", &order, {"auto", "rows"}, "rows: no chain walk of large CDIL dilations");
  args.add_choice("--backward", &backward, {"auto", "two-pass", "one-gather"}, "how the backward gets its gradients");
  args.add_switch("--per-factor", &per_factor, "also print each factor's time, 1 thread, thread CPU time");
  args.add_int("--reps", &reps, 1, pmx::bench::kMaxReps, "timed reps per pass, best printed");
  args.add_int("--n", &n_arg, 2, pmx::bench::kMaxSeqLen, "sequence length N");
  args.add_int("--batch", &b_arg, 1, pmx::bench::kMaxBatch, "batch size B");
  args.add_int("--dim", &d_arg, 1, pmx::bench::kMaxWidth, "width d");
  args.parse(argc, argv);
  set_mix_isa(isa == "avx512"     ? MixIsa::Avx512
              : isa == "avx2"     ? MixIsa::Avx2
              : isa == "portable" ? MixIsa::Portable
                                  : MixIsa::Auto);
  set_mix_order(order == "rows" ? MixOrder::Rows : MixOrder::Auto);
  set_mix_backward(backward == "two-pass"     ? MixBackward::TwoPass
                   : backward == "one-gather" ? MixBackward::OneGather
                                              : MixBackward::Auto);
  const char* isa_name[] = {"auto", "portable", "AVX2+FMA", "AVX-512F"};

  const long B = b_arg, N = n_arg, d = d_arg, M = num_factors(N);
  // Slots per row of each protocol, from its offsets (CHORD M + 1, CDIL 9), and the larger.
  auto slots = [&](Protocol p) { return long(protocol_offsets(p, N, 0, M).size()); };
  const long Kmax = std::max(slots(Protocol::Chord), slots(Protocol::Cdil));
  std::printf("mixing step benchmark: B = %ld, N = %ld, d = %ld, M = %ld factors, fp32, path %s, "
              "best of %d, load average %s\n",
              B, N, d, M, isa_name[static_cast<int>(mix_isa())], reps, pmx::bench::load_average().c_str());
  Buffer v(B * N * d), out(B * N * d), g(B * N * d), dv(B * N * d);  // (B, N, d) each, 64 MiB
  Buffer w(B * N * Kmax), dw(B * N * Kmax);                         // (B, N, K <= 16)
  fill(v, 1.f, 1), fill(g, 1.f, 2), fill(w, 0.1f, 3);

  const int threads[2] = {1, 2};
  Limits lim[2];
  for (int t = 0; t < 2; ++t) {
    pmx::set_num_threads(threads[t]);
    Limits& l = lim[t];
    l.sample(out.p, v.p, g.p, out.n, 4, 20000000, 3, /*with_cpu=*/t == 0);
    std::printf("threads %d at start: bandwidth %.1f GB/s (best of copy, triad, both also non-temporal); peak fp32 FMA %.1f GFLOP/s\n",
                threads[t], l.gbs, l.gflops);
  }
  struct Row {
    std::string name;
    int t;
    Result f, b;
  };
  std::vector<Row> rows_out;
  // --per-factor: each factor's best thread CPU time at 1 thread, forward and backward.
  std::vector<std::string> factor_lines;
  for (Protocol p : {Protocol::Chord, Protocol::Cdil}) {
    const long K = slots(p);
    char name[64];
    std::snprintf(name, sizeof name, "%s K=%ld", p == Protocol::Chord ? "CHORD" : "CDIL", K);
    for (int t = 0; t < 2; ++t) {
      pmx::set_num_threads(threads[t]);
      // Warm-up factor: first-use costs (thread pool start, dispatch) stay out of the timing.
      auto o0 = protocol_offsets(p, N, 0, M);
      mix_forward(out.p, v.p, w.p, o0.data(), K, B, N, d);
      mix_backward(dv.p, dw.p, g.p, v.p, w.p, o0.data(), K, B, N, d);
      const double rows = double(B) * N * M, fl = 4.0;  // fp32 bytes
      Result best_f, best_b;
      best_f.seconds = best_b.seconds = best_f.cpu_seconds = best_b.cpu_seconds = 1e30;
      std::vector<double> factor_f(M, 1e30), factor_b(M, 1e30);
      for (int rep = 0; rep < reps; ++rep) {
        // Sample the limits again between reps: the best values seen anywhere in the run
        // make the bound (the most demanding, so the fairest, reading of a shared machine).
        // At 1 thread the CPU-time figures are kept too (raised in place).
        lim[t].sample(out.p, v.p, g.p, out.n, 2, 4000000, 2, /*with_cpu=*/t == 0);
        Result f, b;
        for (long m = 0; m < M; ++m) {  // one block: every factor with its own offsets
          auto o = protocol_offsets(p, N, m, M);
          const double c0 = thread_cpu_seconds();
          pmx::Timer timer;
          mix_forward(out.p, v.p, w.p, o.data(), K, B, N, d);
          f.seconds += timer.seconds();
          const double c1 = thread_cpu_seconds();
          timer.reset();
          mix_backward(dv.p, dw.p, g.p, v.p, w.p, o.data(), K, B, N, d);
          b.seconds += timer.seconds();
          b.cpu_seconds += thread_cpu_seconds() - c1;
          f.cpu_seconds += c1 - c0;
          factor_f[m] = std::min(factor_f[m], c1 - c0);
          factor_b[m] = std::min(factor_b[m], thread_cpu_seconds() - c1);
        }
        best_f.seconds = std::min(best_f.seconds, f.seconds);
        best_b.seconds = std::min(best_b.seconds, b.seconds);
        best_f.cpu_seconds = std::min(best_f.cpu_seconds, f.cpu_seconds);
        best_b.cpu_seconds = std::min(best_b.cpu_seconds, b.cpu_seconds);
      }
      best_f.bytes = rows * fl * (2 * d + K);  // read V, W; write out
      best_f.flops = rows * 2.0 * K * d;
      best_b.bytes = rows * fl * (3 * d + 2 * K);  // read dOut, V, W; write dV, dW
      best_b.flops = rows * 4.0 * K * d;           // dW dots + dV gathers
      rows_out.push_back({name, t, best_f, best_b});
      for (long m = 0; per_factor && t == 0 && m < M; ++m) {
        auto o = protocol_offsets(p, N, m, M);
        char line[160];
        std::snprintf(line, sizeof line, "%-14s %6ld %12ld %12ld %9.2f %9.2f", name, m,
                      o[1], mix_chain_stride(o.data(), K, N, d), 1e3 * factor_f[m],
                      1e3 * factor_b[m]);
        factor_lines.push_back(line);
      }
    }
  }
  // Two threads get at least what one does (one of them may idle), so the 2-thread bound uses
  // the 1-thread figures where those are higher: on a loaded host the 2-thread passes wait for a
  // descheduled thread, and a run at load 6 measured 8.4 GB/s on two threads against 9.6 on one.
  lim[1].gbs = std::max(lim[1].gbs, lim[0].gbs);
  lim[1].gflops = std::max(lim[1].gflops, lim[0].gflops);
  for (int t = 0; t < 2; ++t)
    std::printf("threads %d, best seen in the run%s: bandwidth %.1f GB/s, peak %.1f GFLOP/s\n",
                threads[t], t == 1 ? " (at least 1 thread's)" : "", lim[t].gbs, lim[t].gflops);
  std::printf("threads 1, best over the thread's CPU time (the cpu columns' bound): bandwidth "
              "%.1f GB/s, peak %.1f GFLOP/s\n",
              lim[0].cpu_gbs, lim[0].cpu_gflops);
  std::printf("\nbest of %d reps per pass; bound = max(bytes / best bandwidth, FLOP / best peak); "
              "the cpu columns' bound from the CPU-time figures\n",
              reps);
  std::printf("%-14s %3s  %-8s %8s %8s %6s %6s %6s  %-7s %7s  %8s %8s\n", "case", "thr", "pass",
              "time ms", "bound ms", "GB", "GFLOP", "GB/s", "limit", "of bound", "cpu ms",
              "of bound");
  bool bound_holds = true;
  for (const Row& r : rows_out) {
    const Result both{r.f.seconds + r.b.seconds, r.f.bytes + r.b.bytes, r.f.flops + r.b.flops,
                      r.f.cpu_seconds + r.b.cpu_seconds};
    bound_holds &= print_row(r.name.c_str(), threads[r.t], "forward", r.f, lim[r.t]);
    bound_holds &= print_row(r.name.c_str(), threads[r.t], "backward", r.b, lim[r.t]);
    bound_holds &= print_row(r.name.c_str(), threads[r.t], "fwd+bwd", both, lim[r.t]);
  }
  if (!bound_holds)
    std::printf("WARNING: a pass beat its bound, so the bound is not a lower bound here: the "
                "bandwidth or peak measured above is below what the kernels get.\n");
  if (per_factor) {
    std::printf("\nper factor, 1 thread, best thread CPU time of %d reps (chain stride 0: row order)\n", reps);
    std::printf("%-14s %6s %12s %12s %9s %9s\n", "case", "factor", "offset o_1", "chain stride",
                "fwd ms", "bwd ms");
    for (const auto& l : factor_lines) std::printf("%s\n", l.c_str());
  }
  std::printf("load average at the end: %s\n", pmx::bench::load_average().c_str());
  return 0;
}
