// timing_stats.h: the two summaries the bench programs print for a list of timed repetitions.
// Header-only.
//
//   std::vector<double> ms = ...;   // one entry per timed rep
//   bench::median(ms), bench::minimum(ms)
#pragma once
#include <algorithm>
#include <vector>

namespace pmx::bench {

// The typical rep (0 for none).
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The fastest rep: the one least disturbed by other work on a shared machine (0 for none).
inline double minimum(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

}  // namespace pmx::bench
