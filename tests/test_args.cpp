// The apps' command-line parser (apps/common/args.h): values that do not fit are refused with
// a message naming the option, range checks name the option, the value and the range.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/args.h"
#include "core/error.h"

using namespace pmx;
using namespace pmx::apps;

namespace {

ArgParser declared() {
  ArgParser args("test", "test");
  args.add_int("--n", 8, "an integer");
  args.add_double("--lr", 1e-3, "a number");
  args.add_string("--name", "x", "a string");
  args.add_flag("--quiet", "a flag");
  return args;
}

void parse(ArgParser& args, std::vector<std::string> argv) {
  argv.insert(argv.begin(), "test");
  std::vector<char*> ptrs;
  for (std::string& s : argv) ptrs.push_back(s.data());
  args.parse(int(ptrs.size()), ptrs.data());
}

ArgParser parsed(std::vector<std::string> argv) {
  ArgParser args = declared();
  parse(args, std::move(argv));
  return args;
}

}  // namespace

TEST_CASE("args: integers and numbers that do not fit are refused, naming the option and the value") {
  CHECK(parsed({"--n", "9223372036854775807"}).get_int("--n") == INT64_MAX);
  CHECK(parsed({"--n", "-9223372036854775808"}).get_int("--n") == INT64_MIN);
  CHECK(parsed({"--n=+12"}).get_int("--n") == 12);
  CHECK_THROWS_WITH_AS(parsed({"--n", "9223372036854775808"}),
                       doctest::Contains("option --n: '9223372036854775808' is out of range"), pmx::Error);
  CHECK_THROWS_WITH_AS(parsed({"--n", "99999999999999999999999"}),
                       doctest::Contains("option --n: '99999999999999999999999' is out of range"), pmx::Error);
  CHECK_THROWS_WITH_AS(parsed({"--n=-99999999999999999999"}),
                       doctest::Contains("option --n: '-99999999999999999999' is out of range"), pmx::Error);
  CHECK_THROWS_WITH_AS(parsed({"--lr", "1e999"}), doctest::Contains("option --lr: '1e999' is out of range"),
                       pmx::Error);
  CHECK_THROWS_WITH_AS(parsed({"--lr", "-1e999"}), doctest::Contains("option --lr: '-1e999' is out of range"),
                       pmx::Error);
  CHECK_THROWS_WITH_AS(parsed({"--lr", "1e-400"}), doctest::Contains("option --lr: '1e-400' is out of range"),
                       pmx::Error);
  CHECK(parsed({"--lr", "1e300"}).get_double("--lr") == 1e300);
  CHECK_THROWS_WITH_AS(parsed({"--n", "12x"}), doctest::Contains("option --n: '12x' is not an integer"), pmx::Error);
}

TEST_CASE("args: get_int with a range names the option, the value and the range") {
  ArgParser args = parsed({"--n", "4294967297"});
  CHECK(args.get_int("--n") == 4294967297LL);
  CHECK(args.get_int("--n", 1, INT64_MAX) == 4294967297LL);
  CHECK_THROWS_WITH_AS(args.get_int("--n", 1, 1024), doctest::Contains("--n must be from 1 to 1024, got 4294967297"),
                       pmx::Error);
  CHECK_THROWS_WITH_AS(parsed({"--n", "0"}).get_int("--n", 1, 1024),
                       doctest::Contains("--n must be from 1 to 1024, got 0"), pmx::Error);
  CHECK(parsed({"--n", "1024"}).get_int("--n", 1, 1024) == 1024);
  CHECK_THROWS_AS(args.get_int("--lr", 0, 1), pmx::Error);  // not an integer option
}
