#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "apps/datasets/pathfinder.h"
#include "core/error.h"
#include "core/threads.h"

using namespace pmx::apps;

namespace {

constexpr int S = kPathfinderSide;
constexpr int kSolid = 97;  // above every antialiasing fringe (see pathfinder.h)

int pixel_of(const PathfinderExample& e, int m) {
  return int(std::lround(e.markers[m][0])) * S + int(std::lround(e.markers[m][1]));
}

// Flood fill from marker 0 over pixels accepted by `keep`, stepping to any pixel within Chebyshev
// distance `radius` (1: 8-connectivity; 2: also across a one-pixel gap). True if marker 1 is reached.
template <class Keep>
bool markers_joined(const PathfinderExample& e, int radius, Keep keep) {
  int from = pixel_of(e, 0), to = pixel_of(e, 1);
  std::vector<char> seen(kPathfinderPixels, 0);
  std::vector<int> stack{from};
  seen[from] = 1;
  while (!stack.empty()) {
    int p = stack.back();
    stack.pop_back();
    if (p == to) return true;
    for (int r = p / S - radius; r <= p / S + radius; ++r)
      for (int c = p % S - radius; c <= p % S + radius; ++c) {
        if (r < 0 || r >= S || c < 0 || c >= S || seen[r * S + c] || !keep(r * S + c)) continue;
        seen[r * S + c] = 1;
        stack.push_back(r * S + c);
      }
  }
  return false;
}

// 8-connected components of the pixels accepted by `keep`.
template <class Keep>
int components(Keep keep) {
  std::vector<char> seen(kPathfinderPixels, 0);
  int count = 0;
  for (int start = 0; start < kPathfinderPixels; ++start) {
    if (seen[start] || !keep(start)) continue;
    ++count;
    std::vector<int> stack{start};
    seen[start] = 1;
    while (!stack.empty()) {
      int p = stack.back();
      stack.pop_back();
      for (int r = p / S - 1; r <= p / S + 1; ++r)
        for (int c = p % S - 1; c <= p % S + 1; ++c)
          if (r >= 0 && r < S && c >= 0 && c < S && !seen[r * S + c] && keep(r * S + c)) {
            seen[r * S + c] = 1;
            stack.push_back(r * S + c);
          }
    }
  }
  return count;
}

}  // namespace

TEST_CASE("pathfinder: balanced labels, grey levels in range, deterministic per (seed, index)") {
  std::vector<PathfinderExample> a = make_pathfinder_split(600, 6, /*seed=*/1);
  int ones = 0;
  for (const auto& e : a) {
    ones += e.label;
    int lit = 0, top = 0;
    for (uint8_t v : e.pixels) {
      lit += v > 0;
      top = std::max(top, int(v));
    }
    REQUIRE(top <= 191);  // round(255 * 0.75)
    REQUIRE(top >= 150);  // some dash crosses a pixel fully
    REQUIRE(lit > 40);
    for (int i = 0; i < S; ++i) REQUIRE(e.pixels[i] < kSolid);  // the occupied border holds no solid pixel
  }
  CHECK(ones > 600 * 0.44);
  CHECK(ones < 600 * 0.56);

  PathfinderGenerator gen(6, 1), other_seed(6, 2);
  CHECK(gen.example(17).pixels == a[17].pixels);
  CHECK(gen.example(17).label == a[17].label);
  CHECK(other_seed.example(17).pixels != a[17].pixels);
  CHECK(gen.example(18).pixels != a[17].pixels);
  std::vector<PathfinderExample> shifted = make_pathfinder_split(5, 6, 1, /*first=*/100);
  CHECK(shifted[3].pixels == a[103].pixels);
}

TEST_CASE("pathfinder: the first images of each difficulty are pinned") {
  // Images 0..15 of PathfinderGenerator(c, /*seed=*/0): an FNV-1a hash of their pixels and labels,
  // their restarts and label-1 count, printed once by a throwaway program running this loop on the
  // generator at commit 4ef0682. Any change to the drawing or to the random stream shows here.
  struct Pinned {
    int contour_length;
    uint64_t hash;
    int restarts, ones;
  };
  const Pinned pinned[] = {{2, 0xf46386aa51674e34ull, 5, 8},
                           {6, 0x13ac9cf1f1d0bdf9ull, 41, 8},
                           {9, 0xed855efb7a11eeadull, 144, 5},
                           {14, 0x0207beefbade27aeull, 825, 8}};
  for (const Pinned& want : pinned) {
    PathfinderGenerator gen(want.contour_length, 0);
    uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a offset basis; one byte at a time:
    auto add = [&](uint8_t byte) { hash = (hash ^ byte) * 0x100000001b3ull; };
    int restarts = 0, ones = 0;
    for (int i = 0; i < 16; ++i) {
      PathfinderExample e = gen.example(i);
      for (uint8_t v : e.pixels) add(v);
      add(uint8_t(e.label));
      restarts += e.restarts;
      ones += e.label;
    }
    INFO("contour length ", want.contour_length);
    CHECK(hash == want.hash);
    CHECK(restarts == want.restarts);
    CHECK(ones == want.ones);
  }
}

TEST_CASE("pathfinder: a split is the same at 1 and 2 threads") {
  int saved = pmx::get_num_threads();
  pmx::set_num_threads(1);
  std::vector<PathfinderExample> one = make_pathfinder_split(97, 14, 5);
  pmx::set_num_threads(2);
  std::vector<PathfinderExample> two = make_pathfinder_split(97, 14, 5);
  pmx::set_num_threads(saved);
  bool same = true;
  for (size_t i = 0; i < one.size(); ++i) same = same && one[i].pixels == two[i].pixels && one[i].label == two[i].label;
  CHECK(same);
}

TEST_CASE("pathfinder: exactly two marker discs") {
  for (int c : {6, 9, 14}) {
    PathfinderGenerator gen(c, 3);
    int two_cores = 0;
    for (int i = 0; i < 200; ++i) {
      PathfinderTrace trace;
      PathfinderExample e = gen.example(i, &trace);
      // A marker's solid pixels (> half its level); faint fringes of the two may touch.
      REQUIRE(components([&](int p) { return trace.owner[p] == kTraceMarker && e.pixels[p] > 64; }) == 2);
      REQUIRE(trace.owner[pixel_of(e, 0)] == kTraceMarker);
      REQUIRE(trace.owner[pixel_of(e, 1)] == kTraceMarker);
      // In the image: each centre shows the marker level, not a brighter dash drawn over it.
      two_cores += e.pixels[pixel_of(e, 0)] == kPathfinderMarkerLevel && e.pixels[pixel_of(e, 1)] == kPathfinderMarkerLevel;
    }
    CHECK(two_cores >= 196);
  }
}

TEST_CASE("pathfinder: the markers are joined by one dashed path exactly when the label is 1") {
  for (int c : {6, 9, 14}) {
    PathfinderGenerator gen(c, 4);
    int count[2] = {0, 0}, joined[2] = {0, 0};
    for (int i = 0; i < 300; ++i) {
      PathfinderTrace trace;
      PathfinderExample e = gen.example(i, &trace);
      ++count[e.label];
      // Solid pixels of different paths never touch: no 8-connected solid run joins two paths...
      bool mixed = false;
      for (int p = 0; p < kPathfinderPixels; ++p)
        for (int q = p + 1; q < kPathfinderPixels && q <= p + S + 1; ++q) {
          bool neighbours = std::abs(p / S - q / S) <= 1 && std::abs(p % S - q % S) <= 1;
          int a = trace.owner[p], b = trace.owner[q];
          if (neighbours && e.pixels[p] >= kSolid && e.pixels[q] >= kSolid && a != b && a != kTraceMarker &&
              b != kTraceMarker)
            mixed = true;
        }
      REQUIRE_FALSE(mixed);
      // ...so with label 0 no run of solid pixels leads from one marker to the other.
      if (e.label == 0) REQUIRE_FALSE(markers_joined(e, 1, [&](int p) { return e.pixels[p] >= kSolid; }));
      // Along the dashes of P (the path under marker 0), bridging the one-pixel gaps between dashes.
      joined[e.label] += markers_joined(e, 2, [&](int p) {
        return e.pixels[p] >= 20 && (trace.owner[p] == trace.marker_path || trace.owner[p] == kTraceMarker);
      });
    }
    MESSAGE("C = ", c, ": joined along P for ", joined[1], " / ", count[1], " label-1 and ", joined[0], " / ",
            count[0], " label-0 images");
    CHECK(joined[1] >= 0.97 * count[1]);
    CHECK(joined[0] <= 0.30 * count[0]);  // P's end may pass within 2 px of the far marker
  }
}

TEST_CASE("pathfinder: harder settings draw longer paths") {
  double lit[3] = {0, 0, 0}, target[3] = {0, 0, 0};
  int difficulty[3] = {6, 9, 14};
  for (int d = 0; d < 3; ++d) {
    PathfinderGenerator gen(difficulty[d], 6);
    for (int i = 0; i < 150; ++i) {
      PathfinderTrace trace;
      PathfinderExample e = gen.example(i, &trace);
      for (int p = 0; p < kPathfinderPixels; ++p) {
        lit[d] += e.pixels[p] >= kSolid;
        target[d] += e.pixels[p] >= kSolid && (trace.owner[p] == kTracePathA || trace.owner[p] == kTracePathB);
      }
    }
  }
  MESSAGE("solid pixels per image ", lit[0] / 150, ", ", lit[1] / 150, ", ", lit[2] / 150, "; on A and B ",
          target[0] / 150, ", ", target[1] / 150, ", ", target[2] / 150);
  CHECK(lit[0] < lit[1]);
  CHECK(lit[1] < lit[2]);
  CHECK(target[0] * 1.3 < target[1]);
  CHECK(target[1] * 1.3 < target[2]);
}

TEST_CASE("pathfinder: tokens, and errors name the op") {
  std::vector<PathfinderExample> ex = make_pathfinder_split(3, 9, 7);
  std::vector<int64_t> rows(2 * kPathfinderPixels, -1), labels(2, -1);
  pathfinder_fill_tokens(rows.data(), labels.data(), ex, 1, 2);
  CHECK(rows[0] == ex[1].pixels[0]);
  CHECK(rows[kPathfinderPixels + 517] == ex[2].pixels[517]);
  CHECK(labels[1] == ex[2].label);
  CHECK_THROWS_AS(pathfinder_fill_tokens(rows.data(), nullptr, ex, 2, 2), pmx::Error);
  for (int bad_length : {1, 15}) try {
      PathfinderGenerator bad(bad_length, 0);
      FAIL("contour length ", bad_length, " accepted");
    } catch (const pmx::Error& e) {
      CHECK(std::string(e.what()).find("[pathfinder] contour length must be 2 to 14") != std::string::npos);
    }
  CHECK(PathfinderGenerator(2, 0).example(0).pixels != PathfinderGenerator(3, 0).example(0).pixels);
  CHECK_THROWS_AS(make_pathfinder_split(1, 0, 0), pmx::Error);
}

TEST_CASE("pathfinder: a distractor count, the default is LRA's, and a count out of range is refused") {
  CHECK(PathfinderGenerator(6, 0).distractors() == 10);  // 20 / (6 / 3)
  CHECK(PathfinderGenerator(14, 0).distractors() == 5);  // 20 / (14 / 3)
  CHECK(PathfinderGenerator(2, 0).distractors() == 20);  // 20 / max(1, 2 / 3)
  CHECK(PathfinderGenerator(6, 1, 10).example(17).pixels == PathfinderGenerator(6, 1).example(17).pixels);
  CHECK(PathfinderGenerator(6, 1, 0).example(17).pixels != PathfinderGenerator(6, 1).example(17).pixels);
  for (int bad : {-2, kPathfinderMaxDistractors + 1})
    CHECK_THROWS_WITH_AS(PathfinderGenerator(6, 0, bad), doctest::Contains("[pathfinder] distractors must be 0 to 100"),
                         pmx::Error);
}

// 100 distractor paths of 4 dashes never fit beside two 14-dash paths (at most 10 of them did in
// 10,000 tries). Before kPathfinderMaxRestarts (10,000 tries, ~1 s here), such an image gave up
// after 100,000 tries (~6 s) naming only the contour length, and a split went on to try every
// image after it: the second case below would have run for hours.
TEST_CASE("pathfinder: an image that cannot be drawn throws after a bounded number of tries, naming the parameters") {
  PathfinderGenerator crowded(14, 0, /*distractors=*/100);
  CHECK_THROWS_WITH_AS(crowded.example(3),
                       doctest::Contains("[pathfinder] image 3 not drawn in 10000 tries: contour length 14 with 100 "
                                         "distractor paths of 4 dashes does not fit in 32 x 32 pixels"),
                       pmx::Error);
}

TEST_CASE("pathfinder: a split stops at its first image that cannot be drawn") {
  // 20,000 images at ~1 s each would take hours: the split must give up after the first failure.
  PathfinderGenerator crowded(14, 0, /*distractors=*/100);
  CHECK_THROWS_WITH_AS(make_pathfinder_split(crowded, 20000), doctest::Contains("does not fit in 32 x 32 pixels"),
                       pmx::Error);
}

// The best accuracy of "label 1 iff the markers are closer than t" (or farther), over all t.
static double distance_rule_accuracy(const std::vector<PathfinderExample>& images) {
  std::vector<std::pair<double, int>> by_distance;
  int ones = 0;
  for (const auto& e : images) {
    by_distance.push_back(
        {std::hypot(e.markers[0][0] - e.markers[1][0], e.markers[0][1] - e.markers[1][1]), e.label});
    ones += e.label;
  }
  std::sort(by_distance.begin(), by_distance.end());
  const int n = int(images.size());
  int best = std::max(ones, n - ones), near_ones = 0, near_zeros = 0;
  for (const auto& [distance, label] : by_distance) {
    (label ? near_ones : near_zeros) += 1;
    const int right = near_ones + (n - ones - near_zeros);  // predict 1 up to here, 0 beyond
    best = std::max({best, right, n - right});
  }
  return 100.0 * best / n;
}

TEST_CASE("pathfinder: at the LRA settings the marker distance does not give the label away") {
  // A model that only measured how far apart the markers are would be right this often. With
  // 2 dashes it is a strong cue (so the check can see one); at 6, 9 and 14 dashes the label-0
  // marker (the end of the other path, which starts 7 px away) is as far as the label-1 one.
  double easy = distance_rule_accuracy(make_pathfinder_split(1500, 2, 8));
  MESSAGE("distance rule at 2 dashes: ", easy, " %");
  CHECK(easy > 75);
  for (int c : {6, 9, 14}) {
    double acc = distance_rule_accuracy(make_pathfinder_split(1500, c, 8));
    MESSAGE("distance rule at ", c, " dashes: ", acc, " %");
    CHECK(acc < 62);
  }
}
