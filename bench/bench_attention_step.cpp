// bench_attention_step: the dense-attention baseline on the same adding problem, to show where
// Paramixer's O(N log N) step and attention's O(N^2) step cross. One configuration per process
// (peak RSS is this configuration's); prints one JSON object like bench_paramixer_step.
//
// Model: TransformerModel (layers/transformer.h), input Linear(2, d), by default d = 32, 4 heads,
// feed-forward 64, pre-LN, FLATTEN head, MSE, Adam; the fused row-blocked attention op (no
// dropout), so memory is O(N) per row block, time O(N^2 d).
// FLOPs per layer and sample (forward): QKV + output projections 8 N d^2, scores and weighted sum
// 4 N^2 d, feed-forward 4 N d ff; training counts 3x (softmax, LayerNorm, Adam not counted).
//
//   bench_attention_step --n 4096 --batch 16 --layers 1 --threads 1 --reps 3
//   bench_attention_step --n 2000 --batch 4 --dim 128 --heads 4 --ff 128 --kernel gemm   # ListOps' shape
#include <pmx/pmx.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "bench/machine_peaks.h"
#include "bench/timing_stats.h"
#include "kernels/attention.h"
#include "kernels/blas.h"

using namespace pmx;

int main(int argc, char** argv) {
  int64_t n = 1024, batch = 16, layers = 1, dim = 32, heads = 4, ff = 64;
  int threads = 1, reps = 3, warmup = 1;
  std::string mode = "both", kernel = "auto";
  bench::ArgParser args("bench_attention_step",
                        "One configuration of the dense-attention adding model, timed; prints one JSON object.");
  args.add_int("--n", &n, 1, bench::kMaxSeqLen, "sequence length");
  args.add_int("--batch", &batch, 1, bench::kMaxBatch, "batch size");
  args.add_int("--layers", &layers, 1, bench::kMaxLayers, "transformer layers");
  args.add_int("--dim", &dim, 1, 4096, "model width d");
  args.add_int("--heads", &heads, 1, 4096, "attention heads (d must be a multiple)");
  args.add_int("--ff", &ff, 1, 65536, "feed-forward hidden width");
  args.add_int("--threads", &threads, 1, bench::kMaxThreads, "threads");
  args.add_int("--reps", &reps, 1, bench::kMaxReps, "timed steps, median and minimum printed");
  args.add_int("--warmup", &warmup, 0, bench::kMaxReps, "untimed steps first");
  args.add_choice("--mode", &mode, {"both", "train", "forward"}, "what to time");
  args.add_choice("--kernel", &kernel, {"auto", "gemm"},
                  "attention kernel: auto (the small-head or tiled kernel where kernels::AttentionKernel::kAuto "
                  "takes one) or the GEMM path");
  args.parse(argc, argv);
  try {
    set_num_threads(threads);
    const kernels::AttentionKernel where = kernel == "auto" ? kernels::AttentionKernel::kAuto
                                                            : kernels::AttentionKernel::kOff;
    kernels::set_attention_small_head(where);
    kernels::set_attention_tiled(where);
    nn::TransformerConfig c;
    c.seq_len = n;
    c.input_features = 2;
    c.dim = dim;
    c.heads = heads;
    c.ff_hidden = ff;
    c.layers = layers;
    manual_seed(0);
    nn::TransformerModel model(c);
    optim::Adam opt(model.parameters(), 1e-3);
    Tensor x = rand({batch, n, 2}), y = rand({batch, 1});
    std::vector<double> train_ms, fwd_ms;
    if (mode != "forward")
      for (int s = 0; s < warmup + reps; ++s) {
        Timer t;
        Tensor loss = mse_loss(model(x), y);
        opt.zero_grad();
        loss.backward();
        opt.step();
        if (s >= warmup) train_ms.push_back(t.milliseconds());
      }
    if (mode != "train") {
      NoGradGuard no_grad;
      for (int s = 0; s < warmup + reps; ++s) {
        Timer t;
        Tensor out = model(x);
        if (s >= warmup) fwd_ms.push_back(t.milliseconds());
      }
    }
    const double N = double(n), d = c.dim, ff = c.ff_hidden;
    const double flops = batch * (layers * (8 * N * d * d + 4 * N * N * d + 4 * N * d * ff) + 2 * N * 2 * d + 2 * N * d);
    std::printf("{\"impl\": \"attention\", \"kernel\": \"%s\", \"n\": %ld, \"batch\": %ld, \"layers\": %ld, "
                "\"threads\": %d, \"reps\": %d, \"params\": %ld, \"fwd_flops\": %.6g, \"train_ms\": %.3f, \"train_ms_min\": %.3f, "
                "\"fwd_ms\": %.3f, \"rss_mib\": %.1f, \"blas_core\": \"%s\", \"load\": \"%s\"}\n",
                kernels::attention_small_head_active(c.dim / c.heads) ? "small-head"
                : kernels::attention_tiled_active(c.dim / c.heads)    ? "tiled"
                                                                      : "gemm",
                long(n), long(batch),
                long(layers), threads, reps, long(model.num_parameters()), flops,
                bench::median(train_ms), bench::minimum(train_ms), bench::median(fwd_ms), bench::peak_rss_mib(),
                kernels::blas_core_name(), bench::load_average().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_attention_step: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
