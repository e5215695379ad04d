// The synthetic long-sequence tasks of the Paramixer paper (rules in shared/docs/paramixer.md),
// generated on the fly: a sequence is a pure function of (seed, split, index), so no data set is
// kept in memory, a training step's batch depends only on (seed, step), and train, validation and
// test never share a sequence stream.
//
// Adding problem, length N:
//   v_t = 1 - 2u, u ~ U[0, 1); two distinct positions p1 < p2 chosen uniformly; marker_t = 1 at
//   p1 and p2, else 0. input (B, N, 2) float = (v_t, marker_t); target (B, 1) float
//   y = 0.5 + (v_p1 + v_p2) / 4. A prediction is correct if |y_hat - y| < 0.04.
// Temporal order, length N:
//   tokens uniform in {0, 1, 2, 3}; two distinct positions p1 < p2 overwritten with s1, s2, each
//   X = 4 or Y = 5 with probability 1/2. input (B, N) int64; label (B) int64
//   = 2 [s1 = Y] + [s2 = Y] (4 classes).
//
// Sequence i of a split draws from its own stream: seed_i = random_bits(split_seed, i) with
// split_seed = random_bits(seed, salt of the split); element t uses random_bits(seed_i, t), the
// positions and symbols use the counters N, N + 1, N + 2, N + 3.
//
//   pmx::apps::AddingTask task(/*n=*/1024, /*seed=*/0);
//   pmx::apps::Batch b = task.batch(pmx::apps::Split::Train, /*first=*/step * 40, /*count=*/40);
//   pmx::Tensor loss = task.loss(model(b.input), b.target);      // MSE
//   int64_t ok = task.correct(model(b.input), b.target);         // |y_hat - y| < 0.04
#pragma once
#include <cstdint>
#include <string>

#include "apps/common/trainer.h"

namespace pmx::apps {

// The per-split stream seed (exposed so tests can check the splits are disjoint).
uint64_t split_seed(uint64_t seed, Split split);

// Positions p1 < p2 of sequence stream `stream` for length n >= 2 (uniform over the pairs).
void marker_positions(uint64_t stream, int64_t n, int64_t* p1, int64_t* p2);

// Fills sequences [first, first + count) of a split.
//   values: (count, n, 2) float, targets: (count) float
void adding_generate(float* values, float* targets, uint64_t seed, Split split, int64_t first, int64_t count,
                     int64_t n);
//   tokens: (count, n) int64, labels: (count) int64
void order_generate(int64_t* tokens, int64_t* labels, uint64_t seed, Split split, int64_t first, int64_t count,
                    int64_t n);

// Counts |pred - target| < tolerance; pred and target have the same number of elements.
int64_t count_within(const Tensor& pred, const Tensor& target, double tolerance);
// Counts rows whose argmax (first maximum) equals the label; a row with a NaN logit is wrong.
// logits (B, C), labels (B) int64.
int64_t count_argmax_equal(const Tensor& logits, const Tensor& labels);

constexpr double kAddingTolerance = 0.04;
constexpr int64_t kOrderX = 4, kOrderY = 5, kOrderVocab = 6, kOrderClasses = 4;

class AddingTask : public Task {
 public:
  AddingTask(int64_t n, uint64_t seed);
  std::string name() const override { return "adding"; }
  Batch batch(Split split, int64_t first, int64_t count) const override;
  Tensor loss(const Tensor& output, const Tensor& target) const override;
  int64_t correct(const Tensor& output, const Tensor& target) const override;
  MetricKind metric_kind() const override { return MetricKind::ErrorPct; }

 private:
  int64_t n_;
  uint64_t seed_;
};

class OrderTask : public Task {
 public:
  OrderTask(int64_t n, uint64_t seed);
  std::string name() const override { return "order"; }
  Batch batch(Split split, int64_t first, int64_t count) const override;
  Tensor loss(const Tensor& output, const Tensor& target) const override;
  int64_t correct(const Tensor& output, const Tensor& target) const override;
  MetricKind metric_kind() const override { return MetricKind::AccuracyPct; }

 private:
  int64_t n_;
  uint64_t seed_;
};

}  // namespace pmx::apps
