#include "apps/datasets/fashion_mnist.h"

#include <iostream>

#include "apps/datasets/fetch.h"
#include "core/error.h"

namespace pmx::apps {

// The Debian package dataset-fashion-mnist (MIT), files and exact sizes.
static const char* kPackageDir = "usr/share/datasets/fashion-mnist/";
static const std::vector<ExpectedFile> kFiles = {
    {"usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", 26421856},
    {"usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz", 29491},
    {"usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", 4422079},
    {"usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", 5125}};

FashionMnist load_fashion_mnist(const std::string& data_dir) {
  std::string root = ensure_deb_files(data_dir, "dataset-fashion-mnist", kFiles, std::cerr);
  std::string dir = (root == "/" ? std::string("/") : root + "/") + kPackageDir;
  FashionMnist data;
  data.train_images = read_idx_images(dir + "train-images-idx3-ubyte.gz");
  data.train_labels = read_idx_labels(dir + "train-labels-idx1-ubyte.gz", 10);
  data.test_images = read_idx_images(dir + "t10k-images-idx3-ubyte.gz");
  data.test_labels = read_idx_labels(dir + "t10k-labels-idx1-ubyte.gz", 10);
  PMX_CHECK(data.train_images.count == 60000 && data.train_labels.size() == 60000 &&
                data.test_images.count == 10000 && data.test_labels.size() == 10000,
            "Fashion-MNIST in ", dir, " has unexpected record counts (", data.train_images.count, " / ",
            data.train_labels.size(), " train, ", data.test_images.count, " / ", data.test_labels.size(),
            " test); expected 60000 and 10000");
  return data;
}

}  // namespace pmx::apps
