// Finding or fetching a package's files into a cache folder and checking they are complete.
//
// Fetching (no system install, no root needed beyond what apt-get download needs):
//   Debian: scripts/fetch_deb_files.sh PKG DIR ./path...  (apt-get download + dpkg --fsys-tarfile |
//           tar x), files kept at their package path under DIR;
//   npm:    scripts/fetch_npm_package.sh NAME@VERSION DIR  (npm pack + tar xzf), files in DIR/package.
// A package is looked for in the cache folder first, then (Debian only) at its system path in case
// it is installed, and fetched only when neither is complete. When fetching fails, or
// PMX_NO_FETCH=1 forbids it, the pmx::Error lists each missing or wrong-size file and the exact
// command that gets it.
//
//   std::string root = ensure_deb_files(default_data_dir("dna"), "smalt-examples",
//                                       {{"usr/share/doc/smalt/test/data/hs37chrXtrunc.fa.gz", 19840875}});
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>


namespace pmx::apps {

// ---- files --------------------------------------------------------------------------------------

// The cache folder of a dataset: ~/.cache/pmx/<name>, or $PMX_DATA_DIR/<name> when that is set
// and not empty.
std::string default_data_dir(const std::string& name);

struct ExpectedFile {
  std::string path;   // relative to the package root, e.g. "usr/share/doc/.../x.fa.gz"
  int64_t bytes = 0;  // its exact size
};

bool path_exists(const std::string& path);
int64_t file_size(const std::string& path);  // -1 if missing
// Regular files in `dir` whose names end in `suffix`, sorted by name. Throws if `dir` is unreadable.
std::vector<std::string> list_files(const std::string& dir, const std::string& suffix);
std::string shell_quote(const std::string& text);

// "" when every file exists under `root` with its size; else one line per problem.
std::string check_files(const std::string& root, const std::vector<ExpectedFile>& files);

// The root (data_dir or "/") under which all `files` of the Debian package are complete, fetching
// them into data_dir when needed. Throws pmx::Error with the command to run by hand otherwise.
std::string ensure_deb_files(const std::string& data_dir, const std::string& package,
                             const std::vector<ExpectedFile>& files, std::ostream& log);
// The command ensure_deb_files runs (also what its errors tell a person to run).
std::string deb_fetch_command(const std::string& data_dir, const std::string& package,
                              const std::vector<ExpectedFile>& files);

// data_dir/package after making sure `check(data_dir + "/package")` returns "" (fetching with npm
// pack when it does not). `check` describes what is missing or wrong.
std::string ensure_npm_package(const std::string& data_dir, const std::string& spec,
                               const std::function<std::string(const std::string&)>& check, std::ostream& log);
std::string npm_fetch_command(const std::string& data_dir, const std::string& spec);

}  // namespace pmx::apps
