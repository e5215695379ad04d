// The synthetic tasks' sequences, pinned: for seed 0 and N = 6, the first two sequences of each
// split, value for value. test_synthetic.cpp checks the rules (two markers, the paper's target
// and label); these catch a change to the random stream (split salts, counters, how a draw is
// made) or to the layout of a batch, which the rules alone let through.
//
// How the values were made: a throwaway program printed AddingTask(6, 0).batch(split, 0, 2) and
// OrderTask(6, 0).batch(split, 0, 2) for the three splits, from the generators at commit 4ef0682;
// floats with printf("%.9g"), enough digits to give back the same float.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "apps/datasets/synthetic.h"
#include "core/tensor.h"

using namespace pmx;
using apps::Split;

namespace {

constexpr int64_t kN = 6;

// A float as the values below were printed: 9 digits give back the same float, and a failure then
// shows the digits that differ (doctest prints floats to 6 digits, so both could look the same).
std::string digits(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

struct AddingRow {
  float values[kN];
  int64_t p1, p2;  // the two marked positions
  float target;
};
// [split: train, validation, test][sequence 0, 1]
const AddingRow kAdding[3][2] = {
    {{{-0.615306258f, -0.570433259f, 0.819134891f, -0.745734155f, 0.0928866565f, 0.201886162f}, 1, 3, 0.170958161f},
     {{-0.732180476f, -0.357123345f, -0.717292964f, -0.466042459f, -0.296967119f, -0.356522858f}, 4, 5, 0.336627513f}},
    {{{-0.217492685f, 0.938488245f, -0.775790215f, -0.237039849f, 0.327422708f, 0.437205732f}, 1, 5, 0.843923509f},
     {{0.119515158f, 0.790314436f, 0.309045643f, 0.0639504343f, 0.233529627f, 0.0887317806f}, 3, 5, 0.538170576f}},
    {{{-0.176015496f, -0.34414801f, 0.254907072f, 0.957551122f, -0.14836587f, -0.417298168f}, 0, 3, 0.695383906f},
     {{0.666759014f, -0.0406542681f, -0.114260718f, 0.404036403f, 0.712187111f, 0.818832219f}, 0, 3, 0.767698884f}},
};

struct OrderRow {
  int64_t tokens[kN];  // 0..3, and X = 4 / Y = 5 at the two symbol positions
  int64_t label;
};
const OrderRow kOrder[3][2] = {
    {{{3, 5, 0, 4, 1, 1}, 2}, {{3, 2, 3, 2, 5, 4}, 2}},
    {{{2, 4, 3, 2, 1, 4}, 0}, {{1, 0, 1, 5, 1, 4}, 2}},
    {{{5, 2, 1, 5, 2, 2}, 3}, {{4, 2, 2, 5, 0, 0}, 1}},
};

}  // namespace

TEST_CASE("synthetic golden: adding, seed 0, N = 6, the first two sequences of each split") {
  apps::AddingTask task(kN, 0);
  for (int s = 0; s < 3; ++s) {
    apps::Batch b = task.batch(Split(s), 0, 2);
    REQUIRE(b.input.shape() == Shape{2, kN, 2});
    REQUIRE(b.input.dtype() == DType::Float32);
    REQUIRE(b.target.shape() == Shape{2, 1});
    const float* x = b.input.data<float>();  // (2, N, 2): (value, marker) at each position
    for (int64_t i = 0; i < 2; ++i) {
      const AddingRow& want = kAdding[s][i];
      INFO("split ", s, ", sequence ", i);
      for (int64_t t = 0; t < kN; ++t) {
        CHECK(digits(x[(i * kN + t) * 2]) == digits(want.values[t]));
        CHECK(x[(i * kN + t) * 2 + 1] == (t == want.p1 || t == want.p2 ? 1.f : 0.f));
      }
      CHECK(digits(b.target.data<float>()[i]) == digits(want.target));
    }
  }
}

TEST_CASE("synthetic golden: temporal order, seed 0, N = 6, the first two sequences of each split") {
  apps::OrderTask task(kN, 0);
  for (int s = 0; s < 3; ++s) {
    apps::Batch b = task.batch(Split(s), 0, 2);
    REQUIRE(b.input.shape() == Shape{2, kN});
    REQUIRE(b.input.dtype() == DType::Int64);
    REQUIRE(b.target.shape() == Shape{2});
    const int64_t* x = b.input.data<int64_t>();  // (2, N)
    for (int64_t i = 0; i < 2; ++i) {
      const OrderRow& want = kOrder[s][i];
      INFO("split ", s, ", sequence ", i);
      for (int64_t t = 0; t < kN; ++t) CHECK(x[i * kN + t] == want.tokens[t]);
      CHECK(b.target.data<int64_t>()[i] == want.label);
    }
  }
}
