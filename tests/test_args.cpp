// The apps' command-line parser (apps/common/args.h): values that do not fit are refused with
// a message naming the option, range checks name the option, the value and the range; the
// options and the run summaries are valid JSON (apps/common/json.h) whatever the spelling.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "apps/common/args.h"
#include "apps/common/json.h"
#include "apps/common/report.h"
#include "core/error.h"
#include "json_check.h"
#include "test_util.h"

using namespace pmx;
using namespace pmx::apps;
using pmx_test::json_error;

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

TEST_CASE("args: the JSON checker of the tests is strict") {
  for (const char* good : {"{}", "[]", "{\"a\": [1, -0.5, 1e-05, 1E+06, true, false, null, \"x\\n\\u00e9\"]}", " 0 ",
                           "\"\xc3\xa9\""})
    CHECK_MESSAGE(json_error(good) == "", good);
  for (const char* bad : {"{\"a\": .001}", "{\"a\": +1}", "{\"a\": 08}", "{\"a\": nan}", "{\"a\": inf}",
                          "{\"a\": -nan}", "{\"a\": NaN}", "\"a\nb\"", "\"\x01\"", "\"\xff\"", "{\"a\": 1,}", "{\"a\" 1}",
                          "[1 2]", "{} {}", "\"\\x\"", "1.", "-"})
    CHECK_MESSAGE(json_error(bad) != "", bad);
}

TEST_CASE("args: to_json writes the parsed values as valid JSON whatever the spelling") {
  struct Case {
    std::vector<std::string> argv;
    std::string member;
  } cases[] = {{{"--lr", ".001"}, "\"lr\": 0.001"},
               {{"--lr", "+0.001"}, "\"lr\": 0.001"},
               {{"--lr", "1e-3"}, "\"lr\": 0.001"},
               {{"--lr", "0x1p-3"}, "\"lr\": 0.125"},
               {{"--lr", "1."}, "\"lr\": 1,"},
               {{"--lr", "0.1234567890123456789"}, "\"lr\": 0.12345678901234568,"},  // round-trip digits
               {{"--n", "08"}, "\"n\": 8,"},
               {{"--n", "+12"}, "\"n\": 12,"},
               {{"--n", " -3"}, "\"n\": -3,"},
               {{"--quiet"}, "\"quiet\": true"},
               {{"--name", "a\"b\\c\nd\te\x01" "f\x7fg"}, "\"name\": \"a\\\"b\\\\c\\nd\\te\\u0001f\x7fg\""},
               {{"--name", "caf\xc3\xa9"}, "\"name\": \"caf\xc3\xa9\""},            // UTF-8 as is
               {{"--name", "bad\xff"}, "\"name\": \"bad\\ufffd\""}};            // not UTF-8: replaced
  for (const Case& c : cases) {
    std::string json = parsed(c.argv).to_json();
    INFO(c.argv[0] << " " << (c.argv.size() > 1 ? c.argv[1] : "") << " -> " << json);
    CHECK(json_error(json) == "");
    CHECK(json.find(c.member) != std::string::npos);
  }
  // What is written reads back as the value parsed.
  ArgParser p = parsed({"--lr", "0.1234567890123456789"});
  std::string json = p.to_json();
  CHECK(std::strtod(json.c_str() + json.find("\"lr\": ") + 6, nullptr) == p.get_double("--lr"));
}

TEST_CASE("args: NaN is refused, infinity only where the option allows it, written as null") {
  ArgParser args = declared();
  args.add_double("--clip", 1.0, "infinity allowed", /*allow_infinite=*/true);
  parse(args, {"--clip", "inf"});
  CHECK(std::isinf(args.get_double("--clip")));
  CHECK(args.to_json().find("\"clip\": null") != std::string::npos);
  CHECK(json_error(args.to_json()) == "");
  for (const char* inf : {"inf", "-Infinity", "INF"}) {
    const std::string message = "option --lr: '" + std::string(inf) + "' is not a finite number";
    CHECK_THROWS_WITH_AS(parsed({"--lr", inf}), doctest::Contains(message.c_str()), pmx::Error);
  }
  for (const char* nan : {"nan", "-nan", "NAN(123)"}) {
    const std::string message = "option --lr: '" + std::string(nan) + "' is not a number";
    CHECK_THROWS_WITH_AS(parsed({"--lr", nan}), doctest::Contains(message.c_str()), pmx::Error);
    ArgParser c = declared();
    c.add_double("--clip", 1.0, "infinity allowed", true);
    CHECK_THROWS_WITH_AS(parse(c, {"--clip", nan}), doctest::Contains("is not a number"), pmx::Error);
  }
}

TEST_CASE("args: json_number and json_string, the one JSON writer of the apps") {
  CHECK(json_number(0.001) == "0.001");
  CHECK(json_number(1e-4) == "0.0001");
  CHECK(json_number(1e-5) == "1e-05");
  CHECK(json_number(1e6) == "1e+06");  // as std::ostream wrote it: old checkpoint configs still match
  CHECK(json_number(3) == "3");
  CHECK(json_number(-0.0) == "-0");
  CHECK(json_number(0.1 + 0.2) == "0.30000000000000004");
  CHECK(json_number(NAN) == "null");
  CHECK(json_number(INFINITY) == "null");
  CHECK(json_number(-INFINITY) == "null");
  for (double v : {0.1, 1.0 / 3, 2.5e-310, 1.7976931348623157e308, -123456.789, 5e-324}) {
    std::string text = json_number(v);
    CHECK_MESSAGE(json_error(text) == "", text);
    CHECK(std::strtod(text.c_str(), nullptr) == v);
  }
  CHECK(json_string("plain") == "\"plain\"");
  CHECK(json_string("q\"b\\") == "\"q\\\"b\\\\\"");
  CHECK(json_string(std::string("\b\f\n\r\t\x1f\0", 7)) == "\"\\b\\f\\n\\r\\t\\u001f\\u0000\"");
  CHECK(json_string("\xe2\x82\xac \xf0\x9f\x98\x80") == "\"\xe2\x82\xac \xf0\x9f\x98\x80\"");
  CHECK(json_string("\xc0\xaf \xed\xa0\x80 \xe2\x82") == "\"\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"");
}

TEST_CASE("args: CsvLog notices a failed write (a full disk) instead of dropping rows silently") {
  // /dev/full accepts the open and fails every flush with ENOSPC, as a full disk would.
  if (!std::ifstream("/dev/full")) return;
  apps::CsvLog full("/dev/full", {"step", "loss"});
  full.row({1, 0.5});
  CHECK_FALSE(full.ok());
  full.row({2, 0.25});  // after the warning, further rows are skipped without another one
  CHECK_FALSE(full.ok());
  pmx_test::TempDir tmp("csvlog");
  apps::CsvLog good(tmp / "log.csv", {"step", "loss"});
  good.row({1, 0.5});
  CHECK(good.ok());
  std::ifstream in(tmp / "log.csv");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == "step,loss\n1,0.5\n");
}

TEST_CASE("args: Summary writes non-finite numbers as null and escapes keys and strings") {
  Summary s;
  s.set("loss", NAN);
  s.set("rate", INFINITY);
  s.set("ok", 87.25);
  s.set("path", std::string("a\tb\x01\nc\"d"));
  s.set("k\"ey", 1.0);
  s.set_json("config", parsed({"--lr", ".5", "--name", "x\ny"}).to_json());
  std::string json = s.to_json();
  INFO(json);
  CHECK(json_error(json) == "");
  CHECK(json.find("\"loss\": null") != std::string::npos);
  CHECK(json.find("\"rate\": null") != std::string::npos);
  CHECK(json.find("\"ok\": 87.25") != std::string::npos);
  CHECK(json.find("\"path\": \"a\\tb\\u0001\\nc\\\"d\"") != std::string::npos);
  CHECK(json.find("\"k\\\"ey\": 1") != std::string::npos);
}
