// A validation split of an image set that keeps copies together: every image with the same bytes
// as another lands on the same side, so a duplicate is never both trained on and validated.
//
// The group key is content_hash over the image's bytes, and the split is assign_splits
// (token_dataset.h) with no test fraction: stratified by label, dealt by the seed, the same on
// every platform. Fashion-MNIST's own test set stays the test set.
//
//   ImageSplit s = grouped_image_split(data.train_images, data.train_labels, 0.1, seed);
//   s.train, s.validation;   // image indices, ascending
#pragma once
#include <cstdint>
#include <vector>

#include "apps/datasets/idx.h"

namespace pmx::apps {

struct ImageSplit {
  std::vector<int64_t> train, validation;  // indices into the image set, ascending
  int64_t duplicate_groups = 0;            // how many distinct images occur more than once
  int64_t duplicate_images = 0;            // how many images are in those groups
};

// Throws pmx::Error unless labels.size() == images.count and 0 <= val_fraction < 1.
ImageSplit grouped_image_split(const IdxImages& images, const std::vector<uint8_t>& labels, double val_fraction,
                               uint64_t seed);

}  // namespace pmx::apps
