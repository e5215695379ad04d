// make_pathfinder_samples: a PNG sample sheet of generated Pathfinder-32 images for a person to
// look at: one block per difficulty (`--difficulties`, default 6, 9, 14 dashes per target path,
// top to bottom), each
// `--rows` x `--cols` images scaled up `--scale` times in grey, framed green when the two
// markers lie on one path (label 1) and red when they do not (label 0).
//
//   ./build/apps/make_pathfinder_samples --out pathfinder_samples.png --seed 0
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "apps/common/args.h"
#include "apps/common/report.h"
#include "apps/datasets/pathfinder.h"
#include "core/error.h"
#include "core/file_io.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

using namespace pmx;

namespace {

constexpr int64_t kMaxImages = 4096;      // per difficulty block
constexpr int64_t kMaxSheetSide = 16384;  // px; an RGB sheet of at most 768 MiB

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::string*>(context);
  out->append(static_cast<const char*>(data), size_t(size));
}

struct Sheet {
  int width, height;
  std::vector<uint8_t> rgb;  // (height, width, 3)
  void fill(int x0, int y0, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    for (int y = y0; y < y0 + h; ++y)
      for (int x = x0; x < x0 + w; ++x) {
        uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
        p[0] = r, p[1] = g, p[2] = b;
      }
  }
};

}  // namespace

int main(int argc, char** argv) {
  try {
    apps::ArgParser args("make_pathfinder_samples", "Write a PNG sheet of generated Pathfinder-32 images.");
    args.add_string("--out", "pathfinder_samples.png", "PNG file to write");
    args.add_int("--seed", 0, "generator seed");
    args.add_int("--first", 0, "index of the first image shown");
    args.add_int("--rows", 4, "rows of images per difficulty");
    args.add_int("--cols", 8, "images per row");
    args.add_int("--scale", 4, "pixels per image pixel");
    args.add_string("--difficulties", "6,9,14", "comma-separated dashes per target path, one block each (2 to 14)");
    args.parse(argc, argv);
    if (args.help_requested()) {
      std::printf("%s", args.help().c_str());
      return 0;
    }
    // Before the images are made (tens of seconds for a big sheet), not when the sheet is written.
    const std::string out = args.get_string("--out");
    PMX_CHECK(!out.empty(), "[make_pathfinder_samples] --out must name a PNG file");
    apps::check_output_path("--out", out);
    // Each checked in 64 bits before it is narrowed to an int, the product too.
    const int64_t rows64 = args.get_int("--rows", 1, kMaxImages), cols64 = args.get_int("--cols", 1, kMaxImages);
    PMX_CHECK(rows64 * cols64 <= kMaxImages, "[make_pathfinder_samples] --rows x --cols must be at most ", kMaxImages,
              " images, got ", rows64, " x ", cols64, " = ", rows64 * cols64);
    const int rows = int(rows64), cols = int(cols64), scale = int(args.get_int("--scale", 1, 32));
    const uint64_t first = uint64_t(args.get_int("--first", 0, INT64_MAX));
    const int side = apps::kPathfinderSide * scale, frame = 3, gap = 4, band = 16;
    const int pitch = side + 2 * frame + gap;
    const std::string list = args.get_string("--difficulties");
    std::vector<int> difficulties;
    for (const std::string& item : apps::split_commas(list)) {
      char* end = nullptr;
      long c = std::strtol(item.c_str(), &end, 10);
      PMX_CHECK(!item.empty() && *end == 0 && c >= apps::kPathfinderMinDashes && c <= apps::kPathfinderMaxDashes,
                "[make_pathfinder_samples] --difficulties: '", item, "' is not a dash count from 2 to 14 (in '", list,
                "')");
      difficulties.push_back(int(c));
    }
    PMX_CHECK(!difficulties.empty() && difficulties.size() <= 8,
              "[make_pathfinder_samples] --difficulties needs 1 to 8 entries, got '", list, "'");
    const int blocks = int(difficulties.size());
    const int64_t width = int64_t(cols) * pitch + gap, height = int64_t(blocks) * (band + int64_t(rows) * pitch) + gap;
    PMX_CHECK(width <= kMaxSheetSide && height <= kMaxSheetSide, "[make_pathfinder_samples] the sheet would be ", width,
              " x ", height, " px, more than ", kMaxSheetSide, " a side: use fewer --rows, --cols or --difficulties, or "
              "a smaller --scale");
    Sheet sheet{int(width), int(height), {}};
    sheet.rgb.assign(size_t(sheet.width) * sheet.height * 3, 40);

    for (int d = 0; d < blocks; ++d) {
      std::vector<apps::PathfinderExample> images = apps::make_pathfinder_split(
          size_t(rows * cols), difficulties[d], uint64_t(args.get_int("--seed")), first);
      const int block_y = d * (band + rows * pitch);
      // A band of d + 1 white ticks tells the blocks apart without a font.
      for (int t = 0; t <= d; ++t) sheet.fill(gap + t * 12, block_y + 4, 8, band - 8, 230, 230, 230);
      int connected = 0;
      for (int i = 0; i < rows * cols; ++i) {
        const apps::PathfinderExample& e = images[i];
        connected += e.label;
        int x0 = gap + (i % cols) * pitch, y0 = block_y + band + (i / cols) * pitch;
        if (e.label)
          sheet.fill(x0, y0, side + 2 * frame, side + 2 * frame, 40, 200, 60);
        else
          sheet.fill(x0, y0, side + 2 * frame, side + 2 * frame, 220, 40, 40);
        for (int y = 0; y < side; ++y)
          for (int x = 0; x < side; ++x) {
            uint8_t v = e.pixels[(y / scale) * apps::kPathfinderSide + x / scale];
            sheet.fill(x0 + frame + x, y0 + frame + y, 1, 1, v, v, v);
          }
      }
      std::printf("block %d (%d ticks): %d dashes per target path, %d of %d images with label 1 (green frame)\n", d + 1,
                  d + 1, difficulties[d], connected, rows * cols);
    }
    std::string png;
    int ok = stbi_write_png_to_func(append_bytes, &png, sheet.width, sheet.height, 3, sheet.rgb.data(), sheet.width * 3);
    PMX_CHECK(ok, "[make_pathfinder_samples] PNG encoding failed (", sheet.width, " x ", sheet.height, ")");
    write_file_atomic(out, png);
    std::printf("wrote %s (%d x %d px)\n", out.c_str(), sheet.width, sheet.height);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_pathfinder_samples: %s\n", e.what());
    return 1;
  }
}
