// Heatmaps of matrices as PNG files (for looking at mixing matrices, attention maps, weights).
//
// Each matrix element becomes a `cell` x `cell` block of pixels; row 0 is the top row. Two scales:
//   Log10Magnitude (default): v = log10(|x| + 1e-30), mapped linearly from [hi - decades, hi] to
//     a viridis-like ramp (dark purple = small, yellow = large); hi = max v, values more than
//     `decades` below it are clamped to the darkest colour. Shows structure across magnitudes,
//     ignores sign.
//   Signed: x / max|x| mapped to a diverging ramp: blue (-max) -> white (0) -> red (+max).
// Non-finite values (NaN, +-Inf) are drawn mid grey and excluded from the range.
// The file is written atomically (core/file_io.h): a reader never sees half an image.
//
//   pmx::HeatmapOptions opt;  opt.scale = pmx::HeatmapScale::Signed;
//   pmx::HeatmapRange r = pmx::write_heatmap_png("e.png", e, opt);   // e: (H, W) float32/float64
//   std::printf("colours span [%g, %g]\n", r.lo, r.hi);               // log10 units, or signed values
#pragma once
#include <string>

#include "core/tensor.h"

namespace pmx {

enum class HeatmapScale { Log10Magnitude, Signed };

struct HeatmapOptions {
  HeatmapScale scale = HeatmapScale::Log10Magnitude;
  double decades = 6;  // Log10Magnitude: the span of log10 values that gets distinct colours
  int cell = 0;        // pixels per element side; 0: the largest that keeps the image <= 512 px (>= 1)
};

// The value range the colour ramp spans: log10 units for Log10Magnitude, [-max|x|, +max|x|] for
// Signed. lo == hi when the matrix is constant (or has no finite values).
struct HeatmapRange {
  double lo = 0, hi = 0;
};

// matrix: (H, W) float32 or float64, any strides, H, W >= 1; the image is (H*cell) x (W*cell) RGB
// and at most 16384 px on a side. Throws pmx::Error naming the shape or the path on bad input or a
// failed write (the target is then untouched).
HeatmapRange write_heatmap_png(const std::string& path, const Tensor& matrix, const HeatmapOptions& options = {});

}  // namespace pmx
