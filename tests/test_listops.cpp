#include <doctest/doctest.h>

#include <set>
#include <string>

#include "apps/datasets/listops.h"
#include "core/error.h"
#include "core/threads.h"

using namespace pmx::apps;

namespace {

int value_of(const std::string& text) { return listops_value(listops_parse(text)); }

std::string error_of(const std::vector<uint8_t>& tokens) {
  try {
    listops_value(tokens);
  } catch (const pmx::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("listops: evaluator on hand-written expressions") {
  CHECK(value_of("7") == 7);
  CHECK(value_of("[MAX 2 9 4 ]") == 9);
  CHECK(value_of("[MIN 2 9 4 ]") == 2);
  CHECK(value_of("[SM 8 9 4 ]") == 1);           // 21 mod 10
  CHECK(value_of("[MED 2 9 4 ]") == 4);          // odd k: the middle value
  CHECK(value_of("[MED 2 9 4 7 ]") == 5);        // even k: (4 + 7) / 2 = 5.5 rounds down
  CHECK(value_of("[MED 1 2 ]") == 1);            // 1.5 rounds down
  CHECK(value_of("[MED 3 9 ]") == 6);            // exact mean of the middle pair
  CHECK(value_of("[MAX 2 9 [MIN 4 7 ] 0 ]") == 9);
  CHECK(value_of("[SM [MAX 5 6 ] [MIN 7 8 ] [MED 1 9 3 ] ]") == 6);  // 6 + 7 + 3 = 16
  CHECK(value_of("[MIN [MAX 1 [SM 9 9 ] ] 8 ]") == 8);               // MAX(1, 8) = 8, MIN(8, 8)
  // Trailing pad is ignored.
  std::vector<uint8_t> padded = listops_parse("[MAX 2 9 4 ]");
  padded.resize(2000, kListOpsPad);
  CHECK(listops_value(padded) == 9);
}

TEST_CASE("listops: text round trip and token ids") {
  std::vector<uint8_t> t = listops_parse("[MAX 2 [MED 9 0 ] ]");
  CHECK(t == std::vector<uint8_t>{kListOpsMax, kListOpsDigit0 + 2, kListOpsMed, kListOpsDigit0 + 9, kListOpsDigit0,
                                  kListOpsClose, kListOpsClose});
  CHECK(listops_text(t) == "[MAX 2 [MED 9 0 ] ]");
  CHECK(kListOpsPad == 0);
}

TEST_CASE("listops: malformed sequences throw naming the op and the position") {
  CHECK(error_of({}).find("[listops_value] empty") != std::string::npos);
  CHECK(error_of(listops_parse("[MAX 2 9")).find("not closed") != std::string::npos);
  CHECK(error_of(listops_parse("[MAX 2 ] ]")).find("token 3") != std::string::npos);
  CHECK(error_of(listops_parse("[MAX ]")).find("no arguments") != std::string::npos);
  CHECK(error_of(listops_parse("3 4")).find("follows a complete expression") != std::string::npos);
  CHECK(error_of({kListOpsMax, 0, kListOpsDigit0 + 1, kListOpsClose}).find("pad inside") != std::string::npos);
  CHECK(error_of({kListOpsMax, 77, kListOpsClose}).find("unknown") != std::string::npos);
  CHECK_THROWS_AS(listops_parse("[MAX 2 10 ]"), pmx::Error);
  std::vector<ListOpsExample> one(1);
  one[0].tokens = listops_parse("[MAX 2 9 4 ]");
  std::vector<int64_t> rows(8);
  CHECK_THROWS_AS(listops_fill_tokens(rows.data(), nullptr, one, 1, 1, 8), pmx::Error);   // out of range
  CHECK_THROWS_AS(listops_fill_tokens(rows.data(), nullptr, one, 0, 1, 4), pmx::Error);   // longer than seq_len
}

TEST_CASE("listops: padded rows and labels") {
  std::vector<ListOpsExample> ex(2);
  ex[0].tokens = listops_parse("[MAX 2 9 4 ]");
  ex[0].label = 9;
  ex[1].tokens = listops_parse("[SM 8 9 ]");
  ex[1].label = 7;
  std::vector<int64_t> rows(2 * 7, -1), labels(2, -1);
  listops_fill_tokens(rows.data(), labels.data(), ex, 0, 2, 7);
  CHECK(rows == std::vector<int64_t>{12, 3, 10, 5, 15, 0, 0, 14, 9, 10, 15, 0, 0, 0});
  CHECK(labels == std::vector<int64_t>{9, 7});
}

TEST_CASE("listops: root draws follow the LRA distribution") {
  // Each draw is pure in its stream: the same stream gives the same tree.
  ListOpsExample a, b;
  int kept = 0;
  uint64_t stream = 0;
  for (; kept == 0; ++stream) kept = listops_draw(stream, &a);
  CHECK(listops_draw(stream - 1, &b));
  CHECK(a.tokens == b.tokens);

  ListOpsStats stats;
  std::vector<ListOpsExample> split = make_listops_split(3000, /*seed=*/5, /*salt=*/1, {}, &stats);
  REQUIRE(split.size() == 3000);
  double length_sum = 0;
  int label_count[10] = {0};
  for (const ListOpsExample& e : split) {
    REQUIRE(e.tokens.size() > 500);
    REQUIRE(e.tokens.size() < 2000);
    REQUIRE(e.label == listops_value(e.tokens));
    length_sum += double(e.tokens.size());
    ++label_count[e.label];
  }
  double accept = double(stats.accepted) / double(stats.draws);
  double mean_length = length_sum / 3000;
  MESSAGE("acceptance ", accept, ", mean length ", mean_length, ", label 0: ", label_count[0] / 30.0,
          "%, label 9: ", label_count[9] / 30.0, "%");
  CHECK(accept > 0.06);
  CHECK(accept < 0.10);
  CHECK(mean_length > 1000);
  CHECK(mean_length < 1120);
  CHECK(label_count[0] / 3000.0 > 0.14);
  CHECK(label_count[0] / 3000.0 < 0.20);
  CHECK(label_count[9] / 3000.0 > 0.14);
  CHECK(label_count[9] / 3000.0 < 0.20);
  for (int v = 0; v < 10; ++v) CHECK(label_count[v] > 0);
}

TEST_CASE("listops: splits are distinct, deterministic per seed, the same at 1 and 2 threads") {
  int saved = pmx::get_num_threads();
  pmx::set_num_threads(1);
  ListOpsData one = make_listops_splits(300, 50, 50, /*seed=*/11);
  pmx::set_num_threads(2);
  ListOpsData two = make_listops_splits(300, 50, 50, /*seed=*/11);
  ListOpsData other = make_listops_splits(300, 50, 50, /*seed=*/12);
  pmx::set_num_threads(saved);

  CHECK(one.train.size() == 300);
  CHECK(one.validation.size() == 50);
  CHECK(one.test.size() == 50);
  std::set<std::vector<uint8_t>> all;
  for (const auto* set : {&one.train, &one.validation, &one.test})
    for (const auto& e : *set) all.insert(e.tokens);
  CHECK(all.size() == 400);  // no duplicates within or across splits

  bool same = true, differs = false;
  for (size_t i = 0; i < one.train.size(); ++i) {
    same = same && one.train[i].tokens == two.train[i].tokens && one.train[i].label == two.train[i].label;
    differs = differs || one.train[i].tokens != other.train[i].tokens;
  }
  CHECK(same);
  CHECK(differs);
  CHECK(one.test[0].tokens == two.test[0].tokens);

  // The held-out splits do not depend on the train size.
  ListOpsData small = make_listops_splits(10, 50, 50, /*seed=*/11);
  CHECK(small.test[49].tokens == one.test[49].tokens);
  CHECK(small.validation[49].tokens == one.validation[49].tokens);
  CHECK(small.train[9].tokens == one.train[9].tokens);
}

TEST_CASE("listops: a duplicate of an excluded set is dropped") {
  std::vector<ListOpsExample> first = make_listops_split(20, 3, 9);
  ListOpsStats stats;
  // The same stream again, excluding its own output: every accepted draw is a duplicate.
  std::vector<ListOpsExample> again = make_listops_split(5, 3, 9, {&first}, &stats);
  CHECK(stats.duplicates >= 20);
  for (const auto& e : again)
    for (const auto& f : first) CHECK(e.tokens != f.tokens);
}
