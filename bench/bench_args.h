// bench_args.h: the command-line flags of a bench program. Each flag is declared with its
// default, help and allowed values, so --help lists every flag with its default, and a bad value
// stops the run with a message naming the flag instead of becoming 0 (std::atoi) or wrapping.
// Header-only: bench programs link pmx::pmx alone, not the apps library whose
// apps/common/args.h this follows (ranges checked in 64 bits, errors name the flag and value).
//
//   int64_t n = 1024;                 // the variable's value is the flag's default
//   std::string mode = "both";
//   bench::ArgParser args("bench_x", "What it measures.");
//   args.add_int("--n", &n, 2, bench::kMaxSeqLen, "sequence length");
//   args.add_choice("--mode", &mode, {"both", "train", "forward"}, "what to time");
//   args.parse(argc, argv);
//
// parse() takes `--flag value` and `--flag=value`; --help or -h prints the usage and exits 0; an
// unknown flag, a missing value, a value that does not parse in full, or one outside its range or
// list prints one line naming the flag and the value, then the usage, and exits 2.
#pragma once
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pmx::bench {

// Caps on what the flags set: sanity limits (as in apps/common/args.h) that turn absurd values
// into a clear error before anything is allocated, not promises that such a run fits in memory.
constexpr int64_t kMaxThreads = 1024;
constexpr int64_t kMaxReps = 1000000;             // --reps, --warmup
constexpr int64_t kMaxSeqLen = int64_t(1) << 20;  // --n
constexpr int64_t kMaxBatch = int64_t(1) << 20;   // --batch
constexpr int64_t kMaxLayers = 1024;              // --layers
constexpr int64_t kMaxWidth = int64_t(1) << 16;   // --dim

class ArgParser {
 public:
  // What a number flag must be besides finite.
  enum class Sign { Any, NonNegative, Positive };

  ArgParser(std::string program, std::string about) : program_(std::move(program)), about_(std::move(about)) {}

  // An integer in [min, max], checked in 64 bits before it is stored in *value.
  template <class Int>
  void add_int(const std::string& name, Int* value, int64_t min, int64_t max, const std::string& help) {
    static_assert(std::is_integral_v<Int> && std::is_signed_v<Int>, "add_int takes a signed integer");
    if (min < int64_t(std::numeric_limits<Int>::min()) || max > int64_t(std::numeric_limits<Int>::max())) {
      std::fprintf(stderr, "%s: [bench_args] the range of %s does not fit its variable\n", program_.c_str(),
                   name.c_str());
      std::abort();
    }
    const std::string range = std::to_string(min) + " to " + std::to_string(max);
    add(name, "N", std::to_string(*value), range, help, [=](const std::string& text) -> std::string {
      char* end = nullptr;
      errno = 0;
      const long long v = std::strtoll(text.c_str(), &end, 10);
      if (!starts_clean(text) || *end != '\0') return "needs an integer, got '" + text + "'";
      // strtoll clamps to the int64 range and says so in errno only.
      if (errno == ERANGE || v < min || v > max) return "must be from " + range + ", got " + text;
      *value = Int(v);
      return "";
    });
  }

  void add_double(const std::string& name, double* value, Sign sign, const std::string& help) {
    char shown[32];
    std::snprintf(shown, sizeof shown, "%g", *value);
    const char* need = sign == Sign::Positive ? "> 0" : sign == Sign::NonNegative ? ">= 0" : "";
    add(name, "X", shown, need, help, [=](const std::string& text) -> std::string {
      char* end = nullptr;
      errno = 0;
      const double v = std::strtod(text.c_str(), &end);
      if (!starts_clean(text) || *end != '\0') return "needs a number, got '" + text + "'";
      if (!std::isfinite(v)) return "needs a finite number, got '" + text + "'";
      if (errno == ERANGE) return "is out of range, got " + text;  // underflow: a denormal or 0
      if ((sign == Sign::Positive && !(v > 0)) || (sign == Sign::NonNegative && v < 0))
        return std::string("must be ") + need + ", got " + text;
      *value = v;
      return "";
    });
  }

  // One of the listed words.
  void add_choice(const std::string& name, std::string* value, const std::vector<std::string>& allowed,
                  const std::string& help) {
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : "|") + a;
    add(name, list, *value, "", help, [=](const std::string& text) -> std::string {
      for (const std::string& a : allowed)
        if (text == a) {
          *value = text;
          return "";
        }
      return "must be one of " + list + ", got '" + text + "'";
    });
  }

  // Any non-empty text (a path, say); the default may be empty, meaning "not given".
  void add_string(const std::string& name, std::string* value, const std::string& metavar, const std::string& help) {
    add(name, metavar, value->empty() ? "none" : *value, "", help, [=](const std::string& text) -> std::string {
      if (text.empty()) return "needs a non-empty value";
      *value = text;
      return "";
    });
  }

  // A switch: false unless given, and takes no value.
  void add_switch(const std::string& name, bool* value, const std::string& help) {
    *value = false;
    add(name, "", "off", "", help, [=](const std::string&) {
      *value = true;
      return std::string();
    });
  }

  void parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        std::fputs(usage().c_str(), stdout);
        std::exit(0);
      }
      if (arg.empty() || arg[0] != '-') fail("unexpected argument '" + arg + "'");
      const size_t eq = arg.find('=');
      const std::string name = arg.substr(0, eq);
      const Flag* flag = find(name);
      if (!flag) fail("unknown flag '" + name + "'");
      std::string text;
      if (flag->metavar.empty()) {
        if (eq != std::string::npos) fail(name + " takes no value, got '" + arg + "'");
      } else if (eq != std::string::npos) {
        text = arg.substr(eq + 1);
      } else if (i + 1 < argc) {
        text = argv[++i];  // taken as is, so `--fused -1` works; `--n --reps` fails as a bad --n
      } else {
        fail(name + " needs a value");
      }
      if (std::string error = flag->set(text); !error.empty()) fail(name + " " + error);
    }
  }

  // Every flag with its values and default.
  std::string usage() const {
    std::string s = "usage: " + program_ + " [flags]   (--flag value or --flag=value)\n" + about_ + "\n";
    size_t width = 10;
    for (const Flag& f : flags_) width = std::max(width, left(f).size());
    for (const Flag& f : flags_) {
      const std::string limits = f.limits.empty() ? "" : f.limits + ", ";
      s += "  " + left(f) + std::string(width + 2 - left(f).size(), ' ') + f.help + " (" + limits + "default " +
           f.shown + ")\n";
    }
    return s + "  -h, --help" + std::string(width - 8, ' ') + "this message\n";
  }

  // The error line, then the usage, on stderr; exit status 2. Also for a program's own checks.
  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s\n%s", program_.c_str(), message.c_str(), usage().c_str());
    std::exit(2);
  }

 private:
  struct Flag {
    std::string name, metavar, shown, limits, help;  // metavar empty: a switch; shown: the default
    std::function<std::string(const std::string&)> set;  // stores the value, or says what is wrong
  };

  void add(const std::string& name, const std::string& metavar, const std::string& shown, const std::string& limits,
           const std::string& help, std::function<std::string(const std::string&)> set) {
    flags_.push_back({name, metavar, shown, limits, help, std::move(set)});
  }
  const Flag* find(const std::string& name) const {
    for (const Flag& f : flags_)
      if (f.name == name) return &f;
    return nullptr;
  }
  static std::string left(const Flag& f) { return f.metavar.empty() ? f.name : f.name + " " + f.metavar; }
  // strtoll and strtod skip leading blanks; a value must not have them (nor be empty).
  static bool starts_clean(const std::string& text) {
    return !text.empty() && !std::isspace(static_cast<unsigned char>(text[0]));
  }

  std::string program_, about_;
  std::vector<Flag> flags_;
};

}  // namespace pmx::bench
