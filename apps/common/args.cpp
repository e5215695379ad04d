#include "apps/common/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "apps/common/json.h"
#include "core/error.h"

namespace pmx::apps {

ArgParser::ArgParser(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

static std::string format_double(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

int64_t ArgParser::add_int(const std::string& flag, int64_t v, const std::string& help) {
  order_.push_back(flag);
  options_[flag] = {Kind::Int, std::to_string(v), std::to_string(v), help};
  return v;
}
double ArgParser::add_double(const std::string& flag, double v, const std::string& help, bool allow_infinite) {
  order_.push_back(flag);
  options_[flag] = {Kind::Double, format_double(v), format_double(v), help, allow_infinite};
  return v;
}
std::string ArgParser::add_string(const std::string& flag, const std::string& v, const std::string& help) {
  order_.push_back(flag);
  options_[flag] = {Kind::String, v, v, help};
  return v;
}
bool ArgParser::add_flag(const std::string& flag, const std::string& help) {
  order_.push_back(flag);
  options_[flag] = {Kind::Flag, "false", "false", help};
  return false;
}

static void check_parses(const std::string& flag, const std::string& value, bool integer, bool allow_infinite) {
  char* end = nullptr;
  errno = 0;
  double number = 0;
  if (integer) std::strtoll(value.c_str(), &end, 10);
  else number = std::strtod(value.c_str(), &end);
  PMX_CHECK(!value.empty() && *end == '\0', "option ", flag, ": '", value, "' is not ",
            integer ? "an integer" : "a number");
  // strtoll clamps to INT64_MIN/MAX and strtod to +-HUGE_VAL or a (near) zero, and say so in
  // errno only: without this check 99999999999999999999 would silently run as 9223372036854775807.
  PMX_CHECK(errno != ERANGE, "option ", flag, ": '", value, "' is out of range (",
            integer ? "an integer from -9223372036854775808 to 9223372036854775807"
                    : "a number of magnitude from about 2.2e-308 to 1.8e308, or 0",
            ")");
  PMX_CHECK(!std::isnan(number), "option ", flag, ": '", value, "' is not a number");
  PMX_CHECK(!std::isinf(number) || allow_infinite, "option ", flag, ": '", value, "' is not a finite number");
}

void ArgParser::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    std::string flag = arg, value;
    bool inline_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    auto it = options_.find(flag);
    PMX_CHECK(it != options_.end(), "unknown option '", flag, "' (see ", program_, " --help)");
    Option& opt = it->second;
    if (opt.kind == Kind::Flag) {
      opt.value = inline_value ? value : "true";
      PMX_CHECK(opt.value == "true" || opt.value == "false", "option ", flag, " takes no value or true/false");
      continue;
    }
    if (!inline_value) {
      PMX_CHECK(i + 1 < argc, "option ", flag, " needs a value");
      value = argv[++i];
    }
    if (opt.kind == Kind::Int) check_parses(flag, value, true, false);
    if (opt.kind == Kind::Double) check_parses(flag, value, false, opt.allow_infinite);
    opt.value = value;
  }
}

std::string ArgParser::help() const {
  std::ostringstream s;
  s << "usage: " << program_ << " [options]\n" << description_ << "\n\noptions:\n";
  for (const std::string& flag : order_) {
    const Option& o = options_.at(flag);
    std::string left = "  " + flag + (o.kind == Kind::Flag ? "" : " VALUE");
    s << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << o.help;
    if (o.kind != Kind::Flag) s << " (default: " << (o.default_value.empty() ? "\"\"" : o.default_value) << ")";
    s << "\n";
  }
  s << "  --help                  show this message\n";
  return s.str();
}

const ArgParser::Option& ArgParser::find(const std::string& flag, Kind kind) const {
  auto it = options_.find(flag);
  PMX_CHECK(it != options_.end() && it->second.kind == kind, "[args] option ", flag, " was not declared with that type");
  return it->second;
}

int64_t ArgParser::get_int(const std::string& f) const { return std::strtoll(find(f, Kind::Int).value.c_str(), nullptr, 10); }
int64_t ArgParser::get_int(const std::string& f, int64_t min, int64_t max) const {
  const int64_t v = get_int(f);
  PMX_CHECK(v >= min && v <= max, f, " must be from ", min, " to ", max, ", got ", v);
  return v;
}
double ArgParser::get_double(const std::string& f) const { return std::strtod(find(f, Kind::Double).value.c_str(), nullptr); }
std::string ArgParser::get_string(const std::string& f) const { return find(f, Kind::String).value; }
bool ArgParser::get_flag(const std::string& f) const { return find(f, Kind::Flag).value == "true"; }

std::string ArgParser::to_json() const {
  // The parsed values, not the text given: "--lr .001" or "--batch 08" are no JSON numbers.
  std::string s = "{";
  for (size_t i = 0; i < order_.size(); ++i) {
    const std::string& flag = order_[i];
    const Option& o = options_.at(flag);
    s += (i ? ", " : "") + json_string(flag.substr(2)) + ": ";
    switch (o.kind) {
      case Kind::Int: s += std::to_string(get_int(flag)); break;
      case Kind::Double: s += json_number(get_double(flag)); break;
      case Kind::String: s += json_string(o.value); break;
      case Kind::Flag: s += get_flag(flag) ? "true" : "false"; break;
    }
  }
  return s + "}";
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  std::istringstream in(text);
  std::string item;
  while (!text.empty() && std::getline(in, item, ',')) items.push_back(item);
  return items;
}

}  // namespace pmx::apps
