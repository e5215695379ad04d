#include "apps/datasets/pathfinder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/random.h"

namespace pmx::apps {

namespace {

constexpr int S = kPathfinderSide;
constexpr double kPi = 3.14159265358979323846;
constexpr double kDashLength = 2, kDashHalfWidth = 0.25, kMargin = 1, kContrast = 0.75;
constexpr double kMarkerRadius = 1.5, kMarkerLevel = 0.5, kSeedDistance = 7, kEdgeDistance = 7;
constexpr double kFootprintFraction = 0.5;
constexpr int kDashRetries = 2, kDistractorRetries = 4;

struct Rng {
  uint64_t stream;
  uint64_t counter = 0;
  double uniform() { return random_uniform(stream, counter++); }
  int below(int k) {
    int v = int(uniform() * k);
    return v < k ? v : k - 1;
  }
  double degrees() { return double(below(360) - 180) * kPi / 180; }  // integer-degree orientation
};

struct Canvas {
  float image[S * S];    // (32, 32) intensity in [0, 1]
  uint8_t occ[S * S];    // (32, 32) how many occupancy masks cover the pixel
  uint8_t owner[S * S];  // (32, 32) the shape whose intensity the pixel shows (PathfinderTrace ids)
  void reset() {
    std::fill(image, image + S * S, 0.f);
    std::fill(owner, owner + S * S, uint8_t(0));
    std::fill(occ, occ + S * S, uint8_t(0));
    for (int i = 0; i < S; ++i) occ[i] = occ[(S - 1) * S + i] = occ[i * S] = occ[i * S + S - 1] = 1;
  }
};

// A drawn shape: the pixels it lights, its footprint (the lit pixels at >= kFootprintFraction of
// its level: antialiasing fringes are drawn but neither block nor are blocked) and its occupancy
// mask (the footprint dilated by 3x3).
struct Stamp {
  std::vector<std::pair<int, float>> lit;  // (pixel, intensity)
  std::vector<int> footprint;              // pixel indices
  std::vector<int> mask;                   // sorted pixel indices
};

double segment_distance2(double pr, double pc, double ar, double ac, double br, double bc) {
  double dr = br - ar, dc = bc - ac, len2 = dr * dr + dc * dc;
  double t = len2 > 0 ? std::clamp(((pr - ar) * dr + (pc - ac) * dc) / len2, 0.0, 1.0) : 0.0;
  double er = pr - ar - t * dr, ec = pc - ac - t * dc;
  return er * er + ec * ec;
}

// Rasterises the capsule of radius `half_width` around segment a-b (a disc when a == b) at 2x2
// supersampling: a subpixel (side 0.5) is covered by clamp((half_width + 0.25 - d) / 0.5, 0, 1),
// d the distance from its centre; a pixel gets level * min(1, gain * mean coverage). Pixel (r, c)
// spans [r - 0.5, r + 0.5] x [c - 0.5, c + 0.5]. Returns false if a lit pixel is off the image.
bool rasterise(Stamp* s, double ar, double ac, double br, double bc, double half_width, double level, double gain) {
  s->lit.clear();
  s->footprint.clear();
  s->mask.clear();
  int r0 = int(std::floor(std::min(ar, br) - half_width)) - 1, r1 = int(std::ceil(std::max(ar, br) + half_width)) + 1;
  int c0 = int(std::floor(std::min(ac, bc) - half_width)) - 1, c1 = int(std::ceil(std::max(ac, bc) + half_width)) + 1;
  const double reach2 = (half_width + 0.25) * (half_width + 0.25);
  for (int r = r0; r <= r1; ++r)
    for (int c = c0; c <= c1; ++c) {
      double cover = 0;
      for (int sr = 0; sr < 2; ++sr)
        for (int sc = 0; sc < 2; ++sc) {
          double d2 = segment_distance2(r - 0.25 + 0.5 * sr, c - 0.25 + 0.5 * sc, ar, ac, br, bc);
          if (d2 >= reach2) continue;  // most subpixels of the box: skip the square root
          cover += std::clamp((half_width + 0.25 - std::sqrt(d2)) / 0.5, 0.0, 1.0);
        }
      if (cover <= 0) continue;
      double v = std::min(1.0, gain * cover / 4);
      bool solid = v >= kFootprintFraction;
      if (r < 0 || r >= S || c < 0 || c >= S) {
        if (solid) return false;
        continue;
      }
      s->lit.push_back({r * S + c, float(level * v)});
      if (!solid) continue;
      s->footprint.push_back(r * S + c);
      for (int nr = std::max(r - 1, 0); nr <= std::min(r + 1, S - 1); ++nr)
        for (int nc = std::max(c - 1, 0); nc <= std::min(c + 1, S - 1); ++nc) s->mask.push_back(nr * S + nc);
    }
  std::sort(s->mask.begin(), s->mask.end());
  s->mask.erase(std::unique(s->mask.begin(), s->mask.end()), s->mask.end());
  return true;
}

bool contains(const std::vector<int>& sorted, int p) { return std::binary_search(sorted.begin(), sorted.end(), p); }

// Occupied for a shape that may touch `allowed` (its predecessor's mask) and nothing else.
bool occupied(const Canvas& cv, int p, const std::vector<int>& allowed) { return cv.occ[p] > int(contains(allowed, p)); }

bool blocked(const Canvas& cv, const Stamp& s, const std::vector<int>& allowed) {
  for (int p : s.footprint)
    if (occupied(cv, p, allowed)) return true;
  return false;
}

void commit(Canvas* cv, const Stamp& s, int id) {
  for (const auto& [p, v] : s.lit)
    if (v > cv->image[p]) {
      cv->image[p] = v;
      cv->owner[p] = uint8_t(id);
    }
  for (int p : s.mask) ++cv->occ[p];
}

struct Path {
  int id = 0;                                  // PathfinderTrace id
  double pivot_r = 0, pivot_c = 0, theta = 0;  // the last pivot and orientation
  double start_r = 0, start_c = 0;             // the first pivot: where a start marker goes
  double end_r = 0, end_c = 0;                 // 1 px beyond the last head: where an end marker goes
  std::vector<int> last_mask;                  // the predecessor's mask, which the next dash may touch
  std::vector<int> all_masks;                  // every dash's mask (unsorted, with repeats)
};

bool seed_dash(Canvas* cv, Path* path, double tail_r, double tail_c, double theta, Stamp* s) {
  // path->id set by the caller
  double sn = std::sin(theta), cs = std::cos(theta);
  if (!rasterise(s, tail_r, tail_c, tail_r + kDashLength * sn, tail_c + kDashLength * cs, kDashHalfWidth, kContrast, 2))
    return false;
  if (blocked(*cv, *s, {})) return false;
  commit(cv, *s, path->id);
  path->end_r = tail_r + (kDashLength + kMargin) * sn;
  path->end_c = tail_c + (kDashLength + kMargin) * cs;
  path->pivot_r = path->start_r = tail_r - kMargin * sn;
  path->pivot_c = path->start_c = tail_c - kMargin * cs;
  path->theta = theta;
  path->last_mask = s->mask;
  path->all_masks = s->mask;
  return true;
}

bool extend(Canvas* cv, Path* path, Rng* rng, Stamp* s) {
  const double step = kDashLength + 2 * kMargin, radius = kDashLength + kMargin;
  double pr = path->pivot_r + step * std::sin(path->theta), pc = path->pivot_c + step * std::cos(path->theta);
  // Candidate ends: the pixels met on the circle at one pixel of arc per sample.
  int cand[32];
  double weight[32], orient[32];
  int n = 0;
  double total = 0;
  for (double a = 0; a < 2 * kPi && n < 32; a += 1 / radius) {
    long r = std::lround(pr + radius * std::sin(a)), c = std::lround(pc + radius * std::cos(a));
    if (r < 0 || r >= S || c < 0 || c >= S) continue;
    int p = int(r * S + c);
    if (std::find(cand, cand + n, p) != cand + n) continue;
    double phi = std::atan2(double(r) - pr, double(c) - pc);
    double turn = std::fabs(phi - path->theta);
    turn = std::min(std::min(turn, 2 * kPi - turn), kPi / 2);
    double w = occupied(*cv, p, path->last_mask) ? 0.0 : std::pow(std::max(std::cos(turn), 0.0), 2);
    cand[n] = p;
    orient[n] = phi;
    weight[n] = w;
    total += w;
    ++n;
  }
  if (total < 1e-4) return false;
  for (int trial = 0; trial <= kDashRetries; ++trial) {
    double u = rng->uniform() * total;
    int k = 0;
    while (k < n - 1 && (weight[k] == 0 || u >= weight[k])) u -= weight[k++];
    double head_r = cand[k] / S, head_c = cand[k] % S;
    double tail_r = head_r - kDashLength * std::sin(orient[k]), tail_c = head_c - kDashLength * std::cos(orient[k]);
    if (!rasterise(s, tail_r, tail_c, head_r, head_c, kDashHalfWidth, kContrast, 2)) continue;
    if (blocked(*cv, *s, path->last_mask)) continue;
    commit(cv, *s, path->id);
    // Measured from the drawn head (a whole pixel), not the pivot: the marker then never
    // lands on the head's own pixel.
    path->end_r = head_r + kMargin * std::sin(orient[k]);
    path->end_c = head_c + kMargin * std::cos(orient[k]);
    path->pivot_r = pr;
    path->pivot_c = pc;
    path->theta = orient[k];
    path->last_mask = s->mask;
    path->all_masks.insert(path->all_masks.end(), s->mask.begin(), s->mask.end());
    return true;
  }
  return false;
}

// Both target paths, grown alternately. False: start the image over.
bool target_paths(Canvas* cv, Path* a, Path* b, int dashes, Rng* rng, Stamp* s) {
  bool ok = false;
  int ar = 0, ac = 0;
  for (int trial = 0; trial <= kDashRetries && !ok; ++trial) {
    ar = int(kEdgeDistance) + rng->below(S - 2 * int(kEdgeDistance));
    ac = int(kEdgeDistance) + rng->below(S - 2 * int(kEdgeDistance));
    ok = seed_dash(cv, a, ar, ac, rng->degrees(), s);
  }
  if (!ok) return false;
  ok = false;
  for (int trial = 0; trial <= kDashRetries && !ok; ++trial) {
    double alpha = rng->degrees(), theta = rng->degrees();
    double br = ar + kSeedDistance * std::sin(alpha), bc = ac + kSeedDistance * std::cos(alpha);
    long pr = std::lround(br), pc = std::lround(bc);
    if (pr < 0 || pr >= S || pc < 0 || pc >= S || cv->occ[pr * S + pc] > 0) continue;
    ok = seed_dash(cv, b, br, bc, theta, s);
  }
  if (!ok) return false;
  for (int i = 1; i < dashes; ++i)
    if (!extend(cv, a, rng, s) || !extend(cv, b, rng, s)) return false;
  return true;
}

// The two markers; false if one would touch the border, the other target path or the other
// marker. (It may touch its own path: that is the point.)
bool markers(Canvas* cv, const Path& p, const Path& q, int label, PathfinderExample* out, Stamp* s) {
  double r[2], c[2];
  r[0] = p.start_r;
  c[0] = p.start_c;
  r[1] = label ? p.end_r : q.end_r;
  c[1] = label ? p.end_c : q.end_c;
  const Path* other[2] = {&q, label ? &q : &p};
  Stamp first;
  for (int m = 0; m < 2; ++m) {
    Stamp* st = m == 0 ? &first : s;
    if (!rasterise(st, r[m], c[m], r[m], c[m], kMarkerRadius, kMarkerLevel, 1)) return false;
    for (int px : st->footprint) {
      if (px / S == 0 || px / S == S - 1 || px % S == 0 || px % S == S - 1) return false;  // the border
      if (std::find(other[m]->all_masks.begin(), other[m]->all_masks.end(), px) != other[m]->all_masks.end())
        return false;
      if (m == 1 && contains(first.mask, px)) return false;
    }
    out->markers[m][0] = float(r[m]);
    out->markers[m][1] = float(c[m]);
  }
  commit(cv, first, kTraceMarker);
  commit(cv, *s, kTraceMarker);
  return true;
}

bool distractor(Canvas* cv, int id, int dashes, Rng* rng, Stamp* s) {
  int free_pixels[S * S];
  int n = 0;
  for (int p = 0; p < S * S; ++p)
    if (cv->occ[p] == 0) free_pixels[n++] = p;
  if (n == 0) return false;
  Path path;
  path.id = id;
  bool ok = false;
  for (int trial = 0; trial <= kDashRetries && !ok; ++trial) {
    int p = free_pixels[rng->below(n)];
    ok = seed_dash(cv, &path, p / S, p % S, rng->degrees(), s);
  }
  for (int i = 1; i < dashes && ok; ++i) ok = extend(cv, &path, rng, s);
  return ok;
}

// Where the failed tries at one image stopped, for the error message if none succeeds.
struct Failures {
  int targets = 0, markers = 0, distractors = 0;  // tries that failed at each stage
  int most_distractors = 0;                       // the most distractors a try placed
};

// out->label is drawn once per image by the caller: redrawing it on a restart would bias the
// labels towards the one whose markers fail less often. False: start the image over (*why says
// where it failed).
bool draw_image(Canvas* cv, int contour_length, int distractors, Rng* rng, PathfinderExample* out, int* marker_path,
                Failures* why) {
  Stamp s;
  Path a, b;
  a.id = kTracePathA;
  b.id = kTracePathB;
  cv->reset();
  if (!target_paths(cv, &a, &b, contour_length, rng, &s)) {
    ++why->targets;
    return false;
  }
  bool p_is_a = rng->below(2) == 0;
  *marker_path = p_is_a ? kTracePathA : kTracePathB;
  if (!markers(cv, p_is_a ? a : b, p_is_a ? b : a, out->label, out, &s)) {
    ++why->markers;
    return false;
  }
  const int distractor_dashes = std::max(1, contour_length / 3);
  for (int d = 0; d < distractors; ++d) {
    Canvas before = *cv;
    bool ok = false;
    for (int trial = 0; trial <= kDistractorRetries && !ok; ++trial) {
      ok = distractor(cv, kTraceDistractor0 + d, distractor_dashes, rng, &s);
      if (!ok) *cv = before;
    }
    if (!ok) {
      ++why->distractors;
      why->most_distractors = std::max(why->most_distractors, d);
      return false;
    }
  }
  return true;
}

}  // namespace

PathfinderGenerator::PathfinderGenerator(int contour_length, uint64_t seed, int distractors)
    : contour_length_(contour_length), distractors_(distractors) {
  PMX_CHECK(contour_length >= kPathfinderMinDashes && contour_length <= kPathfinderMaxDashes,
            "[pathfinder] contour length must be 2 to 14 dashes (LRA: 6, 9, 14), got ", contour_length);
  PMX_CHECK(distractors >= -1 && distractors <= kPathfinderMaxDistractors, "[pathfinder] distractors must be 0 to ",
            kPathfinderMaxDistractors, " paths (or -1: LRA's 20 / (C / 3)), got ", distractors);
  if (distractors_ < 0) distractors_ = 20 / std::max(1, contour_length / 3);
  stream_seed_ = random_bits(seed, 0x70617468ull + uint64_t(contour_length));
}

PathfinderExample PathfinderGenerator::example(uint64_t index, PathfinderTrace* trace) const {
  PathfinderExample out;
  Rng rng{random_bits(stream_seed_, index)};
  out.label = rng.below(2);
  Canvas cv;
  int marker_path = 0;
  Failures why;
  while (!draw_image(&cv, contour_length_, distractors_, &rng, &out, &marker_path, &why)) {
    PMX_CHECK(++out.restarts < kPathfinderMaxRestarts, "[pathfinder] image ", index, " not drawn in ",
              kPathfinderMaxRestarts, " tries: contour length ", contour_length_, " with ", distractors_,
              " distractor paths of ", std::max(1, contour_length_ / 3), " dashes does not fit in 32 x 32 pixels (",
              why.targets, " tries failed at the target paths, ", why.markers, " at the markers; the other ",
              why.distractors, " placed at most ", why.most_distractors, " of the ", distractors_, " distractors)");
  }
  for (int p = 0; p < S * S; ++p) out.pixels[p] = uint8_t(std::lround(255.0 * cv.image[p]));
  if (trace) {
    std::copy(cv.owner, cv.owner + S * S, trace->owner.begin());
    trace->marker_path = marker_path;
  }
  return out;
}

std::vector<PathfinderExample> make_pathfinder_split(size_t count, int contour_length, uint64_t seed, uint64_t first) {
  return make_pathfinder_split(PathfinderGenerator(contour_length, seed), count, first);
}

std::vector<PathfinderExample> make_pathfinder_split(const PathfinderGenerator& gen, size_t count, uint64_t first) {
  std::vector<PathfinderExample> out(count);
  std::string error;  // an exception may not leave an OpenMP region: keep the first, rethrow after
  // One image that cannot be drawn fails the split: skip the rest (each could take as long).
  std::atomic<bool> failed{false};
  // Each image depends only on its index, so any schedule gives the same split.
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < int64_t(count); ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      out[i] = gen.example(first + uint64_t(i));
    } catch (const Error& e) {
      failed = true;
#pragma omp critical(pathfinder_error)
      if (error.empty()) error = e.what();
    }
  }
  PMX_CHECK(error.empty(), error);
  return out;
}

void pathfinder_fill_tokens(int64_t* rows, int64_t* labels, const std::vector<PathfinderExample>& examples,
                            size_t first, size_t count) {
  PMX_CHECK(first + count <= examples.size(), "[pathfinder_fill_tokens] examples [", first, ", ", first + count,
            ") out of range for ", examples.size());
  for (size_t b = 0; b < count; ++b) {
    const PathfinderExample& e = examples[first + b];
    for (int p = 0; p < kPathfinderPixels; ++p) rows[b * kPathfinderPixels + p] = e.pixels[p];  // rows: (count, 1024)
    if (labels) labels[b] = e.label;
  }
}

}  // namespace pmx::apps
