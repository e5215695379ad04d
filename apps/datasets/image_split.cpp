#include "apps/datasets/image_split.h"

#include <algorithm>

#include "apps/datasets/token_dataset.h"
#include "core/error.h"

namespace pmx::apps {

ImageSplit grouped_image_split(const IdxImages& images, const std::vector<uint8_t>& labels, double val_fraction,
                               uint64_t seed) {
  PMX_CHECK(int64_t(labels.size()) == images.count, "[grouped_image_split] ", images.count, " images but ",
            labels.size(), " labels");
  PMX_CHECK(val_fraction >= 0 && val_fraction < 1, "[grouped_image_split] val_fraction must be in [0, 1), got ",
            val_fraction);
  const size_t pixels = size_t(images.rows * images.cols);
  std::vector<int64_t> label(labels.begin(), labels.end());
  std::vector<uint64_t> key(size_t(images.count));
  for (size_t i = 0; i < key.size(); ++i) key[i] = content_hash(images.pixels.data() + i * pixels, pixels);
  std::vector<Split> where = assign_splits(label, key, val_fraction, 0.0, seed);
  ImageSplit out;
  for (size_t i = 0; i < where.size(); ++i)
    (where[i] == Split::Validation ? out.validation : out.train).push_back(int64_t(i));
  std::sort(key.begin(), key.end());
  for (size_t i = 0; i < key.size();) {
    size_t j = i;
    while (j < key.size() && key[j] == key[i]) ++j;
    if (j - i > 1) ++out.duplicate_groups, out.duplicate_images += int64_t(j - i);
    i = j;
  }
  return out;
}

}  // namespace pmx::apps
