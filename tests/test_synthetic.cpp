// The synthetic task generators follow the paper's rules exactly, are deterministic per seed, keep
// the splits apart, and the metrics count what they should.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "apps/datasets/synthetic.h"
#include "core/error.h"
#include "core/tensor.h"
#include "core/threads.h"

using namespace pmx;
using apps::Split;

namespace {

struct ThreadGuard {
  int saved = get_num_threads();
  ~ThreadGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("synthetic: adding sequences have exactly two markers at distinct sorted positions and the paper's target") {
  for (int64_t n : {2, 3, 17, 128}) {
    apps::AddingTask task(n, 7);
    apps::Batch b = task.batch(Split::Train, 5, 64);
    REQUIRE(b.input.shape() == Shape{64, n, 2});
    REQUIRE(b.target.shape() == Shape{64, 1});
    const float* x = b.input.data<float>();
    const float* y = b.target.data<float>();
    for (int64_t i = 0; i < 64; ++i) {
      std::vector<int64_t> marked;
      for (int64_t t = 0; t < n; ++t) {
        float v = x[(i * n + t) * 2], m = x[(i * n + t) * 2 + 1];
        CHECK(v > -1.f);
        CHECK(v <= 1.f);
        CHECK((m == 0.f || m == 1.f));
        if (m == 1.f) marked.push_back(t);
      }
      REQUIRE(marked.size() == 2);
      CHECK(marked[0] < marked[1]);
      float expect = 0.5f + (x[(i * n + marked[0]) * 2] + x[(i * n + marked[1]) * 2]) / 4.f;
      CHECK(y[i] == expect);
    }
  }
}

TEST_CASE("synthetic: adding values are spread from -1 to 1 and marker positions cover the whole sequence") {
  apps::AddingTask task(8, 1);
  apps::Batch b = task.batch(Split::Train, 0, 2000);
  const float* x = b.input.data<float>();
  double sum = 0, lo = 1, hi = -1;
  std::set<std::pair<int64_t, int64_t>> pairs;
  for (int64_t i = 0; i < 2000; ++i) {
    int64_t p[2], k = 0;
    for (int64_t t = 0; t < 8; ++t) {
      double v = x[(i * 8 + t) * 2];
      sum += v, lo = std::min(lo, v), hi = std::max(hi, v);
      if (x[(i * 8 + t) * 2 + 1] == 1.f) p[k++] = t;
    }
    pairs.insert({p[0], p[1]});
  }
  CHECK(std::fabs(sum / 16000) < 0.03);  // mean of 1 - 2u is 0
  CHECK(lo < -0.99);
  CHECK(hi > 0.99);
  CHECK(pairs.size() == 28);  // every one of the 8 choose 2 pairs occurs
}

TEST_CASE("synthetic: temporal order has two X/Y symbols at sorted positions, tokens in 0..3, the paper's label") {
  apps::OrderTask task(33, 3);
  apps::Batch b = task.batch(Split::Validation, 0, 400);
  REQUIRE(b.input.shape() == Shape{400, 33});
  REQUIRE(b.target.shape() == Shape{400});
  const int64_t* tok = b.input.data<int64_t>();
  const int64_t* lab = b.target.data<int64_t>();
  std::set<int64_t> labels_seen, tokens_seen;
  for (int64_t i = 0; i < 400; ++i) {
    std::vector<int64_t> symbols;
    for (int64_t t = 0; t < 33; ++t) {
      int64_t v = tok[i * 33 + t];
      CHECK(v >= 0);
      CHECK(v <= 5);
      if (v >= apps::kOrderX) symbols.push_back(v);
      else tokens_seen.insert(v);
    }
    REQUIRE(symbols.size() == 2);
    CHECK(lab[i] == 2 * (symbols[0] == apps::kOrderY) + (symbols[1] == apps::kOrderY));
    labels_seen.insert(lab[i]);
  }
  CHECK(labels_seen.size() == 4);
  CHECK(tokens_seen.size() == 4);
}

TEST_CASE("synthetic: a batch is a pure function of (seed, split, index), whatever the batching and threads") {
  ThreadGuard guard;
  apps::AddingTask task(300, 11);
  set_num_threads(1);
  apps::Batch whole = task.batch(Split::Train, 0, 240);
  set_num_threads(2);
  apps::Batch again = task.batch(Split::Train, 0, 240);
  apps::Batch tail = task.batch(Split::Train, 100, 140);  // sequences 100..239 on their own
  std::vector<float> a = whole.input.to_vector<float>(), b = again.input.to_vector<float>();
  std::vector<float> t = tail.input.to_vector<float>();
  CHECK(a == b);
  CHECK(std::vector<float>(a.begin() + 100 * 600, a.end()) == t);
  CHECK(whole.target.to_vector<float>() == again.target.to_vector<float>());

  apps::AddingTask other_seed(300, 12);
  CHECK(other_seed.batch(Split::Train, 0, 240).input.to_vector<float>() != a);
}

TEST_CASE("synthetic: train, validation and test use different streams (no sequence shared)") {
  CHECK(apps::split_seed(5, Split::Train) != apps::split_seed(5, Split::Validation));
  CHECK(apps::split_seed(5, Split::Train) != apps::split_seed(5, Split::Test));
  CHECK(apps::split_seed(5, Split::Validation) != apps::split_seed(5, Split::Test));
  apps::AddingTask task(64, 5);
  std::set<float> first_values[3];
  for (int s = 0; s < 3; ++s) {
    apps::Batch b = task.batch(Split(s), 0, 500);
    const float* x = b.input.data<float>();
    for (int64_t i = 0; i < 500; ++i) first_values[s].insert(x[i * 128]);
  }
  // 53-bit draws rounded to float: a repeated first value across splits would mean a shared stream.
  for (int s = 0; s < 3; ++s)
    for (int u = s + 1; u < 3; ++u)
      for (float v : first_values[s]) CHECK(first_values[u].count(v) == 0);
}

TEST_CASE("synthetic: adding metric counts |y_hat - y| < 0.04, NaN is wrong") {
  Tensor y = from_vector(std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f, 0.2f}, {5, 1});
  Tensor yhat = from_vector(std::vector<float>{0.5f, 0.539f, 0.45f, NAN, 0.17f}, {5, 1});
  apps::AddingTask task(4, 0);
  CHECK(task.correct(yhat, y) == 3);
  CHECK(apps::count_within(yhat, y, 0.001) == 1);
  CHECK_THROWS_AS(apps::count_within(yhat, from_vector(std::vector<float>{1, 2}, {2}), 0.04), pmx::Error);
}

TEST_CASE("synthetic: classification metric counts argmax hits, first maximum on ties") {
  Tensor logits = from_vector(std::vector<float>{1, 3, 2, 0, /**/ 5, 5, 0, 0, /**/ 0, 0, 0, 9}, {3, 4});
  Tensor labels = from_vector(std::vector<int64_t>{1, 1, 3}, {3});
  apps::OrderTask task(4, 0);
  CHECK(task.correct(logits, labels) == 2);  // the tie in row 1 goes to class 0
  CHECK_THROWS_AS(apps::count_argmax_equal(logits, from_vector(std::vector<int64_t>{1, 1}, {2})), pmx::Error);
}

TEST_CASE("synthetic: classification metric counts a row with a NaN logit as wrong, not as class 0") {
  // A diverged model (all logits NaN) must score 0, not the share of class 0: before, every
  // comparison with NaN failed, argmax stayed 0, and the order app reported "test accuracy 27.50 %"
  // for a model whose every output was NaN (--lr 1e30 --steps 1).
  Tensor logits = from_vector(std::vector<float>{NAN, NAN, NAN, /**/ 0, NAN, 1, /**/ NAN, 2, 1, /**/ 3, 1, 2}, {4, 3});
  Tensor labels = from_vector(std::vector<int64_t>{0, 0, 1, 0}, {4});
  CHECK(apps::count_argmax_equal(logits, labels) == 1);  // only the finite last row
}

TEST_CASE("synthetic: bad lengths and ranges throw and name the task") {
  CHECK_THROWS_AS(apps::AddingTask(1, 0), pmx::Error);
  CHECK_THROWS_AS(apps::OrderTask(0, 0), pmx::Error);
  apps::AddingTask task(8, 0);
  CHECK_THROWS_AS(task.batch(Split::Train, -1, 4), pmx::Error);
  try {
    task.batch(Split::Train, 0, 0);
    FAIL("expected an error");
  } catch (const pmx::Error& e) {
    CHECK(std::string(e.what()).find("[adding]") != std::string::npos);
  }
}
