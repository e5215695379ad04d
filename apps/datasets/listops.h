// ListOps (LRA rules, shared/docs/data.md): random prefix expressions over the digits 0-9 with
// four list operators, whose value (0-9) is the class label.
//
// Tree: gen(depth), root depth 1, max depth 10. If depth < 10 and u ~ U[0, 1) <= 0.25 the node is
// an operator uniform over {MIN, MAX, MED, SM} with k ~ uniform{2..10} children gen(depth + 1);
// otherwise a digit uniform over 0-9. Text: "[MAX 2 9 [MIN 4 7 ] 0 ]"; length = tokens in that
// stream (a leaf 1, a node 2 + its children). A draw is kept only if 500 < length < 2000, and a
// sequence already in the data set is dropped. Values: MIN, MAX, SM = sum mod 10,
// MED = median, for even k floor((a + b) / 2) of the two middle values. Expected (measured by the
// tests): 8.3% of root draws kept, labels 0 and 9 ~17% each, mean kept length 1035 over 100k
// (data.md says ~1060; the rules above, which match the LRA script, give 1035).
//
// Determinism: root draw j of a split reads its own random stream random_bits(split_seed, j), so
// draws can be made by any number of threads; they are then accepted in draw order (dropping
// duplicates), and the split is the first `count` accepted draws: the same for any thread count.
//
// Tokens (vocabulary of 16): pad 0, digit v -> 1 + v, [MIN 11, [MAX 12, [MED 13, [SM 14, ] 15.
// Examples keep their tokens unpadded as bytes (96k examples ~100 MB instead of 1.5 GB of padded
// int64); listops_fill_tokens writes padded int64 rows for a batch.
//
//   pmx::apps::ListOpsData d = pmx::apps::make_listops_splits(96000, 2000, 2000, /*seed=*/0);
//   const pmx::apps::ListOpsExample& e = d.train[0];
//   std::string text = pmx::apps::listops_text(e.tokens);           // "[MAX 2 9 ... ]"
//   int value = pmx::apps::listops_value(e.tokens);                 // == e.label
//   pmx::apps::listops_fill_tokens(rows, d.train, /*first=*/0, /*count=*/48, /*seq_len=*/2000);
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pmx::apps {

constexpr int kListOpsPad = 0, kListOpsDigit0 = 1, kListOpsMin = 11, kListOpsMax = 12, kListOpsMed = 13,
              kListOpsSum = 14, kListOpsClose = 15, kListOpsVocab = 16, kListOpsClasses = 10;
constexpr int kListOpsMaxDepth = 10, kListOpsMaxArgs = 10;
constexpr size_t kListOpsMinLength = 500, kListOpsMaxLength = 2000;  // kept if min < length < max
constexpr size_t kListOpsSeqLen = 2000;                              // padded length

struct ListOpsExample {
  std::vector<uint8_t> tokens;  // (length) token ids, unpadded
  int label = 0;                // the value of the root, 0-9
};

struct ListOpsData {
  std::vector<ListOpsExample> train, validation, test;
};

// One root draw: the tree of draw `stream` (a random stream seed). Returns false (and leaves
// `out` unspecified) when the tree's length falls outside (min_length, max_length); generation
// stops as soon as the length reaches max_length, so long rejected trees cost little.
bool listops_draw(uint64_t stream, ListOpsExample* out, size_t min_length = kListOpsMinLength,
                  size_t max_length = kListOpsMaxLength);

// The most examples one split may ask for (~10x the LRA training set; 96k take ~8 s on 2 cores,
// so the cap keeps generation to minutes and its memory to ~1 GB).
constexpr int64_t kListOpsMaxExamples = 1000000;

// Statistics of the root draws made while building a split (for the acceptance-rate check).
struct ListOpsStats {
  uint64_t draws = 0, accepted = 0, duplicates = 0;
};

// The first `count` accepted, distinct draws of the stream of (seed, salt). Draws equal to an
// example of `exclude` are dropped too (used to keep validation/test out of train). Throws
// pmx::Error if 1000 * count + 10^6 draws do not give `count` examples (about 12 per example do).
// 96k examples take ~8 s on 2 cores.
std::vector<ListOpsExample> make_listops_split(size_t count, uint64_t seed, uint64_t salt,
                                               const std::vector<const std::vector<ListOpsExample>*>& exclude = {},
                                               ListOpsStats* stats = nullptr);

// Test first, then validation, then train, each free of the earlier ones, so the held-out sets
// do not change when a smaller train split is asked for.
ListOpsData make_listops_splits(size_t train, size_t validation, size_t test, uint64_t seed);

// The value (0-9) of a prefix token stream; trailing pad tokens are ignored. Throws pmx::Error
// naming the position on a malformed stream (unknown token, operator with < 1 argument,
// unbalanced bracket, more than one root, nothing but pad).
int listops_value(const uint8_t* tokens, size_t n);
inline int listops_value(const std::vector<uint8_t>& tokens) { return listops_value(tokens.data(), tokens.size()); }

// "[MAX 2 9 4 ]" (tokens separated by one space, pad omitted) and back. listops_parse throws
// pmx::Error naming an unknown word.
std::string listops_text(const std::vector<uint8_t>& tokens);
std::vector<uint8_t> listops_parse(const std::string& text);

// rows: (count, seq_len) int64 = examples[first + b].tokens padded with kListOpsPad.
// labels (optional): (count) int64. Throws pmx::Error if the range is out of bounds or a sequence
// is longer than seq_len.
void listops_fill_tokens(int64_t* rows, int64_t* labels, const std::vector<ListOpsExample>& examples, size_t first,
                         size_t count, size_t seq_len = kListOpsSeqLen);

}  // namespace pmx::apps
