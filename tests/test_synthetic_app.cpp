// The synthetic app run as a program: bad flags are refused with a message and a non-zero exit,
// every output path is checked before training, and its --summary is valid JSON.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "json_check.h"
#include "test_util.h"

namespace fs = std::filesystem;
using pmx_test::TempDir;

TEST_CASE("synthetic_app: the synthetic app rejects bad flags with a message and a non-zero exit") {
  TempDir tmp("cli");
  std::ofstream(tmp / "corrupt.ckpt") << "garbage";
  struct Case {
    std::string flags, message;
  } cases[] = {{"--n 1", "--n must be from 2 to 1048576, got 1"},
               {"--task sorting", "--task must be adding or order"},
               {"--model rnn", "--model must be"},
               {"--protocol star", "--protocol must be"},
               {"--resume " + (tmp / "missing.ckpt"), "missing.ckpt"},
               {"--resume " + (tmp / "corrupt.ckpt"), "corrupt.ckpt"},
               {"--schedule step", "--schedule must be"},
               {"--bogus 3", "--bogus"},
               // Values that do not fit: refused, not clamped or cut to an int.
               {"--n 99999999999999999999999", "option --n: '99999999999999999999999' is out of range"},
               // num_factors never returned for N >= 2^62; a length far beyond any model is refused up front.
               {"--n 4611686018427387904", "--n must be from 2 to 1048576, got 4611686018427387904"},
               {"--n 1048577", "--n must be from 2 to 1048576, got 1048577"},
               {"--seed -99999999999999999999", "option --seed: '-99999999999999999999' is out of range"},
               {"--lr 1e999", "option --lr: '1e999' is out of range"},
               {"--threads 4294967297", "--threads must be from 1 to 1024, got 4294967297"},
               {"--threads 0", "--threads must be from 1 to 1024, got 0"}};
  for (const Case& c : cases) {
    pmx_test::AppRun run =
        pmx_test::run_app("synthetic", "--n 8 --steps 1 --quiet --checkpoint none --log none --plot none --mixing none " + c.flags);
    if (!run.built) {
      MESSAGE("apps/synthetic not built (PMX_BUILD_APPS=OFF): skipped");
      return;
    }
    INFO(c.flags << " -> " << run.output);
    CHECK(run.status != 0);
    CHECK(run.output.find(c.message) != std::string::npos);
  }
}

TEST_CASE("synthetic_app: the synthetic app's --summary is valid JSON for every spelling the parser accepts") {
  TempDir tmp("summary");
  const std::string base = "--n 8 --steps 1 --batch 4 --dim 4 --hidden 4 --eval-size 8 --test-size 8 --threads 1 "
                           "--quiet --checkpoint none --log none --plot none --mixing none --summary " +
                           (tmp / "s.json") + " ";
  struct Case {
    std::string flags, member;
  } cases[] = {{"--lr .001", "\"lr\": 0.001,"},
               {"--lr +0.001", "\"lr\": 0.001,"},
               {"--batch 08", "\"batch\": 8,"},
               {"--max-minutes inf", "\"max-minutes\": null,"},  // no budget
               {"--clip inf", "\"clip\": null,"},                // no clipping
               {"--clip -1e-0", "\"clip\": -1,"}};
  for (const Case& c : cases) {
    fs::remove(tmp / "s.json");
    pmx_test::AppRun run = pmx_test::run_app("synthetic", base + c.flags);
    if (!run.built) {
      MESSAGE("apps/synthetic not built (PMX_BUILD_APPS=OFF): skipped");
      return;
    }
    const std::string json = pmx_test::read_text(tmp / "s.json");
    INFO(c.flags << " -> " << run.output << json);
    CHECK(run.status == 0);
    CHECK(pmx_test::json_error(json) == "");
    CHECK(json.find(c.member) != std::string::npos);
  }
  // Not-a-number makes no sense anywhere, infinity not where it is no setting at all.
  for (const char* bad : {"--clip nan", "--lr inf", "--target inf", "--target nan", "--max-minutes nan"}) {
    pmx_test::AppRun run = pmx_test::run_app("synthetic", base + bad);
    INFO(bad << " -> " << run.output);
    CHECK(run.status != 0);
    CHECK((run.output.find("is not a number") != std::string::npos ||
           run.output.find("is not a finite number") != std::string::npos));
  }
}

TEST_CASE("synthetic_app: the synthetic app checks every output path before it trains") {
  const std::string app = pmx_test::built_app("synthetic");
  if (app.empty()) {
    MESSAGE("apps/synthetic not built (PMX_BUILD_APPS=OFF): skipped");
    return;
  }
  TempDir tmp("cli_out");
  const std::string bad = tmp / "no_such_dir/out";
  for (const char* flag : {"--plot", "--checkpoint", "--mixing", "--summary", "--log"}) {
    std::string cmd = "cd " + tmp.dir.string() + " && " + app + " --n 8 --steps 3 --threads 1 --quiet" +
                      " --checkpoint none --log none --plot none --mixing none --summary " + (tmp / "ok.json") + " " +
                      flag + " " + bad;
    std::string out;
    int status = pmx_test::run_command(cmd, &out);
    INFO(flag << " -> " << out);
    CHECK(status != 0);
    CHECK(out.find(std::string(flag) + ": cannot write " + bad) != std::string::npos);
    CHECK(out.find("test error") == std::string::npos);  // it never trained
    CHECK(fs::is_empty(tmp.dir));                         // and left no file (ok.json, probe)
  }
}

TEST_CASE("synthetic_app: with --test-size 0 the synthetic app says no test ran and writes null, not -1 %") {
  const std::string app = pmx_test::built_app("synthetic");
  if (app.empty()) {
    MESSAGE("apps/synthetic not built (PMX_BUILD_APPS=OFF): skipped");
    return;
  }
  TempDir tmp("cli_notest");
  std::string out;
  int status = pmx_test::run_command(app + " --n 8 --steps 2 --threads 1 --quiet --test-size 0 --checkpoint none" +
                                         " --log none --plot none --mixing none --summary " + (tmp / "s.json"),
                                     &out);
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("no test (--test-size 0)") != std::string::npos);
  CHECK(out.find("-1.00") == std::string::npos);
  const std::string js = pmx_test::read_text(tmp / "s.json");
  INFO(js);
  CHECK(js.find("\"test_error_pct\": null") != std::string::npos);
  CHECK(js.find("\"test_sequences\": 0") != std::string::npos);
}

