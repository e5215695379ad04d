// make_listops: prints a few generated ListOps examples as text (label, length, expression) and
// the statistics of a larger sample, to look at the generator's output.
//
//   ./build/apps/make_listops --show 3 --sample 5000 --seed 0
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "apps/common/args.h"
#include "apps/datasets/listops.h"
#include "core/timer.h"

using namespace pmx;

int main(int argc, char** argv) {
  try {
    apps::ArgParser args("make_listops", "Print generated ListOps examples and sample statistics.");
    args.add_int("--show", 3, "examples printed in full (0 to 1000000)");
    args.add_int("--sample", 5000, "examples generated for the statistics (1 to 1000000)");
    args.add_int("--seed", 0, "generator seed");
    args.parse(argc, argv);
    if (args.help_requested()) {
      std::printf("%s", args.help().c_str());
      return 0;
    }
    // Checked as int64 before the size_t cast: -5 became 2^64 - 5 (vector::reserve), and an
    // empty sample printed "-nan%" statistics with exit 0. The cap keeps a run to minutes.
    const int64_t sample = args.get_int("--sample", 1, apps::kListOpsMaxExamples),
                  show = args.get_int("--show", 0, apps::kListOpsMaxExamples);
    apps::ListOpsStats stats;
    const size_t n = size_t(std::max(sample, show));
    Timer timer;
    std::vector<apps::ListOpsExample> split =
        apps::make_listops_split(n, uint64_t(args.get_int("--seed")), /*salt=*/0x74726169ull, {}, &stats);
    double seconds = timer.seconds();
    for (int64_t i = 0; i < show; ++i)
      std::printf("label %d, %zu tokens: %s\n\n", split[i].label, split[i].tokens.size(),
                  apps::listops_text(split[i].tokens).c_str());
    double length = 0;
    size_t labels[10] = {0};
    for (const auto& e : split) {
      length += double(e.tokens.size());
      ++labels[e.label];
    }
    std::printf("%zu examples in %.2f s: %llu draws, %.2f%% accepted, %llu duplicates, mean length %.1f\nlabels:",
                split.size(), seconds, (unsigned long long)stats.draws, 100.0 * double(stats.accepted) / double(stats.draws),
                (unsigned long long)stats.duplicates, length / double(split.size()));
    for (int v = 0; v < 10; ++v) std::printf(" %d: %.1f%%", v, 100.0 * double(labels[v]) / double(split.size()));
    std::printf("\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_listops: %s\n", e.what());
    return 1;
  }
}
