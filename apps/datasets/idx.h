// IDX files (the MNIST format), gzip-compressed, read with zlib.
//
// Layout: big-endian magic (2051 for images: u32 count, rows, cols, then count*rows*cols bytes;
// 2049 for labels: u32 count, then count bytes). Every problem (missing file, wrong magic,
// truncated data, trailing bytes, label out of range) throws pmx::Error naming the file.
//
//   IdxImages imgs = read_idx_images("train-images-idx3-ubyte.gz");   // imgs.pixels: n*rows*cols
//   std::vector<uint8_t> labels = read_idx_labels("train-labels-idx1-ubyte.gz", 10);
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pmx::apps {

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // (count, rows, cols)
};

IdxImages read_idx_images(const std::string& path);
std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes);

}  // namespace pmx::apps
