// Fashion-MNIST (70k real 28x28 grey images, 10 classes), found or fetched on first use.
//
// The Debian package dataset-fashion-mnist: looked for under `data_dir`, then at its system path
// (installed package); otherwise fetched into data_dir with apt-get download, no system install
// (apps/datasets/fetch.h). If that fails the error says which command to run by hand.
//
//   FashionMnist data = load_fashion_mnist(default_data_dir("fashion-mnist"));
//   data.train_images;   // (60000, 28, 28) uint8
#pragma once
#include <string>
#include <vector>

#include "apps/datasets/fetch.h"
#include "apps/datasets/idx.h"

namespace pmx::apps {

struct FashionMnist {
  IdxImages train_images, test_images;
  std::vector<uint8_t> train_labels, test_labels;
};

FashionMnist load_fashion_mnist(const std::string& data_dir);

}  // namespace pmx::apps
