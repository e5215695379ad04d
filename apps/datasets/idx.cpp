#include "apps/datasets/idx.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "core/error.h"

namespace pmx::apps {

namespace {

struct GzFile {
  explicit GzFile(const std::string& path) : path(path), file(gzopen(path.c_str(), "rb")) {
    PMX_CHECK(file != nullptr, "cannot open ", path, " (missing or unreadable)");
  }
  ~GzFile() { if (file) gzclose(file); }

  // `before` and `total` only word the error: bytes of `what` read earlier and expected in all.
  void read(void* dst, size_t n, const char* what, size_t before = 0, size_t total = 0) {
    size_t got = 0;
    while (got < n) {
      int chunk = int(std::min<size_t>(n - got, size_t(1) << 30));
      int r = gzread(file, static_cast<char*>(dst) + got, unsigned(chunk));
      if (r < 0) {
        int err;
        throw Error(detail::concat(path, ": corrupt gzip data while reading ", what, " (", gzerror(file, &err), ")"));
      }
      PMX_CHECK(r > 0, path, ": file ends early while reading ", what, " (", before + got, " of ", total ? total : n,
                " bytes)");
      got += size_t(r);
    }
  }
  // Reads n bytes into `out`, growing it 16 MiB at a time: the size comes from the header, and a
  // damaged one (4 billion images) must end in "file ends early", not in allocating and
  // zero-filling the claimed size first (std::bad_alloc, or gigabytes for a few bytes of data).
  void read_into(std::vector<uint8_t>& out, size_t n, const char* what) {
    out.clear();
    while (out.size() < n) {
      const size_t at = out.size(), step = std::min<size_t>(n - at, size_t(1) << 24);
      out.resize(at + step);
      read(out.data() + at, step, what, at, n);
    }
  }
  uint32_t read_u32(const char* field) {
    unsigned char b[4];
    read(b, 4, field);
    return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
  }
  // After the last record: no more data, an intact gzip trailer (zlib checks its CRC and length
  // only at the end, and reports a cut-off trailer through gzerror, not through gzread), and
  // nothing after the stream. zlib skips trailing bytes that are not another gzip member, so
  // that is checked by hand: the file's last 4 bytes must be the trailer's length field (the
  // uncompressed size mod 2^32, little-endian) of what was read.
  void expect_end() {
    char extra;
    const int r = gzread(file, &extra, 1);
    int err = Z_OK;
    const char* message = gzerror(file, &err);
    PMX_CHECK(r >= 0 && err == Z_OK, path, ": damaged or cut-off gzip stream after the last record (", message, ")");
    PMX_CHECK(r == 0, path, ": unexpected bytes after the last record");
    if (gzdirect(file)) return;  // an uncompressed file: its end is the data's end
    std::ifstream raw(path, std::ios::binary | std::ios::ate);
    unsigned char tail[4] = {0, 0, 0, 0};
    PMX_CHECK(raw && raw.tellg() >= 4 && raw.seekg(-4, std::ios::end) && raw.read(reinterpret_cast<char*>(tail), 4),
              "cannot read the end of ", path);
    const uint32_t length = uint32_t(tail[0]) | uint32_t(tail[1]) << 8 | uint32_t(tail[2]) << 16 | uint32_t(tail[3]) << 24;
    PMX_CHECK(length == uint32_t(gztell(file)), path,
              ": unexpected bytes after the end of the gzip stream (its trailer is not at the end of the file)");
  }

  std::string path;
  gzFile file;
};

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  GzFile f(path);
  uint32_t magic = f.read_u32("magic");
  PMX_CHECK(magic == 2051, path, ": magic is ", magic, ", expected 2051 for an IDX image file");
  IdxImages out;
  out.count = f.read_u32("image count");
  out.rows = f.read_u32("rows");
  out.cols = f.read_u32("cols");
  PMX_CHECK(out.rows > 0 && out.cols > 0 && out.rows <= 4096 && out.cols <= 4096, path,
            ": implausible image size ", out.rows, " x ", out.cols);
  f.read_into(out.pixels, size_t(out.count * out.rows * out.cols), "pixels");
  f.expect_end();
  return out;
}

std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes) {
  GzFile f(path);
  uint32_t magic = f.read_u32("magic");
  PMX_CHECK(magic == 2049, path, ": magic is ", magic, ", expected 2049 for an IDX label file");
  std::vector<uint8_t> labels;
  f.read_into(labels, f.read_u32("label count"), "labels");
  f.expect_end();
  for (size_t i = 0; i < labels.size(); ++i)
    PMX_CHECK(labels[i] < num_classes, path, ": record ", i, " has label ", int(labels[i]), ", expected 0..",
              num_classes - 1);
  return labels;
}

}  // namespace pmx::apps
