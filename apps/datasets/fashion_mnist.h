// Fashion-MNIST (70k real 28x28 grey images, 10 classes), found or fetched on first use.
//
// Looked for in `data_dir`, then in /usr/share/datasets/fashion-mnist (the Debian package).
// If neither has it, scripts/fetch_fashion_mnist.sh downloads the Debian package into data_dir
// (apt-get download + dpkg -x, no system install); if that fails the error says which command
// to run by hand.
//
//   FashionMnist data = load_fashion_mnist(default_data_dir("fashion-mnist"));
//   data.train_images;   // (60000, 28, 28) uint8
#pragma once
#include <string>
#include <vector>

#include "apps/datasets/idx.h"

namespace pmx::apps {

struct FashionMnist {
  IdxImages train_images, test_images;
  std::vector<uint8_t> train_labels, test_labels;
};

// ~/.cache/pmx/<name> (or $PMX_DATA_DIR/<name> when set).
std::string default_data_dir(const std::string& name);
FashionMnist load_fashion_mnist(const std::string& data_dir);

}  // namespace pmx::apps
