// The real-task apps' shared flags and run flow (apps/common/model_flags.h), and the apps run as
// programs: tiny end-to-end runs that need no fetched data, and bad flags refused with a message.
#include <doctest/doctest.h>

#include "json_check.h"
#include "real_apps_util.h"

namespace fs = std::filesystem;
using namespace pmx;
using namespace pmx::apps;
using namespace pmx_test;

TEST_CASE("real_apps: the model flags build the configured Paramixer or Transformer") {
  StateGuard guard;
  ModelDefaults d;
  d.head = "cls";
  d.p1 = 0.4;
  ArgParser args = parsed(d, {"--dim", "16", "--hidden", "24", "--layers", "2", "--protocol", "cdil", "--seed", "3"});
  CHECK(apply_run_flags(args) == 3);
  CHECK(get_num_threads() == 1);
  CHECK(model_variant(args) == "paramixer_cdil");
  ModelShape shape{64, 10, 0, 3};
  std::unique_ptr<nn::Module> m = make_model(args, shape);
  auto* p = dynamic_cast<nn::ParamixerModel*>(m.get());
  REQUIRE(p != nullptr);
  CHECK(p->config.dim == 16);
  CHECK(p->config.hidden == 24);
  CHECK(p->config.layers == 2);
  CHECK(p->config.protocol == kernels::Protocol::Cdil);
  CHECK(p->config.head == nn::ParamixerHead::Cls);
  CHECK(p->config.position_table);
  CHECK(p->config.p1 == 0.4);
  CHECK(p->config.padding_idx == 0);
  CHECK(p->config.classes == 3);
  CHECK(p->config.embedding_init == 0);
  CHECK(run_config_json(args, shape, "").find("embedding_init") == std::string::npos);  // old checkpoints resume
  ArgParser u = parsed(d, {"--embedding-init", "0.1"});
  apply_run_flags(u);
  std::unique_ptr<nn::Module> um = make_model(u, shape);
  CHECK(dynamic_cast<nn::ParamixerModel*>(um.get())->config.embedding_init == 0.1);
  CHECK(run_config_json(u, shape, "").find("\"embedding_init\":0.1") != std::string::npos);
  Tensor ids = zeros({2, 64}, DType::Int64);
  CHECK(m->forward(ids).shape() == Shape{2, 3});

  ArgParser t = parsed(d, {"--model", "transformer", "--dim", "16", "--heads", "4", "--head", "mean"});
  apply_run_flags(t);
  CHECK(model_variant(t) == "transformer");
  std::unique_ptr<nn::Module> tm = make_model(t, shape);
  auto* tr = dynamic_cast<nn::TransformerModel*>(tm.get());
  REQUIRE(tr != nullptr);
  CHECK(tr->config.head == nn::TransformerHead::Mean);
  // --head max maps to the max-pool head of either model.
  ArgParser mx = parsed(d, {"--head", "max"});
  apply_run_flags(mx);
  CHECK(dynamic_cast<nn::ParamixerModel*>(make_model(mx, shape).get())->config.head == nn::ParamixerHead::Max);
  ArgParser tmx = parsed(d, {"--model", "transformer", "--dim", "16", "--heads", "4", "--head", "max"});
  apply_run_flags(tmx);
  CHECK(dynamic_cast<nn::TransformerModel*>(make_model(tmx, shape).get())->config.head == nn::TransformerHead::Max);
  CHECK(tr->config.embed_dropout == 0.4);
  CHECK(tr->config.embedding_init == 0);
  ArgParser tu = parsed(d, {"--model", "transformer", "--dim", "16", "--embedding-init", "0.1"});
  apply_run_flags(tu);
  std::unique_ptr<nn::Module> tum = make_model(tu, shape);
  CHECK(dynamic_cast<nn::TransformerModel*>(tum.get())->config.embedding_init == 0.1);
  std::vector<float> te = dynamic_cast<nn::TransformerModel*>(tum.get())->embedding->weight.to_vector<float>();
  CHECK(*std::max_element(te.begin(), te.end()) <= 0.1f);
  CHECK(*std::min_element(te.begin(), te.end()) >= -0.1f);
  CHECK(tm->forward(ids).shape() == Shape{2, 3});
  CHECK(run_config_json(t, shape, "{\"x\":1}").find("\"data\":{\"x\":1}") != std::string::npos);
  CHECK(resolve_path("auto", "run", ".csv") == "run.csv");
  CHECK(resolve_path("none", "run", ".csv") == "");
  CHECK(resolve_path("a.csv", "run", ".csv") == "a.csv");
}

TEST_CASE("real_apps: the run config JSON is valid, keeps its old text, and reads back every value") {
  StateGuard guard;
  ModelDefaults d;
  ModelShape shape{64, 10, 0, 3};
  // The default config's text exactly as before: checkpoints written then still resume.
  CHECK(run_config_json(parsed(d, {}), shape, "{\"x\":1}") ==
        "{\"model\":\"paramixer\",\"protocol\":\"chord\",\"layers\":1,\"dim\":32,\"hidden\":32,\"heads\":4,"
        "\"head\":\"flatten\",\"position_table\":1,\"p1\":0,\"p2\":0,\"batch\":32,\"lr\":0.001,\"clip\":1,"
        "\"seed\":0,\"seq_len\":64,\"vocab\":10,\"classes\":3,\"data\":{\"x\":1}}");
  std::string json = run_config_json(parsed(d, {"--clip", "inf", "--lr", "1.23456789e-4", "--embedding-init", "1e6",
                                                "--schedule", "cosine"}),
                                     shape, "");
  INFO(json);
  CHECK(pmx_test::json_error(json) == "");
  CHECK(json.find("\"clip\":null") != std::string::npos);
  CHECK(json.find("\"lr\":0.000123456789,") != std::string::npos);  // not cut to 6 digits
  CHECK(json.find("\"embedding_init\":1e+06,") != std::string::npos);
}

TEST_CASE("real_apps: apply_run_flags and make_model reject bad flags, naming them") {
  StateGuard guard;
  ModelDefaults d;
  CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {"--model", "lstm"})), doctest::Contains("--model"), pmx::Error);
  CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {"--protocol", "dense"})), doctest::Contains("--protocol"),
                       pmx::Error);
  CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {"--head", "median"})), doctest::Contains("--head"), pmx::Error);
  CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {"--model", "transformer", "--dim", "10", "--heads", "4"})),
                       doctest::Contains("--heads"), pmx::Error);
  CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {"--p2", "1"})), doctest::Contains("--p2"), pmx::Error);
  CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {"--lr", "0"})), doctest::Contains("--lr"), pmx::Error);
  CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {"--threads", "0"})), doctest::Contains("--threads"), pmx::Error);
  // 4294967297 cut to an int is 1: refused instead of running on one thread.
  CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {"--threads", "4294967297"})),
                       doctest::Contains("--threads must be from 1 to 1024, got 4294967297"), pmx::Error);
  CHECK_THROWS_AS(apply_run_flags(parsed(d, {"--position-table", "2"})), pmx::Error);
  CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {"--embedding-init", "-0.1"})), doctest::Contains("--embedding-init"),
                       pmx::Error);
  CHECK_THROWS_AS(apply_run_flags(parsed(d, {"--batch", "0"})), pmx::Error);
  // Sizes past their caps: refused naming the flag, not an overflow of steps x batch or a
  // std::bad_alloc from deep inside the first step.
  const std::pair<const char*, const char*> too_big[] = {
      {"--batch", "1048577"},      {"--steps", "1099511627777"}, {"--warmup", "1099511627777"},
      {"--eval-size", "16777217"}, {"--test-size", "16777217"},  {"--dim", "65537"},
      {"--hidden", "65537"},       {"--heads", "65537"},         {"--layers", "1025"}};
  for (const auto& [flag, value] : too_big)
    CHECK_THROWS_WITH_AS(apply_run_flags(parsed(d, {flag, value})),
                         doctest::Contains((std::string(flag) + " must be from ").c_str()), pmx::Error);
  CHECK_THROWS_WITH_AS(make_model(parsed(d, {}), ModelShape{0, 10, -1, 2}), doctest::Contains("[make_model]"),
                       pmx::Error);
}

TEST_CASE("real_apps: the apps refuse values that do not fit an int instead of cutting them") {
  TempDir tmp("narrow");
  const pmx_test::RefusedRun cases[] = {
      // 4294967302 cut to an int is 6: it would run difficulty 6.
      {"pathfinder",
       "--difficulty 4294967302 --train-examples 1 --val-examples 1 --test-examples 1 --steps 1 --dim 8 --hidden 8 "
       "--quiet --checkpoint none --log none --plot none",
       "--difficulty must be 2 to 14 dashes (LRA: 6, 9, 14), got 4294967302"},
      {"fashion_mlp", "--threads 4294967297 --data-dir /dev/null/none --log none",
       "--threads must be from 1 to 1024, got 4294967297"},
      {"make_pathfinder_samples", "--rows 4294967297 --out " + (tmp / "a.png"), "--rows must be from 1 to 4096"},
      {"make_pathfinder_samples", "--cols -4294967295 --out " + (tmp / "b.png"), "--cols must be from 1 to 4096"},
      {"make_pathfinder_samples", "--scale 4294967298 --out " + (tmp / "c.png"), "--scale must be from 1 to 32"},
      // 65536 * 65536 overflows an int to 0, which passed the <= 4096 check.
      {"make_pathfinder_samples", "--rows 65536 --cols 65536 --out " + (tmp / "d.png"), "--rows must be from 1 to 4096"},
      {"make_pathfinder_samples", "--rows 4096 --cols 2 --out " + (tmp / "d.png"),
       "--rows x --cols must be at most 4096 images, got 4096 x 2 = 8192"},
      {"make_pathfinder_samples", "--rows 4096 --cols 1 --scale 32 --out " + (tmp / "d.png"),
       "more than 16384 a side"},
      {"make_pathfinder_samples", "--first -1 --out " + (tmp / "d.png"), "--first must be from 0 to"},
      {"inspect_mixer", "--weights " + (tmp / "none.safetensors") + " --seq-len 8 --vocab 4 --cell 4294967297",
       "--cell must be from 0 to"},
      // Sequence lengths: bounded before anything is allocated or fetched.
      {"inspect_mixer", "--weights " + (tmp / "none.safetensors") + " --seq-len 4611686018427387904 --vocab 4",
       "--seq-len must be from 2 to 2048, got 4611686018427387904"},
      {"spam", "--n 4294967296 --data-dir /dev/null/none", "--n must be from 2 to 65536, got 4294967296"},
      // Model sizes capped as the training apps cap them: 10^11 layers were built one by one (a hang
      // until memory ran out), a huge --dim overflowed a shape.
      {"inspect_mixer", "--weights " + (tmp / "none.safetensors") + " --seq-len 8 --vocab 4 --layers 100000000000",
       "--layers must be from 1 to 1024, got 100000000000"},
      {"inspect_mixer", "--weights " + (tmp / "none.safetensors") + " --seq-len 8 --vocab 4 --dim 4611686018427387904",
       "--dim must be from 1 to 65536"},
      {"inspect_mixer", "--weights " + (tmp / "none.safetensors") + " --seq-len 8 --vocab 4 --hidden 0",
       "--hidden must be from 1 to 65536, got 0"},
  };
  for (const pmx_test::RefusedRun& c : cases) pmx_test::expect_refused(c);
  for (const char* png : {"a.png", "b.png", "c.png", "d.png"}) CHECK(!fs::exists(tmp / png));
}

TEST_CASE("real_apps: make_listops refuses sample sizes with nothing to measure or that cannot be made") {
  struct Case {
    std::string flags, message;
  } cases[] = {{"--sample 0 --show 0", "--sample must be from 1 to 1000000, got 0"},  // printed -nan% and exit 0
               {"--sample -5 --show -1", "--sample must be from 1 to 1000000, got -5"},  // vector::reserve
               {"--sample 5 --show -1", "--show must be from 0 to 1000000, got -1"},
               {"--sample 1000001", "--sample must be from 1 to 1000000, got 1000001"},
               {"--sample 1 --show 4294967296", "--show must be from 0 to 1000000, got 4294967296"}};
  for (const Case& c : cases) {
    pmx_test::AppRun run = pmx_test::run_app("make_listops", c.flags);
    if (!run.built) {
      MESSAGE("apps/make_listops not built (PMX_BUILD_APPS=OFF): skipped");
      return;
    }
    INFO(c.flags << " -> " << run.output);
    CHECK(run.status != 0);
    CHECK(run.output.find(c.message) != std::string::npos);
  }
  pmx_test::AppRun one = pmx_test::run_app("make_listops", "--sample 1 --show 0");
  INFO(one.output);
  CHECK(one.status == 0);
  CHECK(one.output.find("1 examples") != std::string::npos);
  CHECK(one.output.find("nan") == std::string::npos);
}

TEST_CASE("real_apps: pathfinder writes a valid summary whatever the --curriculum text holds") {
  TempDir tmp("pf_json");
  // A tab after the last item parses (blanks around items are allowed) and went into the JSON raw.
  pmx_test::AppRun run = pmx_test::run_app(
      "pathfinder", "--curriculum '2:1\t' --train-examples 16 --val-examples 4 --test-examples 4 --steps 2 --batch 4 "
                    "--dim 8 --hidden 4 --threads 1 --eval-every 1 --eval-size 4 --test-size 4 --quiet --log none "
                    "--plot none --checkpoint none --summary " + (tmp / "s.json"));
  if (!run.built) {
    MESSAGE("apps/pathfinder not built (PMX_BUILD_APPS=OFF): skipped");
    return;
  }
  INFO(run.output);
  REQUIRE(run.status == 0);
  const std::string json = read_text(tmp / "s.json");
  CHECK(pmx_test::json_error(json) == "");
  CHECK(json.find("\"curriculum\":\"2:1\\t\"") != std::string::npos);
}

TEST_CASE("real_apps: tiny end-to-end runs of every task adapter write a summary with the test accuracy") {
  StateGuard guard;
  TempDir tmp("e2e");
  ModelDefaults d;

  ListOpsData lo = make_listops_splits(16, 8, 8, 0);
  ListOpsTask lt(lo, 0);
  ArgParser la = parsed(d, tiny_run(tmp / "listops.json"));
  uint64_t seed = apply_run_flags(la);
  CHECK(run_classification(la, "listops", "", lt, ModelShape{2000, kListOpsVocab, 0, 10}, "{}", 8, 8) == 0);
  std::string js = read_text(tmp / "listops.json");
  CHECK(js.find("\"test_accuracy_pct\"") != std::string::npos);
  CHECK(js.find("\"steps\": 3") != std::string::npos);
  CHECK(js.find("\"stopped_by\": \"steps\"") != std::string::npos);

  PathfinderData pd = make_pathfinder_data(6, 16, 8, 8, seed);
  PathfinderTask pt(pd, seed);
  ArgParser pa = parsed(d, tiny_run(tmp / "pf.json", {"--model", "transformer", "--heads", "2"}));
  apply_run_flags(pa);
  CHECK(run_classification(pa, "pathfinder", "c6", pt, ModelShape{1024, 256, -1, 2}, "{}", 8, 8) == 0);
  CHECK(read_text(tmp / "pf.json").find("\"model\": \"transformer\"") != std::string::npos);

  // A small in-test token data set (what spam and dna load), with --eval-size and --test-size
  // larger than its splits: they are lowered instead of failing.
  TokenDataset td;
  td.seq_len = 40;
  td.vocab = 6;
  td.class_names = {"a", "b"};
  for (TokenSplit* part : {&td.train, &td.validation, &td.test})
    for (int i = 0; i < 6; ++i) {
      for (int t = 0; t < 40; ++t) part->tokens.push_back(uint16_t(1 + (i % 2) * 2 + t % 2));
      part->labels.push_back(i % 2);
      part->sources.push_back(0);
    }
  TokenClassificationTask tt(td, "tokens", 0);
  ArgParser ta = parsed(d, tiny_run(tmp / "tok.json", {"--head", "cls", "--eval-size", "100", "--test-size", "100"}));
  apply_run_flags(ta);
  CHECK(run_classification(ta, "tok", "", tt, ModelShape{40, 6, 0, 2}, "{}", td.validation.count(),
                           td.test.count()) == 0);
  CHECK(read_text(tmp / "tok.json").find("\"test_sequences\": 6") != std::string::npos);
}

TEST_CASE("real_apps: --max-minutes stops the loop, saves the checkpoint, still tests, and --resume continues") {
  StateGuard guard;
  TempDir tmp("budget");
  ModelDefaults d;
  PathfinderData pd = make_pathfinder_data(6, 16, 8, 8, 0);
  PathfinderTask pt(pd, 0);
  std::vector<std::string> v = tiny_run(tmp / "a.json", {"--max-minutes", "1e-9", "--steps", "50"});
  v.insert(v.end(), {"--checkpoint", tmp / "run.ckpt"});
  ArgParser a = parsed(d, v);
  apply_run_flags(a);
  CHECK(run_classification(a, "pathfinder", "", pt, ModelShape{1024, 256, -1, 2}, "{}", 8, 8) == 0);
  std::string js = read_text(tmp / "a.json");
  CHECK(js.find("\"stopped_by\": \"budget\"") != std::string::npos);
  CHECK(js.find("\"steps\": 1,") != std::string::npos);
  CHECK(js.find("\"test_accuracy_pct\": -1") == std::string::npos);
  REQUIRE(fs::exists(tmp / "run.ckpt"));

  std::vector<std::string> r = tiny_run(tmp / "b.json", {"--steps", "3", "--resume", tmp / "run.ckpt"});
  ArgParser b = parsed(d, r);
  apply_run_flags(b);
  CHECK(run_classification(b, "pathfinder", "", pt, ModelShape{1024, 256, -1, 2}, "{}", 8, 8) == 0);
  CHECK(read_text(tmp / "b.json").find("\"steps\": 3") != std::string::npos);
  // A different model on resume is refused before anything is touched.
  ArgParser c = parsed(d, tiny_run(tmp / "c.json", {"--dim", "16", "--resume", tmp / "run.ckpt"}));
  apply_run_flags(c);
  CHECK_THROWS_AS(run_classification(c, "pathfinder", "", pt, ModelShape{1024, 256, -1, 2}, "{}", 8, 8), pmx::Error);
}

TEST_CASE("real_apps: every output path is checked before training, naming the flag and the path") {
  StateGuard guard;
  TempDir tmp("outpaths");
  ModelDefaults d;
  ListOpsData lo = make_listops_splits(16, 8, 8, 0);
  ListOpsTask lt(lo, 0);
  const std::string bad = tmp / "no_such_dir/out";
  for (const char* flag : {"--best-weights", "--plot", "--checkpoint", "--summary", "--log"}) {
    CAPTURE(flag);
    // The other outputs are good paths: none of them may be created when one is bad.
    std::vector<std::string> v = tiny_run(tmp / "ok.json", {"--log", tmp / "run.csv", "--checkpoint", tmp / "run.ckpt",
                                                           "--plot", tmp / "run.png", "--best-weights", tmp / "b.st"});
    v.insert(v.end(), {flag, bad});
    ArgParser a = parsed(d, v);
    apply_run_flags(a);
    CHECK_THROWS_WITH_AS(run_classification(a, "listops", "", lt, ModelShape{2000, kListOpsVocab, 0, 10}, "{}", 8, 8),
                         doctest::Contains((std::string(flag) + ": cannot write " + bad).c_str()), pmx::Error);
    CHECK(fs::is_empty(tmp.dir));
  }
}

TEST_CASE("real_apps: the apps check their output paths before they generate, load or fetch data") {
  TempDir tmp("early_paths");
  const std::string bad_plot = tmp / "no_such_dir/run.png";
  // --data-dir cannot exist, so a data step that ran first would fail on it instead.
  const std::string tiny = " --steps 1 --dim 8 --hidden 8 --quiet --checkpoint none --log none --plot " + bad_plot;
  const std::pair<std::string, std::string> runs[] = {
      {"listops", "--train-examples 2000 --val-examples 8 --test-examples 8" + tiny},
      {"pathfinder", "--train-examples 2000 --val-examples 8 --test-examples 8" + tiny},
      {"seq_images", "--data-dir /dev/null/none" + tiny},
      {"spam", "--data-dir /dev/null/none" + tiny},
      {"dna", "--data-dir /dev/null/none" + tiny}};
  for (const auto& [app, flags] : runs) {
    pmx_test::AppRun run = pmx_test::run_app(app, flags);
    if (!run.built) {
      MESSAGE("apps/" << app << " not built (PMX_BUILD_APPS=OFF): skipped");
      continue;
    }
    INFO(app << " " << flags << " -> " << run.output);
    CHECK(run.status != 0);
    CHECK(run.output.find("--plot: cannot write " + bad_plot) != std::string::npos);
    CHECK(run.output.find("generated") == std::string::npos);
  }
  // Example counts are capped like the other sizes (apps/datasets/listops.h, pathfinder.h).
  for (const std::string app : {"listops", "pathfinder"}) {
    pmx_test::AppRun run = pmx_test::run_app(app, "--val-examples 1000000000000" + tiny);
    if (!run.built) continue;
    INFO(app << " -> " << run.output);
    CHECK(run.status != 0);
    CHECK(run.output.find("--val-examples must be from 1 to ") != std::string::npos);
  }
}

TEST_CASE("real_apps: --test-size 0 writes null for the test fields, not a -1 % test or a tested step") {
  StateGuard guard;
  TempDir tmp("notest");
  ModelDefaults d;
  ListOpsData lo = make_listops_splits(16, 8, 8, 0);
  ListOpsTask lt(lo, 0);
  ArgParser a = parsed(d, tiny_run(tmp / "s.json", {"--test-size", "0", "--best-weights", tmp / "b.safetensors"}));
  apply_run_flags(a);
  CHECK(run_classification(a, "listops", "", lt, ModelShape{2000, kListOpsVocab, 0, 10}, "{}", 8, 8) == 0);
  std::string js = read_text(tmp / "s.json");
  INFO(js);
  CHECK(js.find("\"test_accuracy_pct\": null") != std::string::npos);
  CHECK(js.find("\"test_sequences\": 0") != std::string::npos);
  CHECK(js.find("\"tested_step\": null") != std::string::npos);
  CHECK(js.find("\"tested_val_accuracy_pct\": null") != std::string::npos);
  CHECK(js.find(": -1") == std::string::npos);
}

TEST_CASE("real_apps: --data-dir exists only in the apps that read data, and --help says which folder") {
  StateGuard guard;
  ModelDefaults d;
  CHECK_THROWS_WITH_AS(parsed(d, {"--data-dir", "/tmp/x"}), doctest::Contains("unknown option '--data-dir'"),
                       pmx::Error);
  for (const std::string name : {"listops", "pathfinder", "seq_images", "spam", "dna"}) {
    const std::string app = pmx_test::built_app(name);
    if (app.empty()) {
      MESSAGE("apps not built (PMX_BUILD_APPS=OFF): skipped");
      return;
    }
    std::string help;
    CHECK(pmx_test::run_command(app + " --help", &help) == 0);
    INFO(name << " --help:\n" << help);
    const bool reads_data = name != "listops" && name != "pathfinder";  // these two generate theirs
    CHECK((help.find("--data-dir") != std::string::npos) == reads_data);
    if (name == "seq_images") CHECK(help.find("/fashion-mnist") != std::string::npos);
    if (name == "spam") CHECK(help.find("/spam-assassin") != std::string::npos);
    if (name == "dna") CHECK(help.find("/dna") != std::string::npos);
  }
}

TEST_CASE("real_apps: an empty validation split (a tiny --val-fraction) is refused before training") {
  StateGuard guard;
  TempDir tmp("noval");
  ModelDefaults d;
  // Stand-in Fashion-MNIST: 20 images per class, so a fraction of 1e-5 rounds to 0 rows per class.
  FashionMnist f = stand_in_fashion_mnist();
  TokenDataset data = sequential_images(f, 0.00001, 0);
  REQUIRE(data.validation.count() == 0);
  ArgParser a = parsed(d, tiny_run(tmp / "s.json", {"--log", tmp / "run.csv", "--checkpoint", tmp / "run.ckpt"}));
  apply_run_flags(a);
  CHECK_THROWS_WITH_AS(run_token_classification(a, "seq_images", "", data, "seq_fashion_mnist", 0, "{}"),
                       doctest::Contains("[seq_images] the validation split is empty"), pmx::Error);
  CHECK(fs::is_empty(tmp.dir));  // refused before training: no log, no checkpoint

  // seq_images checks it right after the split, naming the flag and the smallest fraction that
  // holds out a row (20 images per class: 0.5 / 20).
  CHECK_THROWS_WITH_AS(require_validation_rows(data, "--val-fraction 1e-05"),
                       doctest::Contains("--val-fraction 1e-05 holds out no validation row"), pmx::Error);
  CHECK_THROWS_WITH_AS(require_validation_rows(data, "--val-fraction 1e-05"), doctest::Contains("at least 0.025"),
                       pmx::Error);
  CHECK(sequential_images(f, 0.025, 0).validation.count() == 2);  // that fraction does hold one out per class
  require_validation_rows(sequential_images(f, 0.025, 0), "--val-fraction 0.025");
}
