// ArgParser: the command-line options of an app, each declared with its default and help, so
// `--help` always lists every option with its default.
//
//   ArgParser args("fashion_mlp", "Train an MLP on Fashion-MNIST.");
//   int epochs = args.add_int("--epochs", 5, "passes over the training set");
//   std::string out = args.add_string("--summary", "", "write final metrics as JSON here");
//   args.parse(argc, argv);          // throws pmx::Error on unknown flags or bad values
//   if (args.help_requested()) { std::cout << args.help(); return 0; }
//   epochs = args.get_int("--epochs");
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pmx::apps {

class ArgParser {
 public:
  ArgParser(std::string program, std::string description);

  int64_t add_int(const std::string& flag, int64_t default_value, const std::string& help);
  // A number option. NaN is always refused, +-infinity unless allow_infinite (for settings where
  // it means something: no budget, no clipping); the JSON of the options writes it as null.
  double add_double(const std::string& flag, double default_value, const std::string& help,
                    bool allow_infinite = false);
  std::string add_string(const std::string& flag, const std::string& default_value, const std::string& help);
  bool add_flag(const std::string& flag, const std::string& help);  // boolean, default false

  // Reads argv; `--flag value` or `--flag=value`. Throws pmx::Error naming the flag on unknown
  // flags, missing values, values that do not parse and values out of the type's range (an
  // integer outside int64, a number that overflows a double or underflows to zero, NaN, an
  // infinity the option does not allow).
  void parse(int argc, char** argv);
  bool help_requested() const { return help_; }
  std::string help() const;

  int64_t get_int(const std::string& flag) const;
  // The value, checked to be in [min, max]: else throws pmx::Error "<flag> must be from <min> to
  // <max>, got <value>". Use it for every value the app narrows (to int) or must bound.
  int64_t get_int(const std::string& flag, int64_t min, int64_t max) const;
  double get_double(const std::string& flag) const;
  std::string get_string(const std::string& flag) const;
  bool get_flag(const std::string& flag) const;
  // Every option and its parsed value, as a JSON object (written into summaries): integers and
  // numbers as JSON numbers whatever their spelling (".001", "+1", "08"), infinity as null,
  // strings escaped (apps/common/json.h).
  std::string to_json() const;

 private:
  enum class Kind { Int, Double, String, Flag };
  struct Option {
    Kind kind;
    std::string value, default_value, help;
    bool allow_infinite = false;  // Double only
  };
  const Option& find(const std::string& flag, Kind kind) const;
  std::string program_, description_;
  std::vector<std::string> order_;
  std::map<std::string, Option> options_;
  bool help_ = false;
};

// The most threads an app accepts for --threads (more would only fail to start).
constexpr int64_t kMaxThreads = 1024;

// The longest sequence an app accepts for a length flag (synthetic --n): 2^20, 32 times the
// longest of the paper's synthetic table (2^15, docs/RESULTS.md). It is a sanity cap, not a
// promise that such a run fits in memory: it turns absurd values into a clear error before
// anything is built (2^62 used to hang num_factors, and N * d overflowed the flatten head).
constexpr int64_t kMaxSeqLen = int64_t(1) << 20;
// The same kind of caps on the other sizes the flags set: a value past them is refused with its
// flag named, before an overflow (steps x batch, N x d) or a failed allocation deep inside.
constexpr int64_t kMaxBatch = int64_t(1) << 20;     // --batch
constexpr int64_t kMaxSteps = int64_t(1) << 40;     // --steps, --warmup: steps x batch fits int64
constexpr int64_t kMaxEvalRows = int64_t(1) << 24;  // --eval-size, --test-size
constexpr int64_t kMaxWidth = int64_t(1) << 16;     // --dim, --hidden, --heads
constexpr int64_t kMaxLayers = 1024;                // --layers

// The items of a comma-separated flag value ("2:1500,4:2000" -> {"2:1500", "4:2000"}; "" -> {}),
// for the caller to check one by one.
std::vector<std::string> split_commas(const std::string& text);

}  // namespace pmx::apps
