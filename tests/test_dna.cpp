// DNA data: the FASTA reader (gzip and plain, upper-casing, IUPAC codes, errors naming file, line
// and record), windowing with counted skips, human-vs-fly balance and leak-free splits, bacteria
// split by strain, and the fetch checks. Small files written here; no network, no fetched data
// (the one test on the real files is skipped unless asked for with --no-skip).
#include <doctest/doctest.h>

#include "test_util.h"

#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "apps/datasets/dna.h"
#include "apps/datasets/fasta.h"
#include "apps/datasets/fetch.h"
#include "core/error.h"
#include "core/random.h"

namespace fs = std::filesystem;
using namespace pmx;
using namespace pmx::apps;

namespace {

using pmx_test::TempDir;

using pmx_test::write_text;

void write_gz(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, text.data(), unsigned(text.size())) == int(text.size()));
  gzclose(f);
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A FASTA text of `count` records named r0.. whose bases are `make(i)`.
std::string fasta_of(const std::vector<std::string>& seqs, const std::string& prefix) {
  std::string out;
  for (size_t i = 0; i < seqs.size(); ++i) out += ">" + prefix + std::to_string(i) + " test\n" + seqs[i] + "\n";
  return out;
}

std::string bases_from(uint64_t seed, int64_t n) {
  std::string s;
  for (int64_t i = 0; i < n; ++i) s += "ACGT"[random_bits(seed, uint64_t(i)) % 4];
  return s;
}

}  // namespace

TEST_CASE("dna: FASTA records are read across lines, upper-cased, IUPAC codes as N, from gzip and plain files") {
  TempDir tmp("fasta");
  const std::string text = ">chr1 first record\nACgt\r\nnNRy\n\n>two\nTTTT\n>3 last\nkA\n";
  write_gz(tmp / "a.fa.gz", text);
  write_text(tmp / "a.fa", text);
  for (const std::string& path : {tmp / "a.fa.gz", tmp / "a.fa"}) {
    std::vector<FastaRecord> r = read_fasta(path);
    REQUIRE(r.size() == 3);
    CHECK(r[0].id == "chr1");
    CHECK(r[0].header == "chr1 first record");
    CHECK(r[0].bases == "ACGTNNNN");
    CHECK(r[0].ambiguous == 2);
    CHECK(r[0].line == 1);
    CHECK(r[1].id == "two");
    CHECK(r[1].bases == "TTTT");
    CHECK(r[1].line == 5);
    CHECK(r[1].index == 1);
    CHECK(r[2].bases == "NA");
    CHECK(r[2].ambiguous == 1);
  }
}

TEST_CASE("dna: a malformed FASTA file is an error naming the file, the line and the record") {
  TempDir tmp("badfasta");
  struct Case {
    std::string text, expect1, expect2;
  };
  std::vector<Case> cases = {
      {">ok\nACGT\n>bad one\nACGT\nAC-T\n", ":5:3: record 2 'bad'", "'-' is not a base"},
      {"ACGT\n>r\nAC\n", ":1: sequence text before the first '>' header", ""},
      {">a\nAC\n>empty\n>c\nGG\n", ":3: record 2 'empty' has no bases", ""},
      {">a\nAC\n>last\n", ":3: record 2 'last' has no bases", ""},
      {">\nACGT\n", ":1: header without a name", ""},
      {"", "no records", ""},
      {">x\nAC GT\n", ":2:3: record 1 'x'", "' ' is not a base"},
  };
  for (const Case& c : cases) {
    write_gz(tmp / "bad.fa.gz", c.text);
    std::string msg = error_of([&] { read_fasta(tmp / "bad.fa.gz"); });
    CAPTURE(c.text);
    CHECK(msg.find("[fasta] " + (tmp / "bad.fa.gz")) != std::string::npos);
    CHECK(msg.find(c.expect1) != std::string::npos);
    CHECK(msg.find(c.expect2) != std::string::npos);
  }
  CHECK(error_of([&] { read_fasta(tmp / "missing.fa.gz"); }).find("cannot open") != std::string::npos);

  // A gzip stream cut short is an error, not a shorter genome.
  write_gz(tmp / "whole.fa.gz", ">r\n" + bases_from(1, 200000) + "\n");
  std::ifstream in(tmp / "whole.fa.gz", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_text(tmp / "cut.fa.gz", bytes.substr(0, bytes.size() / 2));
  std::string msg = error_of([&] { read_fasta(tmp / "cut.fa.gz"); });
  CHECK(msg.find(tmp / "cut.fa.gz") != std::string::npos);
  CHECK(msg.find("gzip") != std::string::npos);

  // So is a flipped byte: inflate fails or the gzip CRC does not match.
  std::string flipped = bytes;
  flipped[flipped.size() / 2] = char(flipped[flipped.size() / 2] ^ 0x5a);
  write_text(tmp / "flip.fa.gz", flipped);
  msg = error_of([&] { read_fasta(tmp / "flip.fa.gz"); });
  CHECK(msg.find(tmp / "flip.fa.gz") != std::string::npos);
}

TEST_CASE("dna: tokens are PAD 0, A 1, C 2, G 3, T 4, N 5 and short sequences are padded at the end") {
  uint16_t out[7];
  encode_bases(out, "ACGTN", 5, 7);
  const uint16_t expect[7] = {1, 2, 3, 4, 5, 0, 0};
  for (int i = 0; i < 7; ++i) CHECK(out[i] == expect[i]);
  CHECK_THROWS_AS(dna_token('a'), Error);
  CHECK_THROWS_AS(encode_bases(out, "ACGTNACG", 8, 7), Error);
}

TEST_CASE("dna: windows are cut without overlap and every dropped window, record and tail base is counted") {
  WindowStats s;
  //                 window 0  window 1  window 2  tail
  std::string bases = "ACGTACGT" "NNACGTAC" "NNNACGTA" "GG";
  std::vector<int64_t> starts = cut_windows(bases, 8, 0.25, s);  // at most 2 N per window
  CHECK(starts == std::vector<int64_t>{0, 8});
  CHECK(s.kept == 2);
  CHECK(s.too_many_n == 1);
  CHECK(s.tail_bases == 2);
  CHECK(s.short_records == 0);
  cut_windows("ACG", 8, 0.25, s);
  CHECK(s.short_records == 1);
  CHECK(s.tail_bases == 5);
  CHECK_THROWS_AS(cut_windows(bases, 0, 0.25, s), Error);
}

TEST_CASE("dna: human vs fly is balanced, padded alike, free of duplicates across splits, and deterministic") {
  TempDir tmp("hf");
  // Human: one record of 40 windows of 8 bases, 3 of them mostly N, plus a 5-base tail.
  std::string human;
  for (int w = 0; w < 40; ++w) human += (w % 13 == 5) ? "NNNNNNAC" : bases_from(100 + uint64_t(w), 8);
  human += "ACGTA";
  write_gz(tmp / "human.fa.gz", ">X\n" + human + "\n");
  // Fly: 30 records of 8 bases in lower case, 6 of them repeats of record 0, one too short.
  std::vector<std::string> fly;
  for (int i = 0; i < 30; ++i) fly.push_back(i % 5 == 4 ? fly[0] : bases_from(900 + uint64_t(i), 8));
  fly.push_back("acg");
  for (std::string& s : fly)
    for (char& c : s) c = char(std::tolower(c));
  write_gz(tmp / "fly.fa.gz", fasta_of(fly, "up"));

  HumanFlyOptions o;
  o.window = 8, o.seq_len = 12, o.max_n_fraction = 0.5, o.seed = 3;
  std::ostringstream log;
  TokenDataset d = make_human_fly(tmp / "human.fa.gz", tmp / "fly.fa.gz", o, log);
  INFO(log.str());
  CHECK(log.str().find("37 windows of 8 bp kept; skipped 3 with more than 50% N, 0 records shorter than a window; 5 tail bases") !=
        std::string::npos);
  CHECK(log.str().find("skipped 0 with more than 50% N, 1 records shorter than a window") != std::string::npos);
  CHECK(log.str().find("fly: 6 duplicate windows dropped") != std::string::npos);
  CHECK(log.str().find("human: 13 windows left out to balance the classes") != std::string::npos);

  CHECK(d.seq_len == 12);
  CHECK(d.vocab == 6);
  CHECK(d.class_names == std::vector<std::string>{"human", "fly"});
  std::set<std::vector<uint16_t>> seen;
  int64_t per_class[2] = {0, 0};
  for (Split s : {Split::Train, Split::Validation, Split::Test}) {
    const TokenSplit& p = d.split(s);
    int64_t in_split[2] = {0, 0};
    for (int64_t i = 0; i < p.count(); ++i) {
      std::vector<uint16_t> row(p.tokens.begin() + i * 12, p.tokens.begin() + (i + 1) * 12);
      for (int t = 0; t < 8; ++t) CHECK(row[size_t(t)] >= 1);
      for (int t = 8; t < 12; ++t) CHECK(row[size_t(t)] == kDnaPad);  // both classes padded alike
      CHECK(seen.insert(row).second);  // no window twice, within or across splits
      CHECK(p.sources[size_t(i)] == p.labels[size_t(i)]);
      ++in_split[p.labels[size_t(i)]], ++per_class[p.labels[size_t(i)]];
    }
    CHECK(in_split[0] == in_split[1]);
  }
  CHECK(per_class[0] == 24);
  CHECK(d.validation.count() + d.test.count() > 0);

  std::ostringstream log2, log3;
  TokenDataset again = make_human_fly(tmp / "human.fa.gz", tmp / "fly.fa.gz", o, log2);
  CHECK(again.train.tokens == d.train.tokens);
  CHECK(again.test.tokens == d.test.tokens);
  o.seed = 4;
  TokenDataset other = make_human_fly(tmp / "human.fa.gz", tmp / "fly.fa.gz", o, log3);
  CHECK(other.train.tokens != d.train.tokens);

  o.seq_len = 7;
  CHECK(error_of([&] { make_human_fly(tmp / "human.fa.gz", tmp / "fly.fa.gz", o, log3); }).find("window") !=
        std::string::npos);
}

TEST_CASE("dna: bacteria are split by strain, one test strain per species, chosen by seed") {
  TempDir tmp("bac");
  std::vector<StrainFile> files;
  for (const char* species : {"Alpha", "Beta"})
    for (int k = 0; k < 3; ++k) {
      std::string strain = std::string("s") + char('0' + k);
      std::string path = tmp / (std::string(species) + "_" + strain + ".fa.gz");
      // Two records: 5 windows + a 3-base tail, and 2 windows of which one is all N.
      uint64_t seed = uint64_t(species[0]) * 10 + uint64_t(k);
      write_gz(path, ">chr\n" + bases_from(seed, 5 * 16 + 3) + "\n>plasmid\n" + bases_from(seed + 50, 16) +
                         std::string(16, 'N') + "\n");
      files.push_back({species, strain, path});
    }
  BacteriaOptions o;
  o.window = 16, o.val_fraction = 0.25, o.seed = 1;
  std::ostringstream log;
  TokenDataset d = make_bacteria(files, o, log);
  INFO(log.str());
  CHECK(d.class_names == std::vector<std::string>{"Alpha", "Beta"});
  CHECK(d.source_names.size() == 6);
  CHECK(log.str().find("6 windows of 16 bp kept; skipped 1 with more than 10% N, 0 records shorter than a window; 3 tail") !=
        std::string::npos);
  CHECK(d.train.count() + d.validation.count() + d.test.count() == 36);

  std::set<int32_t> test_strains(d.test.sources.begin(), d.test.sources.end());
  REQUIRE(test_strains.size() == 2);
  std::set<int64_t> test_species;
  for (int32_t s : test_strains) test_species.insert(s / 3);  // sources sorted: Alpha s0..s2, Beta s0..s2
  CHECK(test_species.size() == 2);
  for (const TokenSplit* p : {&d.train, &d.validation})
    for (int32_t s : p->sources) CHECK(test_strains.count(s) == 0);
  CHECK(d.test.count() == 12);
  CHECK(d.validation.count() > 0);
  for (size_t i = 0; i < d.test.labels.size(); ++i) CHECK(d.test.labels[i] == d.test.sources[i] / 3);

  // Another seed eventually holds out another strain.
  bool moved = false;
  for (uint64_t seed = 2; seed < 20 && !moved; ++seed) {
    o.seed = seed;
    std::ostringstream quiet;
    TokenDataset e = make_bacteria(files, o, quiet);
    moved = std::set<int32_t>(e.test.sources.begin(), e.test.sources.end()) != test_strains;
  }
  CHECK(moved);

  std::ostringstream quiet;
  std::vector<StrainFile> lonely = {files[0], files[1], files[3]};
  CHECK(error_of([&] { make_bacteria(lonely, o, quiet); }).find("Beta has 1 strain") != std::string::npos);
  std::vector<StrainFile> twice = {files[0], files[0], files[3], files[4]};
  CHECK(error_of([&] { make_bacteria(twice, o, quiet); }).find("listed twice") != std::string::npos);
}

TEST_CASE("dna: package files are checked by size, and a missing one names the command that fetches it") {
  TempDir tmp("fetch");
  std::vector<ExpectedFile> files = {{"usr/share/x/a.fa.gz", 5}, {"usr/share/x/b.fa.gz", 3}};
  write_text(tmp / "usr/share/x/a.fa.gz", "12345");
  write_text(tmp / "usr/share/x/b.fa.gz", "12");
  std::string problems = check_files(tmp.dir.string(), files);
  CHECK(problems.find("incomplete: " + (tmp / "usr/share/x/b.fa.gz") + " has 2 bytes, expected 3") !=
        std::string::npos);
  CHECK(problems.find("a.fa.gz") == std::string::npos);

  std::ostringstream log;
  ::setenv("PMX_NO_FETCH", "1", 1);
  std::string msg = error_of([&] { ensure_deb_files(tmp.dir.string(), "no-such-package", files, log); });
  ::unsetenv("PMX_NO_FETCH");
  CHECK(msg.find("incomplete") != std::string::npos);
  CHECK(msg.find("scripts/fetch_deb_files.sh' no-such-package") != std::string::npos);
  CHECK(msg.find("./usr/share/x/b.fa.gz") != std::string::npos);
  CHECK(msg.find("apt-get download no-such-package") != std::string::npos);
  CHECK(log.str().empty());  // nothing was run

  write_text(tmp / "usr/share/x/b.fa.gz", "123");
  CHECK(ensure_deb_files(tmp.dir.string(), "no-such-package", files, log) == tmp.dir.string());
}

TEST_CASE("dna: an empty PMX_DATA_DIR means unset, not the file-system root") {
  // `PMX_DATA_DIR= ./build/apps/dna` used to put the data in /dna (and fetch into /).
  const char* old = std::getenv("PMX_DATA_DIR");
  const std::string saved = old ? old : "";
  ::setenv("PMX_DATA_DIR", "", 1);
  const std::string dir = default_data_dir("dna");
  ::setenv("PMX_DATA_DIR", "/data/x", 1);
  const std::string set = default_data_dir("dna");
  if (old)
    ::setenv("PMX_DATA_DIR", saved.c_str(), 1);
  else
    ::unsetenv("PMX_DATA_DIR");
  const char* home = std::getenv("HOME");
  CHECK(dir == std::string(home ? home : ".") + "/.cache/pmx/dna");
  CHECK(set == "/data/x/dna");
}

TEST_CASE("dna: a failed fetch reports the command's exit status and a by-hand command that makes the folder") {
  TempDir tmp("fetch_fail");
  // apt-get that always fails, first on PATH: the fetch script exits 1 after its retry.
  write_text(tmp / "bin/apt-get", "#!/bin/sh\nexit 1\n");
  fs::permissions(tmp / "bin/apt-get", fs::perms::owner_all);
  const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", ((tmp / "bin") + ":" + old_path).c_str(), 1);
  const std::string data = tmp / "not/yet/made";
  std::ostringstream log;
  std::string msg =
      error_of([&] { ensure_deb_files(data, "no-such-package", {{"usr/share/x/a.fa.gz", 5}}, log); });
  ::setenv("PATH", old_path.c_str(), 1);
  CHECK(msg.find("failed (exit status 1)") != std::string::npos);  // not the raw wait status 256
  CHECK(msg.find("mkdir -p '" + data + "' && apt-get download no-such-package") != std::string::npos);
  CHECK(log.str().find("fetching no-such-package") != std::string::npos);
}

TEST_CASE("dna: the real human/fly and bacteria files load with the documented counts (real data: run with --no-skip)" * doctest::skip()) {
  // Run with --no-skip; needs the files fetched once (any app, or the commands in the error).
  std::string dir = default_data_dir("dna");
  if (!check_files(dir, {{"usr/share/doc/smalt/test/data/hs37chrXtrunc.fa.gz", 19840875}}).empty()) {
    MESSAGE("skipped: the DNA files are not in " << dir);
    return;
  }
  ::setenv("PMX_NO_FETCH", "1", 1);
  std::ostringstream log;
  TokenDataset hf = load_human_fly(dir, HumanFlyOptions{}, log);
  TokenDataset bac = load_bacteria(dir, BacteriaOptions{}, log);
  ::unsetenv("PMX_NO_FETCH");
  MESSAGE(log.str());
  CHECK(hf.train.count() + hf.validation.count() + hf.test.count() == 2 * 17276);
  CHECK(bac.train.count() + bac.validation.count() + bac.test.count() == 2931);
}
