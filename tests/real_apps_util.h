// Helpers shared by the real-task app tests (test_real_apps.cpp, test_real_apps_runs.cpp).
#pragma once
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/common/model_flags.h"
#include "apps/datasets/example_tasks.h"
#include "core/error.h"
#include "core/random.h"
#include "core/threads.h"
#include "layers/paramixer_model.h"
#include "layers/transformer.h"

#include "test_util.h"

namespace pmx_test {

// (Test code only: the helpers below use the library's and the apps' names unqualified.)
using namespace pmx;
using namespace pmx::apps;

// apply_run_flags sets the thread count and the default generator; tests put both back.
struct StateGuard {
  int threads = get_num_threads();
  GeneratorState saved = default_generator().state();
  ~StateGuard() {
    set_num_threads(threads);
    default_generator().set_state(saved);
  }
};

inline ArgParser parsed(const ModelDefaults& d, std::vector<std::string> argv) {
  ArgParser args("test", "test");
  declare_model_flags(args, d);
  argv.insert(argv.begin(), "test");
  std::vector<char*> ptrs;
  for (std::string& s : argv) ptrs.push_back(s.data());
  args.parse(int(ptrs.size()), ptrs.data());
  return args;
}

inline bool same_batch(const Batch& a, const Batch& b) {
  return a.input.to_vector<int64_t>() == b.input.to_vector<int64_t>() &&
         a.target.to_vector<int64_t>() == b.target.to_vector<int64_t>();
}

// A few tiny-model flags, so an end-to-end run takes well under a second per step.
inline std::vector<std::string> tiny_run(const std::string& summary, std::vector<std::string> extra = {}) {
  std::vector<std::string> v = {"--dim",  "8",    "--hidden",     "8",    "--steps", "3",    "--batch",
                                "4",      "--eval-every", "2", "--eval-size", "8", "--test-size", "8",
                                "--checkpoint", "none", "--log", "none", "--plot", "none", "--quiet",
                                "--summary", summary};
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

// A stand-in for Fashion-MNIST: 40 training images (classes 0 and 1 alternating) and 6 test
// images, 28 x 28, pixels 1..250 in a fixed pattern.
inline FashionMnist stand_in_fashion_mnist() {
  FashionMnist f;
  f.train_images = IdxImages{40, 28, 28, std::vector<uint8_t>(40 * 784)};
  f.test_images = IdxImages{6, 28, 28, std::vector<uint8_t>(6 * 784)};
  for (size_t i = 0; i < f.train_images.pixels.size(); ++i) f.train_images.pixels[i] = uint8_t(1 + (i * 7) % 250);
  for (size_t i = 0; i < f.test_images.pixels.size(); ++i) f.test_images.pixels[i] = uint8_t(1 + (i * 11) % 250);
  for (int i = 0; i < 40; ++i) f.train_labels.push_back(uint8_t(i % 2));
  for (int i = 0; i < 6; ++i) f.test_labels.push_back(uint8_t(i % 2));
  return f;
}

}  // namespace pmx_test
