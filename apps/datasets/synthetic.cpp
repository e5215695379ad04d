#include "apps/datasets/synthetic.h"

#include <cmath>

#include "autograd/ops_loss.h"
#include "core/error.h"
#include "core/random.h"
#include "core/shape.h"

namespace pmx::apps {

namespace {

// Distinct salts, so the three splits hash to unrelated stream seeds.
constexpr uint64_t kSplitSalt[3] = {0x7261696eull, 0x76616c69ull, 0x74657374ull};

// Draws in [0, k) with 53 random bits: the bias of the floor is below 2^-40 for any k here.
int64_t uniform_int(uint64_t stream, uint64_t counter, int64_t k) {
  int64_t v = int64_t(random_uniform(stream, counter) * double(k));
  return v < k ? v : k - 1;
}

uint64_t sequence_stream(uint64_t split_seed_value, int64_t index) {
  return random_bits(split_seed_value, uint64_t(index));
}

void check_range(const char* op, int64_t first, int64_t count, int64_t n) {
  PMX_CHECK(n >= 2, "[", op, "] sequence length must be >= 2, got ", n);
  PMX_CHECK(first >= 0 && count >= 1, "[", op, "] needs first >= 0 and count >= 1, got first ", first, ", count ",
            count);
}

}  // namespace

uint64_t split_seed(uint64_t seed, Split split) { return random_bits(seed, kSplitSalt[int(split)]); }

void marker_positions(uint64_t stream, int64_t n, int64_t* p1, int64_t* p2) {
  // A uniform pair: the first of n, the second of the remaining n - 1 (skipping the first).
  int64_t a = uniform_int(stream, uint64_t(n), n);
  int64_t b = uniform_int(stream, uint64_t(n) + 1, n - 1);
  if (b >= a) ++b;
  *p1 = a < b ? a : b;
  *p2 = a < b ? b : a;
}

void adding_generate(float* values, float* targets, uint64_t seed, Split split, int64_t first, int64_t count,
                     int64_t n) {
  // values: (count, n, 2), targets: (count)
  uint64_t ss = split_seed(seed, split);
#pragma omp parallel for schedule(static) if (count * n > 65536)
  for (int64_t i = 0; i < count; ++i) {
    uint64_t stream = sequence_stream(ss, first + i);
    float* row = values + i * n * 2;  // (n, 2)
    for (int64_t t = 0; t < n; ++t) {
      row[2 * t] = float(1.0 - 2.0 * random_uniform(stream, uint64_t(t)));
      row[2 * t + 1] = 0.f;
    }
    int64_t p1, p2;
    marker_positions(stream, n, &p1, &p2);
    row[2 * p1 + 1] = 1.f;
    row[2 * p2 + 1] = 1.f;
    targets[i] = 0.5f + (row[2 * p1] + row[2 * p2]) / 4.f;
  }
}

void order_generate(int64_t* tokens, int64_t* labels, uint64_t seed, Split split, int64_t first, int64_t count,
                    int64_t n) {
  // tokens: (count, n), labels: (count)
  uint64_t ss = split_seed(seed, split);
#pragma omp parallel for schedule(static) if (count * n > 65536)
  for (int64_t i = 0; i < count; ++i) {
    uint64_t stream = sequence_stream(ss, first + i);
    int64_t* row = tokens + i * n;  // (n)
    for (int64_t t = 0; t < n; ++t) row[t] = uniform_int(stream, uint64_t(t), 4);
    int64_t p1, p2;
    marker_positions(stream, n, &p1, &p2);
    bool y1 = random_bits(stream, uint64_t(n) + 2) >> 63, y2 = random_bits(stream, uint64_t(n) + 3) >> 63;
    row[p1] = y1 ? kOrderY : kOrderX;
    row[p2] = y2 ? kOrderY : kOrderX;
    labels[i] = 2 * int64_t(y1) + int64_t(y2);
  }
}

int64_t count_within(const Tensor& pred, const Tensor& target, double tolerance) {
  PMX_CHECK(pred.numel() == target.numel(), "[count_within] prediction ", shape_str(pred.shape()), " and target ",
            shape_str(target.shape()), " differ in size");
  std::vector<double> p = pred.to(DType::Float64).to_vector<double>();
  std::vector<double> y = target.to(DType::Float64).to_vector<double>();
  int64_t ok = 0;
  for (size_t i = 0; i < p.size(); ++i) ok += std::fabs(p[i] - y[i]) < tolerance;  // NaN counts as wrong
  return ok;
}

int64_t count_argmax_equal(const Tensor& logits, const Tensor& labels) {
  PMX_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.size(0) == logits.size(0),
            "[count_argmax_equal] expected logits (B, C) and labels (B), got ", shape_str(logits.shape()), " and ",
            shape_str(labels.shape()));
  PMX_CHECK(labels.dtype() == DType::Int64, "[count_argmax_equal] labels must be int64");
  std::vector<double> l = logits.to(DType::Float64).to_vector<double>();
  std::vector<int64_t> y = labels.to_vector<int64_t>();
  int64_t rows = logits.size(0), classes = logits.size(1), ok = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = 0;
    bool nan = std::isnan(l[r * classes]);
    for (int64_t c = 1; c < classes; ++c) {
      nan = nan || std::isnan(l[r * classes + c]);
      if (l[r * classes + c] > l[r * classes + best]) best = c;
    }
    // A NaN fails every comparison, so argmax would stay at class 0 and a diverged model would
    // score the share of class 0: such a row is wrong, as in count_within.
    ok += !nan && best == y[r];
  }
  return ok;
}

AddingTask::AddingTask(int64_t n, uint64_t seed) : n_(n), seed_(seed) {
  PMX_CHECK(n >= 2, "[adding] sequence length must be >= 2, got ", n);
}

Batch AddingTask::batch(Split split, int64_t first, int64_t count) const {
  check_range("adding", first, count, n_);
  Batch b{empty({count, n_, 2}), empty({count, 1})};
  adding_generate(b.input.data<float>(), b.target.data<float>(), seed_, split, first, count, n_);
  return b;
}

Tensor AddingTask::loss(const Tensor& output, const Tensor& target) const { return mse_loss(output, target); }

int64_t AddingTask::correct(const Tensor& output, const Tensor& target) const {
  return count_within(output, target, kAddingTolerance);
}

OrderTask::OrderTask(int64_t n, uint64_t seed) : n_(n), seed_(seed) {
  PMX_CHECK(n >= 2, "[order] sequence length must be >= 2, got ", n);
}

Batch OrderTask::batch(Split split, int64_t first, int64_t count) const {
  check_range("order", first, count, n_);
  Batch b{empty({count, n_}, DType::Int64), empty({count}, DType::Int64)};
  order_generate(b.input.data<int64_t>(), b.target.data<int64_t>(), seed_, split, first, count, n_);
  return b;
}

Tensor OrderTask::loss(const Tensor& output, const Tensor& target) const { return cross_entropy(output, target); }

int64_t OrderTask::correct(const Tensor& output, const Tensor& target) const {
  return count_argmax_equal(output, target);
}

}  // namespace pmx::apps
