#include "apps/datasets/example_tasks.h"

#include <algorithm>
#include <numeric>

#include "apps/datasets/synthetic.h"
#include "autograd/ops_loss.h"
#include "core/error.h"

namespace pmx::apps {

// ---- ListOps ------------------------------------------------------------------------------------

namespace {
const std::vector<ListOpsExample>& listops_split(const ListOpsData& d, Split s) {
  return s == Split::Train ? d.train : s == Split::Validation ? d.validation : d.test;
}
const std::vector<PathfinderExample>& pathfinder_split(const PathfinderData& d, Split s) {
  return s == Split::Train ? d.train : s == Split::Validation ? d.validation : d.test;
}
}  // namespace

ListOpsTask::ListOpsTask(const ListOpsData& data, uint64_t seed, int64_t seq_len)
    : data_(data), seed_(seed), seq_len_(seq_len) {
  PMX_CHECK(!data.train.empty(), "[listops] the training split is empty");
  PMX_CHECK(seq_len >= 1, "[listops] seq_len must be positive, got ", seq_len);
}

Batch ListOpsTask::batch(Split split, int64_t first, int64_t count) const {
  const std::vector<ListOpsExample>& part = listops_split(data_, split);
  std::vector<int64_t> rows = task_rows(name(), split, int64_t(part.size()), first, count, seed_);
  Batch b{empty({count, seq_len_}, DType::Int64), empty({count}, DType::Int64)};
  int64_t* x = b.input.data<int64_t>();
  int64_t* y = b.target.data<int64_t>();
  for (int64_t j = 0; j < count; ++j)
    listops_fill_tokens(x + j * seq_len_, y + j, part, size_t(rows[size_t(j)]), 1, size_t(seq_len_));
  return b;
}

Tensor ListOpsTask::loss(const Tensor& output, const Tensor& target) const { return cross_entropy(output, target); }
int64_t ListOpsTask::correct(const Tensor& output, const Tensor& target) const {
  return count_argmax_equal(output, target);
}

// ---- Pathfinder ---------------------------------------------------------------------------------

PathfinderData make_pathfinder_data(int contour_length, size_t train, size_t validation, size_t test, uint64_t seed) {
  PathfinderData d;
  d.contour_length = contour_length;
  d.seed = seed;
  d.train = make_pathfinder_split(train, contour_length, seed, 0);
  d.validation = make_pathfinder_split(validation, contour_length, seed, train);
  d.test = make_pathfinder_split(test, contour_length, seed, train + validation);
  return d;
}

PathfinderData make_pathfinder_fresh_data(int contour_length, size_t validation, size_t test, uint64_t seed) {
  PathfinderData d = make_pathfinder_data(contour_length, 0, validation, test, seed);
  d.fresh_train = true;
  d.fresh_first = validation + test;
  return d;
}

void add_pathfinder_stage(PathfinderData* data, int contour_length, int64_t sequences, size_t images, uint64_t seed) {
  PMX_CHECK(sequences >= 1 && images >= 1, "[pathfinder] a curriculum stage needs sequences and images >= 1, got ",
            sequences, " and ", images);
  const bool main_stream = contour_length == data->contour_length && seed == data->seed;
  PathfinderStage stage;
  stage.contour_length = contour_length;
  stage.sequences = sequences;
  stage.seed = seed;
  if (data->fresh_train) {
    // Validation and test are indices [0, fresh_first) of the main stream: a stage of that stream
    // takes the indices from fresh_first on and moves the main training images past them.
    PMX_CHECK(images == size_t(sequences), "[pathfinder] fresh data: a curriculum stage has a new image for "
              "every sequence, so its images must equal its sequences (", sequences, "), got ", images);
    stage.fresh = true;
    if (main_stream) {
      stage.fresh_first = data->fresh_first;
      data->fresh_first += uint64_t(sequences);
    } else {
      for (const PathfinderStage& earlier : data->curriculum)
        if (earlier.fresh && earlier.contour_length == contour_length && earlier.seed == seed)
          stage.fresh_first = std::max(stage.fresh_first, earlier.fresh_first + uint64_t(earlier.sequences));
    }
  } else {
    // [0, images) of the main stream is the training split only while images <= its size.
    PMX_CHECK(!main_stream || images <= data->train.size(), "[pathfinder] a curriculum stage of ", contour_length,
              " dashes (the main contour length) may have at most the ", data->train.size(),
              " training images, not ", images, ": more would be validation or test images");
    stage.images = make_pathfinder_split(images, contour_length, seed, 0);
  }
  data->curriculum.push_back(std::move(stage));
}

PathfinderTask::PathfinderTask(const PathfinderData& data, uint64_t seed) : data_(data), seed_(seed) {
  PMX_CHECK(!data.train.empty() || data.fresh_train, "[pathfinder] the training split is empty");
}

Batch PathfinderTask::batch(Split split, int64_t first, int64_t count) const {
  const std::vector<PathfinderExample>* part = &pathfinder_split(data_, split);
  std::string stage_name = name();
  const PathfinderStage* in_stage = nullptr;
  if (split == Split::Train) {
    for (const PathfinderStage& stage : data_.curriculum) {
      if (first < stage.sequences) {
        PMX_CHECK(first + count <= stage.sequences, "[pathfinder] training sequences [", first, ", ", first + count,
                  ") straddle the end of the curriculum stage of ", stage.contour_length,
                  " dashes: make each stage a whole number of batches");
        in_stage = &stage;
        part = &stage.images;
        stage_name = "pathfinder" + std::to_string(stage.contour_length) + " curriculum";
        break;
      }
      first -= stage.sequences;
    }
  }
  // Fresh training images are made now, one per sequence, in order; the rest are looked up.
  std::vector<PathfinderExample> fresh;
  std::vector<int64_t> rows;
  const bool fresh_main = !in_stage && split == Split::Train && data_.fresh_train;
  if (fresh_main || (in_stage && in_stage->fresh)) {
    fresh = fresh_main ? make_pathfinder_split(size_t(count), data_.contour_length, data_.seed,
                                               data_.fresh_first + uint64_t(first))
                       : make_pathfinder_split(size_t(count), in_stage->contour_length, in_stage->seed,
                                               in_stage->fresh_first + uint64_t(first));
    part = &fresh;
    rows.resize(size_t(count));
    std::iota(rows.begin(), rows.end(), int64_t(0));
  } else {
    rows = task_rows(stage_name, split, int64_t(part->size()), first, count, seed_);
  }
  Batch b{empty({count, int64_t(kPathfinderPixels)}, DType::Int64), empty({count}, DType::Int64)};
  int64_t* x = b.input.data<int64_t>();
  int64_t* y = b.target.data<int64_t>();
  for (int64_t j = 0; j < count; ++j)
    pathfinder_fill_tokens(x + j * kPathfinderPixels, y + j, *part, size_t(rows[size_t(j)]), 1);
  return b;
}

Tensor PathfinderTask::loss(const Tensor& output, const Tensor& target) const {
  return cross_entropy(output, target);
}
int64_t PathfinderTask::correct(const Tensor& output, const Tensor& target) const {
  return count_argmax_equal(output, target);
}

// ---- sequential images --------------------------------------------------------------------------

void pad_to_32(uint16_t* out, const uint8_t* image, int64_t rows, int64_t cols) {
  PMX_CHECK(rows >= 1 && cols >= 1 && rows <= kSeqImageSide && cols <= kSeqImageSide,
            "[sequential_images] images must be at most 32 x 32, got ", rows, " x ", cols);
  const int64_t top = (kSeqImageSide - rows) / 2, left = (kSeqImageSide - cols) / 2;
  for (int64_t i = 0; i < kSeqImageLen; ++i) out[i] = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[(top + r) * kSeqImageSide + left + c] = image[r * cols + c];
}

TokenDataset sequential_images(const FashionMnist& data, double val_fraction, uint64_t seed) {
  const IdxImages& tr = data.train_images;
  const IdxImages& te = data.test_images;
  PMX_CHECK(int64_t(data.train_labels.size()) == tr.count && int64_t(data.test_labels.size()) == te.count,
            "[sequential_images] ", tr.count, " / ", te.count, " images but ", data.train_labels.size(), " / ",
            data.test_labels.size(), " labels");
  TokenDataset out;
  out.seq_len = kSeqImageLen;
  out.vocab = kSeqImageVocab;
  out.padding_idx = -1;
  out.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  out.source_names = {"train", "t10k"};
  const int64_t pixels = tr.rows * tr.cols;
  std::vector<int64_t> labels(size_t(tr.count));
  std::vector<uint64_t> groups(size_t(tr.count));
  for (int64_t i = 0; i < tr.count; ++i) {
    labels[size_t(i)] = data.train_labels[size_t(i)];
    groups[size_t(i)] = content_hash(tr.pixels.data() + i * pixels, size_t(pixels));
  }
  std::vector<Split> where = assign_splits(labels, groups, val_fraction, 0.0, seed);
  auto add = [&](TokenSplit& part, const IdxImages& imgs, int64_t i, int64_t label, int32_t source) {
    size_t at = part.tokens.size();
    part.tokens.resize(at + size_t(kSeqImageLen));
    pad_to_32(part.tokens.data() + at, imgs.pixels.data() + i * imgs.rows * imgs.cols, imgs.rows, imgs.cols);
    part.labels.push_back(label);
    part.sources.push_back(source);
  };
  for (int64_t i = 0; i < tr.count; ++i)
    add(where[size_t(i)] == Split::Validation ? out.validation : out.train, tr, i, labels[size_t(i)], 0);
  for (int64_t i = 0; i < te.count; ++i) add(out.test, te, i, data.test_labels[size_t(i)], 1);
  return out;
}

}  // namespace pmx::apps
