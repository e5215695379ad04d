// Token-sequence datasets shared by the real-data apps: the container, its seeded, leak-free
// split, and its adapter to the trainer's Task interface.
//
// Splits: items that share a group key (identical content, or one strain) always land in the same
// split, so a duplicate can never be both trained on and tested. Within each label the groups are
// shuffled by the seed and dealt to test, then validation, until each holds its fraction of that
// label's items; the rest is train. The shuffle uses random_bits (core/random.h), not std::shuffle,
// so a seed gives the same split with any standard library.
//
//   std::vector<Split> where = assign_splits(labels, content_keys, 0.1, 0.1, /*seed=*/0);
//   Batch b = TokenClassificationTask(data, "spam", seed).batch(Split::Train, 0, 32);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/trainer.h"

namespace pmx::apps {



// One split: `count` sequences of seq_len tokens (already padded), one label each.
struct TokenSplit {
  std::vector<uint16_t> tokens;  // (count, seq_len)
  std::vector<int64_t> labels;   // (count)
  std::vector<int32_t> sources;  // (count) index into TokenDataset::source_names (group, file, strain)
  int64_t count() const { return int64_t(labels.size()); }
};

struct TokenDataset {
  int64_t seq_len = 0;
  int64_t vocab = 0;         // token ids are in [0, vocab)
  int64_t padding_idx = 0;   // the id that fills a short sequence
  std::vector<std::string> class_names;
  std::vector<std::string> source_names;  // where rows came from, for reports and leak checks
  TokenSplit train, validation, test;
  const TokenSplit& split(Split s) const;
  int64_t classes() const { return int64_t(class_names.size()); }
};

// 64-bit FNV-1a: the content key that groups duplicates. Pass the hash of earlier bytes as `h` to
// go on hashing after them (content_hash(b, nb, content_hash(a, na)) is the hash of a then b).
constexpr uint64_t kContentHashStart = 0xcbf29ce484222325ull;
uint64_t content_hash(const void* data, size_t bytes, uint64_t h = kContentHashStart);
// Fisher-Yates driven by random_bits(seed, i): the same order on every platform.
void seeded_shuffle(std::vector<int64_t>& items, uint64_t seed);

// The split of each item (see the header comment). labels >= 0; groups.size() == labels.size();
// fractions in [0, 1) with val_fraction + test_fraction < 1.
std::vector<Split> assign_splits(const std::vector<int64_t>& labels, const std::vector<uint64_t>& groups,
                                 double val_fraction, double test_fraction, uint64_t seed);

// "train 4836 (ham 3320, spam 1516), validation ..." for the log.
std::string describe_counts(const TokenDataset& data);

// The rows of sequences [first, first + count) of a split of `rows` rows (the rule of TokenClassificationTask
// below: train rows reshuffled per epoch by the seed, evaluation rows in one fixed shuffled order, so a
// prefix of an evaluation split is a random sample of it).
// Throws pmx::Error naming `task` when an evaluation range runs past the split.
std::vector<int64_t> task_rows(const std::string& task, Split split, int64_t rows, int64_t first, int64_t count,
                               uint64_t seed);

// A TokenDataset as a trainer Task: classification with cross-entropy, accuracy in %.
// Train sequence i (any i >= 0) is row perm_e[i % count] with epoch e = i / count and perm_e a
// seeded shuffle, so a step's batch is a pure function of (seed, step). Validation and test rows
// are taken in one fixed shuffled order (task_rows above) and must lie inside the split (an eval
// size beyond it throws).
// input (count, seq_len) int64, target (count) int64. Holds a reference: `data` must outlive it.
class TokenClassificationTask : public Task {
 public:
  TokenClassificationTask(const TokenDataset& data, std::string name, uint64_t seed);
  std::string name() const override { return name_; }
  Batch batch(Split split, int64_t first, int64_t count) const override;
  Tensor loss(const Tensor& output, const Tensor& target) const override;
  int64_t correct(const Tensor& output, const Tensor& target) const override;
  MetricKind metric_kind() const override { return MetricKind::AccuracyPct; }

 private:
  const TokenDataset& data_;
  std::string name_;
  uint64_t seed_;
};

}  // namespace pmx::apps
