#include "apps/datasets/fashion_mnist.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "core/error.h"

#ifndef PMX_SOURCE_DIR
#define PMX_SOURCE_DIR "."
#endif

namespace pmx::apps {

static bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string default_data_dir(const std::string& name) {
  if (const char* root = std::getenv("PMX_DATA_DIR")) return std::string(root) + "/" + name;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/pmx/" + name;
}

static const char* kFiles[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

static bool complete(const std::string& dir) {
  for (const char* f : kFiles)
    if (!exists(dir + "/" + f)) return false;
  return true;
}

FashionMnist load_fashion_mnist(const std::string& data_dir) {
  std::string dir = data_dir;
  if (!complete(dir)) {
    const std::string system_dir = "/usr/share/datasets/fashion-mnist";
    if (complete(system_dir)) {
      dir = system_dir;
    } else {
      std::string script = std::string(PMX_SOURCE_DIR) + "/scripts/fetch_fashion_mnist.sh";
      std::string cmd = "bash '" + script + "' '" + data_dir + "'";
      std::fprintf(stderr, "Fashion-MNIST not found in %s; fetching: %s\n", data_dir.c_str(), cmd.c_str());
      int rc = std::system(cmd.c_str());
      PMX_CHECK(rc == 0 && complete(data_dir), "Fashion-MNIST is missing from ", data_dir,
                " and fetching it failed. Get it with: ", cmd,
                "  (or: apt-get install dataset-fashion-mnist)");
    }
  }
  FashionMnist data;
  data.train_images = read_idx_images(dir + "/" + kFiles[0]);
  data.train_labels = read_idx_labels(dir + "/" + kFiles[1], 10);
  data.test_images = read_idx_images(dir + "/" + kFiles[2]);
  data.test_labels = read_idx_labels(dir + "/" + kFiles[3], 10);
  PMX_CHECK(data.train_images.count == 60000 && data.train_labels.size() == 60000 &&
                data.test_images.count == 10000 && data.test_labels.size() == 10000,
            "Fashion-MNIST in ", dir, " has unexpected record counts (", data.train_images.count, " / ",
            data.train_labels.size(), " train, ", data.test_images.count, " / ", data.test_labels.size(),
            " test); expected 60000 and 10000");
  return data;
}

}  // namespace pmx::apps
