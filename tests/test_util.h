// Helpers shared by the test files that touch the file system.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace pmx_test {

// A fresh directory for one test, removed when the test ends. Each CTest case is its own
// process, so the pid keeps parallel cases apart.
struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& tag) {
    dir = std::filesystem::temp_directory_path() / ("pmx_" + tag + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~TempDir() { std::filesystem::remove_all(dir); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

// Writes `text` to `path` byte for byte, creating parent directories.
inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace pmx_test
