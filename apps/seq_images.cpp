// seq_images: Paramixer (or the Transformer baseline) on sequential Fashion-MNIST: every image
// zero-padded to 32x32 and read row by row as N = 1024 grey-level tokens (vocab 256), 10 classes.
// It stands in for the paper's grey CIFAR-10 (a different, easier data set), with the paper's
// Image config as the default: d = 32, h = 32, L = 1, position table, FLATTEN, p1 = 0.2,
// p2 = 0.8, lr 1e-3, batch 64. 10 % of the training images (seeded, per class) validate.
//
// Fashion-MNIST is found under --data-dir or its Debian system path, else fetched there with
// apt-get download (apps/datasets/fashion_mnist.h).
//
//   ./build/apps/seq_images --threads 1 --max-minutes 10 --summary seq_images.json
//   ./build/apps/seq_images --protocol cdil
//   ./build/apps/seq_images --resume seq_images_paramixer.ckpt
#include <cstdio>
#include <iostream>
#include <sstream>

#include "apps/common/json.h"
#include "apps/common/model_flags.h"
#include "apps/datasets/example_tasks.h"
#include "core/error.h"

using namespace pmx;

namespace {

int run(int argc, char** argv) {
  apps::ArgParser args("seq_images", "Train Paramixer or a Transformer on sequential Fashion-MNIST (N = 1024).");
  apps::ModelDefaults d;
  d.dim = 32;
  d.hidden = 32;
  d.layers = 1;
  d.p1 = 0.2;
  d.p2 = 0.8;
  d.batch = 64;
  d.lr = 1e-3;
  apps::declare_model_flags(args, d);
  apps::declare_data_dir_flag(args, "fashion-mnist");
  args.add_double("--val-fraction", 0.1, "share of the training images held out for validation");
  args.parse(argc, argv);
  if (args.help_requested()) {
    std::cout << args.help();
    return 0;
  }
  uint64_t seed = apps::apply_run_flags(args);
  double val_fraction = args.get_double("--val-fraction");
  PMX_CHECK(val_fraction > 0 && val_fraction < 1, "--val-fraction must be in (0, 1), got ", val_fraction);
  apps::check_run_output_paths(args, "seq_images", "");  // before the data is loaded or fetched
  const std::string dir = apps::data_dir(args, "fashion-mnist");
  apps::TokenDataset data = apps::sequential_images(apps::load_fashion_mnist(dir), val_fraction, seed);
  std::ostringstream sized_by;
  sized_by << "--val-fraction " << val_fraction;
  apps::require_validation_rows(data, sized_by.str());  // else the first evaluation would fail, after training
  std::printf("seq_images: %s\n", apps::describe_counts(data).c_str());
  std::ostringstream data_json;
  data_json << "{\"dataset\":\"fashion-mnist\",\"val_fraction\":" << apps::json_number(val_fraction) << "}";
  return apps::run_token_classification(args, "seq_images", "", data, "seq_fashion_mnist", seed, data_json.str());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seq_images: error: %s\n", e.what());
    return 1;
  }
}
