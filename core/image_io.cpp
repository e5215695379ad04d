#include "core/image_io.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/file_io.h"
#include "core/shape.h"

// STATIC: the implementation's symbols stay private to this file, so another translation unit
// may define its own copy without a duplicate-symbol clash.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace pmx {
namespace {

struct Rgb {
  double r, g, b;
};

// Piecewise-linear ramp through evenly spaced stops; t in [0, 1].
template <size_t S>
Rgb ramp(const Rgb (&stops)[S], double t) {
  t = std::clamp(t, 0.0, 1.0) * double(S - 1);
  size_t i = std::min(size_t(t), S - 2);
  double f = t - double(i);
  const Rgb &a = stops[i], &b = stops[i + 1];
  return {a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b)};
}

// Samples of matplotlib's viridis (perceptually uniform, readable in greyscale).
const Rgb kViridis[] = {{68, 1, 84},    {72, 36, 117},  {59, 82, 139},  {44, 114, 142}, {33, 145, 140},
                        {53, 183, 121}, {94, 201, 98},  {170, 220, 50}, {253, 231, 37}};
// ColorBrewer RdBu, blue for negative: white sits exactly at zero.
const Rgb kRedBlue[] = {{33, 102, 172}, {146, 197, 222}, {247, 247, 247}, {244, 165, 130}, {178, 24, 43}};
const Rgb kNonFinite = {128, 128, 128};

constexpr double kTiny = 1e-30;  // keeps log10 finite at exact zeros
constexpr int64_t kMaxSide = 16384;

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size_t(size));
}

}  // namespace

HeatmapRange write_heatmap_png(const std::string& path, const Tensor& matrix, const HeatmapOptions& options) {
  PMX_CHECK(!path.empty(), "[write_heatmap_png] empty path");
  PMX_CHECK(matrix.defined() && matrix.dim() == 2, "[write_heatmap_png] '", path, "': need a 2-D (H, W) matrix, got ",
            matrix.defined() ? shape_str(matrix.shape()) : std::string("undefined"));
  PMX_CHECK(is_floating(matrix.dtype()), "[write_heatmap_png] '", path, "': need a float32 or float64 matrix, got ",
            dtype_name(matrix.dtype()), " ", shape_str(matrix.shape()));
  const int64_t H = matrix.size(0), W = matrix.size(1);
  PMX_CHECK(H >= 1 && W >= 1, "[write_heatmap_png] '", path, "': empty matrix ", shape_str(matrix.shape()));
  PMX_CHECK(options.cell >= 0, "[write_heatmap_png] '", path, "': cell must be >= 0, got ", options.cell);
  PMX_CHECK(options.decades > 0, "[write_heatmap_png] '", path, "': decades must be > 0, got ", options.decades);
  const int64_t cell = options.cell > 0 ? options.cell : std::max<int64_t>(1, 512 / std::max(H, W));
  PMX_CHECK(H * cell <= kMaxSide && W * cell <= kMaxSide, "[write_heatmap_png] '", path, "': image ", H * cell,
            " x ", W * cell, " px (matrix ", shape_str(matrix.shape()), ", cell ", cell, ") exceeds ", kMaxSide,
            " px on a side");

  // Values in row-major order as double, read through the strides (any view works).
  std::vector<double> v(size_t(H * W));
  PMX_DISPATCH_FLOATING(matrix.dtype(), "write_heatmap_png", [&] {
    const scalar_t* p = matrix.data<scalar_t>();
    const int64_t s0 = matrix.strides()[0], s1 = matrix.strides()[1];
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j) v[size_t(i * W + j)] = double(p[i * s0 + j * s1]);
  });

  const bool signed_scale = options.scale == HeatmapScale::Signed;
  HeatmapRange range;
  double hi = -std::numeric_limits<double>::infinity(), lo = std::numeric_limits<double>::infinity();
  for (double& x : v) {
    if (!std::isfinite(x)) continue;
    if (!signed_scale) x = std::log10(std::abs(x) + kTiny);
    hi = std::max(hi, signed_scale ? std::abs(x) : x);
    lo = std::min(lo, x);
  }
  if (hi >= lo) {  // at least one finite value
    range = signed_scale ? HeatmapRange{-hi, hi} : HeatmapRange{std::max(lo, hi - options.decades), hi};
  }
  const double span = range.hi - range.lo;

  std::vector<uint8_t> pixels(size_t(H * cell * W * cell * 3));
  const int64_t row_bytes = W * cell * 3;
  for (int64_t i = 0; i < H; ++i) {
    uint8_t* row = pixels.data() + i * cell * row_bytes;
    for (int64_t j = 0; j < W; ++j) {
      double x = v[size_t(i * W + j)];
      Rgb c = kNonFinite;
      if (std::isfinite(x)) {
        double t = span > 0 ? (x - range.lo) / span : 0.5;
        c = signed_scale ? ramp(kRedBlue, t) : ramp(kViridis, t);
      }
      for (int64_t q = 0; q < cell; ++q) {
        uint8_t* px = row + (j * cell + q) * 3;
        px[0] = uint8_t(std::lround(c.r));
        px[1] = uint8_t(std::lround(c.g));
        px[2] = uint8_t(std::lround(c.b));
      }
    }
    for (int64_t q = 1; q < cell; ++q) std::copy(row, row + row_bytes, row + q * row_bytes);
  }

  std::string png;
  int ok = stbi_write_png_to_func(append_bytes, &png, int(W * cell), int(H * cell), 3, pixels.data(), int(row_bytes));
  PMX_CHECK(ok != 0 && !png.empty(), "[write_heatmap_png] '", path, "': PNG encoding failed for a ", W * cell, " x ",
            H * cell, " image");
  write_file_atomic(path, png);
  return range;
}

}  // namespace pmx
