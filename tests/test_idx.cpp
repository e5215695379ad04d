// The IDX reader (apps/datasets/idx.h) on small gzip files written here: a good file reads back,
// and every kind of damage is refused with the file's name.
#include <doctest/doctest.h>

#include <zlib.h>

#include <filesystem>
#include <string>

#include "apps/datasets/idx.h"
#include "core/error.h"
#include "test_util.h"

using namespace pmx;

namespace {

// An IDX image file of `count` 2 x 3 images, pixel values i mod 251, as raw (uncompressed) bytes.
std::string idx_images(uint32_t count) {
  std::string s;
  for (uint32_t v : {2051u, count, 2u, 3u})
    for (int shift : {24, 16, 8, 0}) s += char((v >> shift) & 0xFF);
  for (uint32_t i = 0; i < count * 6; ++i) s += char(i % 251);
  return s;
}

std::string gzip_bytes(const std::string& raw, const std::string& tmp_path) {
  gzFile f = gzopen(tmp_path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, raw.data(), unsigned(raw.size())) == int(raw.size()));
  gzclose(f);
  return pmx_test::read_text(tmp_path);
}

std::string error_of(const std::string& path) {
  try {
    apps::read_idx_images(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("idx: a gzip IDX file reads back, a cut-off, padded or truncated one is refused, naming the file") {
  pmx_test::TempDir tmp("idx");
  const std::string raw = idx_images(5);
  const std::string gz = gzip_bytes(raw, tmp / "scratch.gz");

  pmx_test::write_text(tmp / "good.gz", gz);
  apps::IdxImages good = apps::read_idx_images(tmp / "good.gz");
  CHECK(good.count == 5);
  CHECK(good.rows == 2);
  CHECK(good.cols == 3);
  REQUIRE(good.pixels.size() == 30);
  CHECK(good.pixels[29] == 29);

  pmx_test::write_text(tmp / "plain", raw);  // zlib reads an uncompressed file as it is
  CHECK(apps::read_idx_images(tmp / "plain").count == 5);

  // The 8-byte trailer (CRC and length) cut off: every pixel is there, the check is not.
  pmx_test::write_text(tmp / "no_trailer.gz", gz.substr(0, gz.size() - 8));
  CHECK(error_of(tmp / "no_trailer.gz").find("no_trailer.gz: damaged or cut-off gzip stream") != std::string::npos);

  pmx_test::write_text(tmp / "padded.gz", gz + std::string(100, 'x'));
  CHECK(error_of(tmp / "padded.gz").find("padded.gz: unexpected bytes after the end of the gzip stream") !=
        std::string::npos);

  pmx_test::write_text(tmp / "extra_record.gz", gzip_bytes(raw + "z", tmp / "scratch2.gz"));
  CHECK(error_of(tmp / "extra_record.gz").find("unexpected bytes after the last record") != std::string::npos);

  pmx_test::write_text(tmp / "short.gz", gzip_bytes(raw.substr(0, raw.size() - 1), tmp / "scratch3.gz"));
  CHECK(error_of(tmp / "short.gz").find("file ends early") != std::string::npos);
}

TEST_CASE("idx: a header that claims more data than the file holds is refused before memory is set aside for it") {
  // A damaged header (4 billion 4096 x 4096 images, 2^56 bytes) over a few bytes of data: the
  // reader must say the file ends early, not try to allocate the claimed size first
  // (std::bad_alloc, or many GB zero-filled for a smaller but still bogus count).
  pmx_test::TempDir tmp("idx_huge");
  std::string header;
  for (uint32_t v : {2051u, 0xFFFFFFFFu, 4096u, 4096u})
    for (int shift : {24, 16, 8, 0}) header += char((v >> shift) & 0xFF);
  pmx_test::write_text(tmp / "huge.gz", gzip_bytes(header + std::string(100, '\1'), tmp / "scratch.gz"));
  CHECK(error_of(tmp / "huge.gz").find("huge.gz: file ends early while reading pixels") != std::string::npos);

  std::string labels;
  for (uint32_t v : {2049u, 0xFFFFFFFFu})
    for (int shift : {24, 16, 8, 0}) labels += char((v >> shift) & 0xFF);
  pmx_test::write_text(tmp / "labels.gz", gzip_bytes(labels + std::string(10, '\1'), tmp / "scratch2.gz"));
  std::string msg;
  try {
    apps::read_idx_labels(tmp / "labels.gz", 10);
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK(msg.find("labels.gz: file ends early while reading labels") != std::string::npos);
}
