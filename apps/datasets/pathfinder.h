// Pathfinder-32 (LRA settings, shared/docs/data.md): 32x32 grey images of dashed curves with two
// marker discs; the label says whether the markers sit on the two ends of one curve.
//
// Each image: label ~ uniform{0, 1} (drawn once, kept if the image restarts). Two target paths A
// and B of C dashes each (C = 6 easy, 9 intermediate, 14 hard), then 20 / (C / 3) distractor
// paths (or as many as asked for) of C / 3 dashes (integer division, at least 1).
//   dash:      2 px long, 0.5 px thick, drawn with 2x2 supersampling (a 0.5 px line fully crossing
//              a pixel covers half of it; that pixel gets the full contrast 0.75); images combine
//              with max. Its footprint (the pixels it lights to >= half its level; fainter
//              antialiasing fringes are drawn but ignored, as the LRA script's `mask + m < 1.8`
//              test ignores weak overlaps) dilated by 1 px (3x3) is its occupancy mask; the 1 px
//              image border starts occupied. A dash's footprint may overlap no occupancy mask
//              except its predecessor's. So solid pixels (> 96; 96 itself can be a rounded
//              fringe) of different shapes are never 8-neighbours, and consecutive dashes of one
//              path are ~2 px apart at their pivot: a curve is a dashed line, and only its good
//              continuation (not pixel connectivity) tells it from a neighbour 2 px away.
//   seeding:   A's first tail is a pixel >= 7 px from every edge, at an integer-degree orientation;
//              B's first tail is 7 px from A's (integer-degree direction); a distractor's first
//              tail is any free pixel. A path's pivot sits 1 px (the margin) behind its first tail.
//   growth:    the next pivot lies length + 2 margin = 4 px ahead of the last one along the last
//              orientation; the next dash ends at a pixel c on the circle of radius length + margin
//              = 3 around that pivot and points from the pivot to c, c drawn with weight
//              free(c) * max(cos(min(|turn|, 90 deg)), 0)^2 (no turn of 90 deg or more). A drawn c
//              that overlaps occupancy is redrawn up to 2 times; then A and B restart from scratch
//              (a distractor restarts itself, up to 4 times, then the whole image restarts; an
//              image restarts at most kPathfinderMaxRestarts times, then pmx::Error).
//              A and B grow alternately, one dash each.
//   markers:   discs of radius 1.5 px at 2/3 of the dash brightness (level 0.5), one at the start of
//              a random target path P (its first pivot), the other at the end of P (1 px beyond the
//              last dash) if label = 1, else at the end of the other target path. A marker may not
//              touch the other target path; markers join the occupancy before the distractors.
// Grey levels are round(255 * intensity): 0 background, dashes up to 191, marker cores 128.
//
// Determinism: image i of a generator reads only the random stream random_bits(seed', i), seed'
// derived from (seed, C): images can be made by any number of threads in any order.
//
//   pmx::apps::PathfinderGenerator gen(/*contour_length=*/6, /*seed=*/0);
//   pmx::apps::PathfinderExample e = gen.example(17);      // e.pixels: (32, 32) uint8, e.label
//   auto train = pmx::apps::make_pathfinder_split(160000, 6, /*seed=*/0, /*first=*/0);
//   auto test = pmx::apps::make_pathfinder_split(20000, 6, /*seed=*/0, /*first=*/180000);
//   pmx::apps::pathfinder_fill_tokens(rows, labels, train, /*first=*/0, /*count=*/64);
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pmx::apps {

constexpr int kPathfinderSide = 32, kPathfinderPixels = 1024, kPathfinderClasses = 2;
constexpr int kPathfinderMarkerLevel = 128;  // round(255 * 0.5): a marker core pixel
// Dashes per target path the generator draws: LRA's 6, 9 and 14, and shorter ones for curricula.
constexpr int kPathfinderMinDashes = 2, kPathfinderMaxDashes = 14;
// Distractor paths an image may ask for instead of LRA's 20 / (C / 3) (at most 20); not every
// count up to this fits in 32 x 32 pixels.
constexpr int kPathfinderMaxDistractors = 100;
// Restarts after which an image is given up. The hardest default (14 dashes) needs 55 on average
// and at most 554 in 20,000 images; restarts are independent tries, so 10,000 in a row at that
// rate come up with a chance of about e^-176.
constexpr int kPathfinderMaxRestarts = 10000;

// The most images one stored split may ask for: ~12x LRA's 160k training images, ~2.2 GB.
constexpr int64_t kPathfinderMaxExamples = int64_t(1) << 21;

struct PathfinderExample {
  std::array<uint8_t, kPathfinderPixels> pixels{};  // (32, 32) row-major grey levels
  int label = 0;                                     // 1: the markers are the two ends of one path
  float markers[2][2] = {};                          // (row, col) of the two marker centres
  int restarts = 0;                                  // how many times the image started over
};

// Which shape each pixel shows, for tests and inspection (ids below; 0: background).
constexpr int kTracePathA = 1, kTracePathB = 2, kTraceMarker = 3, kTraceDistractor0 = 4;
struct PathfinderTrace {
  std::array<uint8_t, kPathfinderPixels> owner{};  // (32, 32) id of the shape whose intensity shows
  int marker_path = 0;                             // kTracePathA/B: the path P whose start has marker 0
};

class PathfinderGenerator {
 public:
  // contour_length: dashes per target path, kPathfinderMinDashes to kPathfinderMaxDashes (else
  // pmx::Error); LRA uses 6, 9 and 14. distractors: distractor paths per image, 0 to
  // kPathfinderMaxDistractors; -1 (the default): LRA's 20 / (C / 3). The images of the default
  // and of the count it stands for are the same.
  PathfinderGenerator(int contour_length, uint64_t seed, int distractors = -1);
  // Image `index` of this generator (a pure function of seed, contour_length, distractors, index);
  // fills `trace` when given. Throws pmx::Error naming the contour length and the distractors if
  // kPathfinderMaxRestarts restarts do not give an image: too many distractors for the paths
  // (never seen with the default count).
  PathfinderExample example(uint64_t index, PathfinderTrace* trace = nullptr) const;
  int contour_length() const { return contour_length_; }
  int distractors() const { return distractors_; }

 private:
  int contour_length_, distractors_;
  uint64_t stream_seed_;
};

// Images [first, first + count) of PathfinderGenerator(contour_length, seed), made in parallel;
// the result does not depend on the thread count. Use disjoint index ranges for the splits. The
// first image that cannot be drawn stops the split: its pmx::Error is rethrown.
std::vector<PathfinderExample> make_pathfinder_split(size_t count, int contour_length, uint64_t seed,
                                                     uint64_t first = 0);
// The same from a generator: images [first, first + count) of `gen`.
std::vector<PathfinderExample> make_pathfinder_split(const PathfinderGenerator& gen, size_t count, uint64_t first = 0);

// rows: (count, 1024) int64 grey levels (the model's tokens), labels (optional): (count) int64,
// from examples[first, first + count); throws pmx::Error if the range is out of bounds.
void pathfinder_fill_tokens(int64_t* rows, int64_t* labels, const std::vector<PathfinderExample>& examples,
                            size_t first, size_t count);

}  // namespace pmx::apps
