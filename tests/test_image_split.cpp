// fashion_mlp's validation split (apps/datasets/image_split.h): copies of an image stay together.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "apps/datasets/image_split.h"
#include "core/error.h"

using namespace pmx;
using namespace pmx::apps;

namespace {

// 60 images of 4 x 4: images 0..29 are ten pictures three times each (image i shows picture
// i % 10), images 30..59 are all different. A picture's label is its number mod 3.
void images_with_copies(IdxImages* images, std::vector<uint8_t>* labels) {
  *images = IdxImages{60, 4, 4, std::vector<uint8_t>(60 * 16)};
  labels->clear();
  for (int64_t i = 0; i < 60; ++i) {
    const int64_t picture = i < 30 ? i % 10 : i;
    for (int64_t p = 0; p < 16; ++p) images->pixels[size_t(i * 16 + p)] = uint8_t((picture * 31 + p * 7) % 251);
    labels->push_back(uint8_t(picture % 3));
  }
}

}  // namespace

TEST_CASE("image_split: every copy of an image is on the same side of the validation split") {
  IdxImages images;
  std::vector<uint8_t> labels;
  images_with_copies(&images, &labels);
  for (uint64_t seed = 0; seed < 8; ++seed) {
    INFO("seed " << seed);
    ImageSplit s = grouped_image_split(images, labels, 0.1, seed);
    CHECK(s.train.size() + s.validation.size() == 60);
    CHECK(!s.validation.empty());
    CHECK(std::is_sorted(s.train.begin(), s.train.end()));
    CHECK(std::is_sorted(s.validation.begin(), s.validation.end()));
    std::map<int64_t, int> side;  // picture -> 0 train, 1 validation
    for (int v = 0; v < 2; ++v)
      for (int64_t i : v ? s.validation : s.train) {
        const int64_t picture = i < 30 ? i % 10 : i;
        auto [it, fresh] = side.insert({picture, v});
        CHECK_MESSAGE((fresh || it->second == v), "picture ", picture, " (image ", i, ") is on both sides");
      }
    CHECK(s.duplicate_groups == 10);
    CHECK(s.duplicate_images == 30);
  }
  // The seed decides the split, and only the seed.
  CHECK(grouped_image_split(images, labels, 0.1, 3).validation == grouped_image_split(images, labels, 0.1, 3).validation);
  CHECK(grouped_image_split(images, labels, 0.1, 3).validation != grouped_image_split(images, labels, 0.1, 4).validation);
  CHECK(grouped_image_split(images, labels, 0.0, 3).validation.empty());
  labels.pop_back();
  CHECK_THROWS_WITH_AS(grouped_image_split(images, labels, 0.1, 0), doctest::Contains("60 images but 59 labels"),
                       pmx::Error);
}
