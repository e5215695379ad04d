// Helpers shared by the test files that touch the file system.
#pragma once
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
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

// The whole file, byte for byte ("" if it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// An app built beside the tests (build/apps/<name>), or "" when apps are not built.
inline std::string built_app(const std::string& name) {
  std::filesystem::path app =
      std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "apps" / name;
  return std::filesystem::exists(app) ? app.string() : std::string();
}

// Runs `command` in a shell with stderr joined to stdout; returns the exit status (0: success)
// and stores the output in *out.
inline int run_command(const std::string& command, std::string* out) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  out->clear();
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe)) *out += buf;
  return pclose(pipe);
}

// What an app printed (stdout and stderr) and its exit status.
struct AppRun {
  bool built = false;  // false: the app is not in the build tree (PMX_BUILD_APPS=OFF); nothing ran
  int status = -1;     // as pclose returns it: 0 on success
  std::string output;
};

// Runs build/apps/<name> with `flags` (split by the shell) and collects what it printed.
inline AppRun run_app(const std::string& name, const std::string& flags) {
  AppRun r;
  const std::string app = built_app(name);
  if (app.empty()) return r;
  r.built = true;
  r.status = run_command(app + " " + flags, &r.output);
  return r;
}

// An app run that must be refused: a nonzero exit status, and `message` in what it printed.
struct RefusedRun {
  std::string app, flags, message;
};

// Runs it and checks both; an app that is not built is skipped with a MESSAGE (run.built false).
inline AppRun expect_refused(const RefusedRun& c) {
  AppRun run = run_app(c.app, c.flags);
  if (!run.built) {
    MESSAGE("apps/" << c.app << " not built (PMX_BUILD_APPS=OFF): skipped");
    return run;
  }
  INFO(c.app << " " << c.flags << " -> " << run.output);
  CHECK(run.status != 0);
  CHECK(run.output.find(c.message) != std::string::npos);
  return run;
}

}  // namespace pmx_test
