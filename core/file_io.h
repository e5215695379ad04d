// File I/O with clear errors: atomic whole-file writes and positioned reads.
//
// write_file_atomic writes to "<path>.tmp.<pid>" in the target's directory, fsyncs it, then
// rename()s it over the target. rename is atomic on POSIX, so a reader (or a crash, or a full
// disk mid-write) sees either the old file or the complete new one, never half of each; a
// checkpoint being overwritten is never lost. On failure the temp file is removed and the
// target is untouched. Every error is a pmx::Error naming the path and the errno text.
//
// FileReader reads byte ranges at given offsets (pread), so a loader can check a header and
// then read each tensor straight into its own storage instead of staging the whole file.
//
//   pmx::write_file_atomic("run/ckpt.bin", {{header.data(), header.size()}, {weights, nbytes}});
//   std::string text = pmx::read_file("config.json");
//   pmx::FileReader in("model.safetensors");
//   in.read_at(0, &len, 8);                       // throws naming the file on a short read
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pmx {

// A borrowed range of bytes to write.
struct ByteSpan {
  const void* data;
  size_t size;
};

// Writes the concatenation of `pieces` to `path` atomically (see above).
void write_file_atomic(const std::string& path, const std::vector<ByteSpan>& pieces);
void write_file_atomic(const std::string& path, const std::string& contents);

// The whole file as bytes.
std::string read_file(const std::string& path);

class FileReader {
 public:
  explicit FileReader(const std::string& path);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Reads exactly n bytes at `offset` into dst; throws if the file ends first.
  void read_at(uint64_t offset, void* dst, size_t n) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace pmx
