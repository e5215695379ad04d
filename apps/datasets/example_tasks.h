// Trainer Tasks over examples held in memory in their compact form (ListOps token bytes,
// Pathfinder pixels), and Fashion-MNIST as a sequential-image TokenDataset.
//
// Batches follow TokenClassificationTask's rule: train sequence i (any i >= 0) is row
// perm_e[i % count] of the train split, e = i / count, perm_e = seeded_shuffle(random_bits(seed, e));
// validation and test rows are taken in one fixed shuffled order (task_rows) and must lie inside
// the split. So a step's batch is a pure function of (seed, step) and the data. input (count, N)
// int64 tokens, target (count) int64; loss = cross-entropy, metric = accuracy %. The tasks hold a
// reference: the data must outlive them.
//
// Sequential images: every 28x28 image is zero-padded by 2 px per side to 32x32 and read row by
// row as N = 1024 grey-level tokens (vocab 256, no padding id: 0 is black). The last
// val_fraction of a seeded shuffle of the 60k training images, per class, is the validation split
// (assign_splits); the 10k test images are the test split.
//
//   ListOpsData d = make_listops_splits(2000, 200, 200, seed);
//   ListOpsTask task(d, seed);                      // input (B, 2000), 10 classes
//   PathfinderData p = make_pathfinder_data(6, 20000, 2000, 2000, seed);
//   PathfinderTask ptask(p, seed);                  // input (B, 1024), 2 classes
//   TokenDataset img = sequential_images(load_fashion_mnist(dir), 0.1, seed);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/trainer.h"
#include "apps/datasets/fashion_mnist.h"
#include "apps/datasets/listops.h"
#include "apps/datasets/pathfinder.h"
#include "apps/datasets/token_dataset.h"

namespace pmx::apps {

class ListOpsTask : public Task {
 public:
  ListOpsTask(const ListOpsData& data, uint64_t seed, int64_t seq_len = int64_t(kListOpsSeqLen));
  std::string name() const override { return "listops"; }
  Batch batch(Split split, int64_t first, int64_t count) const override;
  Tensor loss(const Tensor& output, const Tensor& target) const override;
  int64_t correct(const Tensor& output, const Tensor& target) const override;
  MetricKind metric_kind() const override { return MetricKind::AccuracyPct; }

 private:
  const ListOpsData& data_;
  uint64_t seed_;
  int64_t seq_len_;
};

// A curriculum stage: the first training sequences come from images with shorter paths.
struct PathfinderStage {
  int contour_length = 2;
  int64_t sequences = 0;                  // training sequences drawn from this stage
  std::vector<PathfinderExample> images;  // PathfinderGenerator(contour_length, seed), [0, count)
  // Fresh stage (one of fresh data): `images` is empty and stage sequence j is image
  // fresh_first + j of PathfinderGenerator(contour_length, seed), generated when asked for.
  bool fresh = false;
  uint64_t seed = 0;
  uint64_t fresh_first = 0;
};

struct PathfinderData {
  int contour_length = 6;
  uint64_t seed = 0;  // of PathfinderGenerator(contour_length, seed), which made the splits
  std::vector<PathfinderExample> train, validation, test;
  std::vector<PathfinderStage> curriculum;  // in order; empty: train on `train` from the start
  // Fresh training images: `train` is empty and training sequence i (after the curriculum) is
  // image fresh_first + i, generated when its batch is asked for. fresh_first is the first index
  // nothing else uses: validation + test, moved on by every fresh stage of contour_length.
  bool fresh_train = false;
  uint64_t fresh_first = 0;
};
// Images [0, train), then validation, then test of PathfinderGenerator(contour_length, seed):
// disjoint index ranges, so no image is in two splits.
PathfinderData make_pathfinder_data(int contour_length, size_t train, size_t validation, size_t test, uint64_t seed);
// Validation [0, validation), test after it, and a new training image for every training
// sequence from index validation + test on (past any fresh curriculum stage of the same contour
// length): no training image repeats and none is kept in memory (1.6 M stored images would take
// 1.6 GB and ~2 minutes to make up front).
PathfinderData make_pathfinder_fresh_data(int contour_length, size_t validation, size_t test, uint64_t seed);
// Appends a curriculum stage of `contour_length` dashes (2 to 14) that serves the next
// `sequences` training sequences. No stage image is a validation or test image:
// - stored data (make_pathfinder_data): `images` stored images, [0, images) of
//   PathfinderGenerator(contour_length, seed), repeated in shuffled epochs. Another contour length
//   or seed is another generator stream; with the main ones those are training images, so
//   `images` may not exceed the training split (pmx::Error).
// - fresh data (make_pathfinder_fresh_data): a new image for every sequence, made when asked for,
//   so `images` must equal `sequences` (pmx::Error). They take the next `sequences` indices of
//   their stream that nothing else uses: with the main contour length and seed, from fresh_first
//   on (after validation and test; the main training images then start after the stage), else
//   after the earlier fresh stages of that stream (from 0 for the first).
void add_pathfinder_stage(PathfinderData* data, int contour_length, int64_t sequences, size_t images, uint64_t seed);

// Train sequence i: while i < the curriculum's total sequences, sequence j = i - (earlier stages'
// sequences) of the stage it falls in, by the rule above over that stage's images (a fresh
// stage: its image fresh_first + j); after that,
// sequence i - total of the main training split (or, with fresh_train, image fresh_first + that).
// A batch may not straddle two stages (the app makes every stage a whole number of steps).
// Validation and test: always the main splits.
class PathfinderTask : public Task {
 public:
  PathfinderTask(const PathfinderData& data, uint64_t seed);
  std::string name() const override { return "pathfinder" + std::to_string(data_.contour_length); }
  Batch batch(Split split, int64_t first, int64_t count) const override;
  Tensor loss(const Tensor& output, const Tensor& target) const override;
  int64_t correct(const Tensor& output, const Tensor& target) const override;
  MetricKind metric_kind() const override { return MetricKind::AccuracyPct; }

 private:
  const PathfinderData& data_;
  uint64_t seed_;
};

constexpr int64_t kSeqImageSide = 32, kSeqImageLen = 1024, kSeqImageVocab = 256;
// Pads and splits Fashion-MNIST as described above; class names are the Fashion-MNIST ones.
TokenDataset sequential_images(const FashionMnist& data, double val_fraction, uint64_t seed);
// out (1024): the image (rows x cols <= 32 x 32) centred in a zero 32x32 frame, row-major.
void pad_to_32(uint16_t* out, const uint8_t* image, int64_t rows, int64_t cols);

}  // namespace pmx::apps
