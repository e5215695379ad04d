// bench_step_budget: where one training step of the adding-problem Paramixer (the model of
// bench_paramixer_step, L = 1) spends its time, piece by piece, and what a target step time
// would ask of each piece. docs/PERFORMANCE.md uses it to show why the one-thread 5x over
// PyTorch is not reached: pass PyTorch's step time and the target is a fifth of it.
//
// In one run, at the step's own shapes:
//   step      the whole training step (forward, backward, Adam)
//   pieces    the kernels a step runs, each alone and repeated on one set of buffers ("hot"):
//             the M f-MLPs (kernels/fmlp.h, forward + backward with all gradients), g (the same
//             op with M = 1), the M mixing factors (kernels/mixing.h, forward + backward)
//   in cache  the same pieces on fewer rows per call (2048 for the f-MLPs and g, one sequence
//             or 1024 rows for the mixing: their operands then sit in L2), scaled to the step's
//             rows; for the f-MLPs also their GEMMs at the speed of one 64 x 32 x 32 product in
//             L1 and their GELU on an L1-resident chunk
//   peak      each piece's FLOPs at the FMA peak measured in the same run
// The rest is the step minus the hot pieces: the other ops (input layer, head, loss, Adam,
// autograd, copies) and whatever the pieces lose inside a step, where their buffers are cold.
// Every time is the fastest of its calls over three rounds (--reps calls in all), the rounds
// interleaved so that other tenants' load on a shared machine hits all of them alike.
// Prints a table and one JSON line.
//
//   bench_step_budget --n 1024 --batch 16 --protocol chord --threads 1 --torch-ms 72
#include <pmx/pmx.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/adding_model.h"
#include "bench/bench_args.h"
#include "bench/machine_peaks.h"
#include "kernels/fmlp.h"
#include "kernels/gelu.h"
#include "kernels/mixing.h"

using namespace pmx;

namespace {

struct Args {
  int64_t n = 1024, batch = 16;
  std::string protocol = "chord";
  int threads = 1, reps = 12;
  double torch_ms = 0, speedup = 5;
};

// Fastest of reps calls after one untimed call (buffers touched, code and data warm).
double best_ms(int reps, const std::function<void()>& fn) {
  fn();
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    Timer t;
    fn();
    best = std::min(best, t.milliseconds());
  }
  return best;
}

std::vector<float> filled(long count, float scale) {
  std::vector<float> v(static_cast<size_t>(count));
  for (long i = 0; i < count; ++i) v[size_t(i)] = scale * float((i * 7919) % 1000 - 500) / 500.f;
  return v;
}

// The M f-MLPs (or g with M = 1, K = d) as the step runs them: forward, then backward with
// every gradient. FLOPs: forward 2 R M (d h + h K); backward recomputes the first layer and
// forms d_hid, dX, dW1 and dW2: 2 R M (3 d h + 2 h K).
struct FmlpRun {
  kernels::FmlpSizes s;
  std::vector<float> x, w1, b1, w2, b2, out, dx, dw1, db1, dw2, db2, ws_f, ws_b;
  explicit FmlpRun(kernels::FmlpSizes sz) : s(sz) {
    x = filled(s.R * s.d, 1.f), w1 = filled(s.M * s.h * s.d, 0.2f), b1 = filled(s.M * s.h, 0.1f);
    w2 = filled(s.M * s.K * s.h, 0.2f), b2 = filled(s.M * s.K, 0.1f);
    out.assign(size_t(s.M * s.R * s.K), 0.f), dx.assign(size_t(s.R * s.d), 0.f);
    dw1.assign(w1.size(), 0.f), db1.assign(b1.size(), 0.f), dw2.assign(w2.size(), 0.f), db2.assign(b2.size(), 0.f);
    ws_f.assign(size_t(kernels::fmlp_forward_workspace(s)), 0.f);
    ws_b.assign(size_t(kernels::fmlp_backward_workspace(s)), 0.f);
  }
  void operator()() {
    kernels::fmlp_forward(out.data(), x.data(), w1.data(), b1.data(), w2.data(), b2.data(), ws_f.data(), s);
    // out stands in for the upstream gradient: same shape, and its values are not special.
    kernels::fmlp_backward(dx.data(), dw1.data(), db1.data(), dw2.data(), db2.data(), out.data(), x.data(),
                           w1.data(), b1.data(), w2.data(), ws_b.data(), s);
  }
  double gemm_flops() const { return 2.0 * s.R * s.M * (4 * s.d * s.h + 3 * s.h * s.K); }
  double gelu_elements() const { return double(s.R) * s.M * s.h; }  // each forward and backward
};

// The M factors of one block, forward then backward, on one set of buffers.
struct MixRun {
  long B, N, d, K;
  std::vector<std::vector<long>> offsets;
  std::vector<float> v, w, out, dv, dw;
  MixRun(long b, long n, long dim, const std::vector<std::vector<long>>& offs)
      : B(b), N(n), d(dim), K(long(offs[0].size())), offsets(offs) {
    v = filled(B * N * d, 1.f), w = filled(B * N * K, 0.2f);
    out.assign(v.size(), 0.f), dv.assign(v.size(), 0.f), dw.assign(w.size(), 0.f);
  }
  void operator()() {
    for (const auto& o : offsets) kernels::mix_forward(out.data(), v.data(), w.data(), o.data(), K, B, N, d);
    for (const auto& o : offsets)
      kernels::mix_backward(dv.data(), dw.data(), out.data(), v.data(), w.data(), o.data(), K, B, N, d);
  }
  double flops() const { return 3.0 * 2 * double(offsets.size()) * B * N * K * d; }
};

int run(const Args& a) {
  set_num_threads(a.threads);
  manual_seed(0);
  nn::ParamixerModel model(bench::adding_model_config(a.n, 1, a.protocol));
  const nn::ParamixerBlock& blk = *model.blocks[0];
  const long N = long(blk.n), d = long(blk.dim), h = long(blk.hidden), M = long(blk.num_factors);
  const long K = long(blk.links), R = long(a.batch) * N;
  const long f_rows = R < 2048 ? R : 2048;  // rows per call of the in-cache f-MLP and g runs

  // Every measurement below is a callable timed as the fastest of a few calls. They run in
  // rounds (each round times each once), and each keeps its best over the rounds: a burst of
  // load from other tenants then hits all of them alike instead of one.
  Tensor x, y;
  bench::adding_batch(a.batch, a.n, &x, &y);
  optim::Adam opt(model.parameters(), 1e-3);
  auto step = [&] {  // the whole step, as bench_paramixer_step times it
    Tensor loss = mse_loss(model(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  };
  // Hot pieces at the step's shapes, and the same with fewer rows per call (in L2), scaled up.
  // The f-MLP op has a fixed cost per call (weight transposes, 16 sets of weight-gradient
  // partials) that would dominate below ~2048 rows; one sequence of mixing at N <= 1024 is 128 KiB.
  FmlpRun f({R, d, h, K, M}), g({R, d, h, d, 1});
  FmlpRun f_small({f_rows, d, h, K, M}), g_small({f_rows, d, h, d, 1});
  MixRun mix(a.batch, N, d, blk.offsets);
  MixRun mix_small(N <= 1024 ? 1024 / N : 1, N, d, blk.offsets);  // beyond N = 4096 it leaves L2
  // The f-MLPs split: GEMMs at one L1-resident 64 x 32 x 32 product's speed, GELU on a
  // 64-row chunk (forward once, then value and derivative together in the backward).
  std::vector<float> ta = filled(64 * 32, 1.f), tb = filled(32 * 32, 0.2f), tc(64 * 32);
  std::vector<float> gx = filled(64 * h, 2.f), gy(gx.size()), gd = filled(64 * h, 1.f), gdx(gx.size());
  const long calls = 2000;
  auto tile = [&] {
    for (long i = 0; i < calls; ++i)
      kernels::fmlp_small_gemm<float>(tc.data(), 32, ta.data(), 32, 1, tb.data(), 32, nullptr, 64, 32, 32, false);
  };
  auto gelu_f = [&] {
    for (long i = 0; i < calls; ++i) kernels::gelu_forward(gy.data(), gx.data(), long(gx.size()));
  };
  auto gelu_b = [&] {
    for (long i = 0; i < calls; ++i)
      kernels::gelu_forward_backward(gy.data(), gdx.data(), gx.data(), gd.data(), long(gx.size()));
  };
  const std::vector<std::function<void()>> runs = {step, std::ref(f), std::ref(g), std::ref(mix), std::ref(f_small),
                                                   std::ref(g_small), std::ref(mix_small), tile, gelu_f, gelu_b};
  std::vector<double> best(runs.size(), 1e30);
  double peak = 0;  // GFLOP/s at this thread count, the best of the rounds too
  const int rounds = 3, per_round = std::max(1, (a.reps + rounds - 1) / rounds);
  for (int r = 0; r < rounds; ++r) {
    peak = std::max(peak, bench::peak_fma_gflops());
    for (size_t i = 0; i < runs.size(); ++i) best[i] = std::min(best[i], best_ms(per_round, runs[i]));
  }
  const double step_ms = best[0], f_ms = best[1], g_ms = best[2], mix_ms = best[3];
  const double f_cache = best[4] * double(R) / f_rows, g_cache = best[5] * double(R) / f_rows;
  const double mix_cache = best[6] * double(R) / double(mix_small.B * N);
  const double tile_gflops = calls * 2.0 * 64 * 32 * 32 / (best[7] * 1e6);
  const double gelu_f_ms = best[8], gelu_b_ms = best[9];
  const double gelu_ns = (gelu_f_ms + gelu_b_ms) * 1e6 / (calls * double(gx.size()));  // fwd + both
  const double f_gemm_l1 = f.gemm_flops() / (tile_gflops * 1e6);
  const double f_gelu_l1 = f.gelu_elements() * gelu_ns * 1e-6;

  const double pieces = f_ms + g_ms + mix_ms, rest = step_ms - pieces;
  std::printf("Paramixer training step, N = %ld, B = %ld, L = 1, %s (M = %ld, K = %ld), %d thread(s); "
              "FMA peak %.0f GFLOP/s, L1 tile %.0f GFLOP/s (%.0f %%), GELU %.3f ns per element fwd + bwd, "
              "load %s\n",
              N, long(a.batch), a.protocol.c_str(), M, K, a.threads, peak, tile_gflops, 100 * tile_gflops / peak,
              gelu_ns, bench::load_average().c_str());
  std::printf("  %-34s %10s %9s %9s %9s\n", "piece", "GFLOP", "hot ms", "cache ms", "peak ms");
  auto line = [](const char* name, double gf, double hot, double cache, double at_peak) {
    std::printf("  %-34s %10.3f %9.2f %9.2f %9.2f\n", name, gf, hot, cache, at_peak);
  };
  line("f-MLPs, forward + backward", f.gemm_flops() * 1e-9, f_ms, f_cache, f.gemm_flops() / (peak * 1e6));
  std::printf("  %-34s %10s %9s %9.2f\n", "  GEMMs at the L1 tile's speed", "", "", f_gemm_l1);
  std::printf("  %-34s %10s %9s %9.2f\n", "  GELU on an L1 chunk", "", "", f_gelu_l1);
  line("g, forward + backward", g.gemm_flops() * 1e-9, g_ms, g_cache, g.gemm_flops() / (peak * 1e6));
  line("mixing, M factors fwd + bwd", mix.flops() * 1e-9, mix_ms, mix_cache, mix.flops() / (peak * 1e6));
  const double gf_all = (f.gemm_flops() + g.gemm_flops() + mix.flops()) * 1e-9;
  line("sum of the pieces", gf_all, pieces, f_cache + g_cache + mix_cache, gf_all * 1e3 / peak);
  std::printf("  %-34s %10s %9.2f   (other ops, and the pieces' extra time on a step's cold buffers)\n",
              "rest of the step", "", rest);
  std::printf("  %-34s %10s %9.2f\n", "the training step", "", step_ms);
  double target = 0;
  if (a.torch_ms > 0) {
    target = a.torch_ms / a.speedup;
    std::printf("  target: PyTorch's %.1f ms / %.0f = %.2f ms. Pieces in cache + rest = %.2f ms (%.2fx the "
                "target); GEMMs at the L1 tile's speed + GELU in L1 + mixing in cache + g in cache + rest = "
                "%.2f ms\n",
                a.torch_ms, a.speedup, target, f_cache + g_cache + mix_cache + rest,
                (f_cache + g_cache + mix_cache + rest) / target, f_gemm_l1 + f_gelu_l1 + mix_cache + g_cache + rest);
  }
  std::printf("{\"kind\": \"budget\", \"n\": %ld, \"batch\": %ld, \"protocol\": \"%s\", \"threads\": %d, "
              "\"peak_gflops\": %.1f, \"tile_gflops\": %.1f, \"gelu_ns\": %.4f, \"step_ms\": %.3f, "
              "\"fmlp_ms\": %.3f, \"fmlp_cache_ms\": %.3f, \"fmlp_gemm_l1_ms\": %.3f, \"fmlp_gelu_l1_ms\": %.3f, "
              "\"g_ms\": %.3f, \"g_cache_ms\": %.3f, \"mix_ms\": %.3f, \"mix_cache_ms\": %.3f, \"rest_ms\": %.3f, "
              "\"torch_ms\": %.3f, \"target_ms\": %.3f, \"load\": \"%s\"}\n",
              N, long(a.batch), a.protocol.c_str(), a.threads, peak, tile_gflops, gelu_ns, step_ms, f_ms, f_cache,
              f_gemm_l1, f_gelu_l1, g_ms, g_cache, mix_ms, mix_cache, rest, a.torch_ms, target,
              bench::load_average().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  bench::ArgParser args("bench_step_budget",
                        "Where a one-layer Paramixer training step spends its time, piece by piece, against a target.");
  args.add_int("--n", &a.n, 2, bench::kMaxSeqLen, "sequence length");
  args.add_int("--batch", &a.batch, 1, bench::kMaxBatch, "batch size");
  args.add_choice("--protocol", &a.protocol, {"chord", "cdil"}, "mixing protocol");
  args.add_int("--threads", &a.threads, 1, bench::kMaxThreads, "threads");
  args.add_int("--reps", &a.reps, 1, bench::kMaxReps, "timed calls of each piece, over three rounds");
  // run_benchmarks.sh passes 0 when it has no PyTorch time.
  args.add_double("--torch-ms", &a.torch_ms, bench::ArgParser::Sign::NonNegative, "PyTorch's step in ms, 0: no target");
  args.add_double("--speedup", &a.speedup, bench::ArgParser::Sign::Positive, "target = torch-ms / speedup");
  args.parse(argc, argv);
  try {
    return run(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_step_budget: error: %s\n", e.what());
    return 1;
  }
}
