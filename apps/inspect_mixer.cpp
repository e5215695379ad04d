// inspect_mixer: the effective N x N mixing matrix of a trained Paramixer block, as a PNG heatmap.
//
// Loads weights written by pmx::optim::save_weights (or the PyTorch golden script) into a
// ParamixerModel built from the flags, embeds one input sequence, and writes
// E = (I + W_M) ... (I + W_1) of the chosen block (layers/paramixer_inspect.h): row i is output
// position i, column j input position j. The input is an adding-problem sample (markers at
// --marker1/--marker2) for 2 input features, random tokens for a token model, else N(0, 1) values.
//
//   ./build/apps/inspect_mixer --weights adding.safetensors --seq-len 64 --input-features 2
//       --dim 16 --hidden 16 --out mixer.png
#include <pmx/pmx.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "apps/common/args.h"
#include "apps/common/report.h"

using namespace pmx;

namespace {

Tensor make_input(const nn::ParamixerConfig& c, int64_t marker1, int64_t marker2, Generator& g) {
  const int64_t n = c.seq_len;
  if (c.vocab > 0) return randint(0, c.vocab, {1, n}, g);
  if (c.input_features != 2) return randn({1, n, c.input_features}, DType::Float32, g);
  PMX_CHECK(marker1 >= 0 && marker1 < n && marker2 >= 0 && marker2 < n && marker1 != marker2,
            "[inspect_mixer] markers must be two distinct positions in [0, ", n, "), got ", marker1, " and ", marker2);
  Tensor x = zeros({1, n, 2});
  float* p = x.data<float>();
  Tensor u = rand({n}, DType::Float32, g);
  for (int64_t t = 0; t < n; ++t) p[t * 2] = 1 - 2 * u.data<float>()[t];
  p[marker1 * 2 + 1] = p[marker2 * 2 + 1] = 1;
  return x;
}

int run(int argc, char** argv) {
  apps::ArgParser args("inspect_mixer", "Write the effective mixing matrix of a Paramixer block as a PNG heatmap.");
  args.add_string("--weights", "", "weights file (safetensors, official parameter names); required");
  args.add_string("--out", "mixer.png", "PNG to write");
  args.add_int("--seq-len", 0, "N of the input (2 to 2048); required");
  args.add_int("--vocab", 0, "token model: vocabulary size");
  args.add_int("--input-features", 0, "real-valued model: features per position (2: adding problem)");
  args.add_int("--dim", 32, "d");
  args.add_int("--hidden", 32, "h");
  args.add_int("--layers", 1, "L");
  args.add_int("--classes", 1, "output size");
  args.add_string("--protocol", "chord", "chord or cdil");
  args.add_flag("--floor-factors", "M = floor(log2 N) instead of ceil");
  args.add_flag("--position-table", "the model has a learned position table");
  args.add_string("--head", "flatten", "flatten, cls, mean or max");
  args.add_string("--weights-from", "embedding", "what the f_m read: embedding, block-input or block-input-ln");
  args.add_int("--block", 0, "which block to inspect (0-based)");
  args.add_int("--marker1", -1, "adding input: first marked position (default N/4)");
  args.add_int("--marker2", -1, "adding input: second marked position (default 3N/4)");
  args.add_int("--seed", 1, "seed of the input sample");
  args.add_string("--scale", "log", "log (log10 |E|) or signed (blue negative, red positive)");
  args.add_double("--decades", 6, "log scale: decades of |E| that get distinct colours");
  args.add_int("--cell", 0, "pixels per matrix element (0: fit 512 px)");
  args.parse(argc, argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }
  PMX_CHECK(!args.get_string("--weights").empty(), "[inspect_mixer] --weights is required");
  // Before the weights are loaded and E computed, as the other apps check theirs.
  PMX_CHECK(!args.get_string("--out").empty(), "[inspect_mixer] --out must name a PNG file");
  apps::check_output_path("--out", args.get_string("--out"));
  // N >= 2 and images at most 16384 px a side (core/image_io.h): a cell above 8192 px never fits.
  const int cell = int(args.get_int("--cell", 0, 8192));

  nn::ParamixerConfig c;
  c.seq_len = args.get_int("--seq-len", 2, nn::kMaxInteractionLen);  // effective_interaction's limit
  c.vocab = args.get_int("--vocab");
  c.input_features = args.get_int("--input-features");
  // Capped as the training apps cap them (args.h): 10^11 layers were built one by one until memory
  // ran out, and a huge --dim overflowed a shape.
  c.dim = args.get_int("--dim", 1, apps::kMaxWidth);
  c.hidden = args.get_int("--hidden", 1, apps::kMaxWidth);
  c.layers = args.get_int("--layers", 1, apps::kMaxLayers);
  c.classes = args.get_int("--classes");
  std::string protocol = args.get_string("--protocol"), head = args.get_string("--head");
  PMX_CHECK(protocol == "chord" || protocol == "cdil", "[inspect_mixer] --protocol must be chord or cdil, got '",
            protocol, "'");
  c.protocol = protocol == "chord" ? nn::Protocol::Chord : nn::Protocol::Cdil;
  c.floor_factors = args.get_flag("--floor-factors");
  c.position_table = args.get_flag("--position-table");
  c.weights_input = nn::parse_mixing_weights_input(args.get_string("--weights-from"));
  PMX_CHECK(head == "flatten" || head == "cls" || head == "mean" || head == "max",
            "[inspect_mixer] --head must be flatten, cls, mean or max, got '", head, "'");
  c.head = head == "flatten" ? nn::ParamixerHead::Flatten
           : head == "cls"   ? nn::ParamixerHead::Cls
           : head == "mean"  ? nn::ParamixerHead::Mean
                             : nn::ParamixerHead::Max;

  nn::ParamixerModel model(c);
  optim::load_weights(args.get_string("--weights"), model);
  model.eval();
  int64_t block = args.get_int("--block");
  PMX_CHECK(block >= 0 && block < int64_t(model.blocks.size()), "[inspect_mixer] --block ", block, " is not in [0, ",
            model.blocks.size(), ")");

  Generator g(uint64_t(args.get_int("--seed")));
  int64_t m1 = args.get_int("--marker1"), m2 = args.get_int("--marker2");
  Tensor input = make_input(c, m1 >= 0 ? m1 : c.seq_len / 4, m2 >= 0 ? m2 : 3 * c.seq_len / 4, g);
  Tensor x = nn::block_weights_input(model, input, block);
  Tensor e = nn::effective_interaction(*model.blocks[size_t(block)], x);

  HeatmapOptions opt;
  std::string scale = args.get_string("--scale");
  PMX_CHECK(scale == "log" || scale == "signed", "[inspect_mixer] --scale must be log or signed, got '", scale, "'");
  opt.scale = scale == "log" ? HeatmapScale::Log10Magnitude : HeatmapScale::Signed;
  opt.decades = args.get_double("--decades");
  opt.cell = cell;
  HeatmapRange r = write_heatmap_png(args.get_string("--out"), e, opt);

  // A text summary: where the largest column norms are (which inputs the block draws on most).
  const int64_t n = e.size(0);
  std::vector<double> v = e.to(DType::Float64).to_vector<double>(), col(size_t(n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) col[size_t(j)] += v[size_t(i * n + j)] * v[size_t(i * n + j)];
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) order[size_t(j)] = j;
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return col[size_t(a)] > col[size_t(b)]; });
  std::printf("block %lld: E is %lld x %lld, M = %lld factors, K = %lld links\n", (long long)block, (long long)n,
              (long long)n, (long long)model.blocks[size_t(block)]->num_factors,
              (long long)model.blocks[size_t(block)]->links);
  std::printf("colour range: [%g, %g] %s\n", r.lo, r.hi, scale == "log" ? "(log10 |E|)" : "(E)");
  std::printf("largest column norms (input positions):");
  for (size_t k = 0; k < std::min<size_t>(8, order.size()); ++k)
    std::printf(" %lld:%.3g", (long long)order[k], std::sqrt(col[size_t(order[k])]));
  std::printf("\nwrote %s\n", args.get_string("--out").c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inspect_mixer: %s\n", e.what());
    return 1;
  }
}
