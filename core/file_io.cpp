#include "core/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace pmx {

static std::string errno_text(int err) { return std::string(std::strerror(err)); }

static std::string directory_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Writes all n bytes, retrying short writes and EINTR; returns 0 or the errno.
static int write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t done = ::write(fd, data, n);
    if (done < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += done;
    n -= size_t(done);
  }
  return 0;
}

void write_file_atomic(const std::string& path, const std::vector<ByteSpan>& pieces) {
  PMX_CHECK(!path.empty(), "[write_file] empty path");
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  PMX_CHECK(fd >= 0, "[write_file] cannot create '", tmp, "' (to write '", path, "'): ", errno_text(errno));

  // Any failure past this point removes the temp file and leaves the target as it was.
  auto fail = [&](const char* step, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(detail::concat("[write_file] ", step, " failed for '", path, "': ", errno_text(err)));
  };
  for (const ByteSpan& piece : pieces)
    if (int err = write_all(fd, static_cast<const char*>(piece.data), piece.size)) fail("write", err);
  // Without fsync the rename can reach the disk before the data, and a crash then leaves an
  // empty or partial file under the final name.
  if (::fsync(fd) != 0) fail("fsync", errno);
  int closed = ::close(fd);
  fd = -1;
  if (closed != 0) fail("close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);

  // Persist the directory entry too; best effort, since some filesystems refuse fsync on a dir.
  int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  write_file_atomic(path, std::vector<ByteSpan>{{contents.data(), contents.size()}});
}

FileReader::FileReader(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PMX_CHECK(fd_ >= 0, "[read_file] cannot open '", path, "': ", errno_text(errno));
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    int err = errno;
    ::close(fd_);
    throw Error(detail::concat("[read_file] cannot stat '", path, "': ", errno_text(err)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(detail::concat("[read_file] '", path, "' is not a regular file"));
  }
  size_ = uint64_t(st.st_size);
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

void FileReader::read_at(uint64_t offset, void* dst, size_t n) const {
  char* out = static_cast<char*>(dst);
  uint64_t pos = offset;
  size_t left = n;
  while (left > 0) {
    ssize_t got = ::pread(fd_, out, left, off_t(pos));
    if (got < 0) {
      if (errno == EINTR) continue;
      throw Error(detail::concat("[read_file] read of '", path_, "' at byte ", pos, " failed: ", errno_text(errno)));
    }
    PMX_CHECK(got > 0, "[read_file] '", path_, "' ends at byte ", pos, ", expected ", n, " bytes from byte ", offset);
    out += got;
    pos += uint64_t(got);
    left -= size_t(got);
  }
}

std::string read_file(const std::string& path) {
  FileReader in(path);
  std::string bytes(size_t(in.size()), '\0');
  in.read_at(0, bytes.data(), bytes.size());
  return bytes;
}

}  // namespace pmx
