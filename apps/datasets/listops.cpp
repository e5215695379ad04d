#include "apps/datasets/listops.h"

#include <algorithm>
#include <sstream>
#include <unordered_map>

#include "apps/datasets/token_dataset.h"
#include "core/error.h"
#include "core/random.h"

namespace pmx::apps {

namespace {

const char* const kWords[kListOpsVocab] = {"<pad>", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
                                           "[MIN", "[MAX", "[MED", "[SM", "]"};

// Draws in [0, k) with 53 random bits (bias below 2^-40 for k <= 10).
int uniform_int(uint64_t stream, uint64_t counter, int k) {
  int v = int(random_uniform(stream, counter) * double(k));
  return v < k ? v : k - 1;
}

int apply_op(int op, int* values, int k) {
  // values: (k), reordered in place for MED
  switch (op) {
    case kListOpsMin: return *std::min_element(values, values + k);
    case kListOpsMax: return *std::max_element(values, values + k);
    case kListOpsSum: {
      int s = 0;
      for (int i = 0; i < k; ++i) s += values[i];
      return s % 10;
    }
    default: {  // kListOpsMed
      std::sort(values, values + k);
      return k % 2 ? values[k / 2] : (values[k / 2 - 1] + values[k / 2]) / 2;  // non-negative: / rounds down
    }
  }
}

// Recursive tree draw (depth <= 10, so the recursion is shallow). Returns the node's value, or -1
// once the stream has reached max_length tokens (the tree is then rejected anyway).
struct TreeDraw {
  uint64_t stream;
  uint64_t counter = 0;
  size_t max_length;
  std::vector<uint8_t>* tokens;

  int node(int depth) {
    if (tokens->size() >= max_length) return -1;
    bool is_op = depth < kListOpsMaxDepth && random_uniform(stream, counter++) <= 0.25;
    if (!is_op) {
      int digit = uniform_int(stream, counter++, 10);
      tokens->push_back(uint8_t(kListOpsDigit0 + digit));
      return digit;
    }
    int k = 2 + uniform_int(stream, counter++, kListOpsMaxArgs - 1);
    size_t op_at = tokens->size();
    tokens->push_back(0);  // the operator is drawn after its children, as in the LRA script
    int values[kListOpsMaxArgs];
    for (int i = 0; i < k; ++i) {
      values[i] = node(depth + 1);
      if (values[i] < 0) return -1;
    }
    int op = kListOpsMin + uniform_int(stream, counter++, 4);
    (*tokens)[op_at] = uint8_t(op);
    tokens->push_back(kListOpsClose);
    return apply_op(op, values, k);
  }
};

uint64_t token_hash(const std::vector<uint8_t>& tokens) { return content_hash(tokens.data(), tokens.size()); }

}  // namespace

bool listops_draw(uint64_t stream, ListOpsExample* out, size_t min_length, size_t max_length) {
  out->tokens.clear();
  TreeDraw draw{stream, 0, max_length, &out->tokens};
  int value = draw.node(1);
  if (value < 0 || out->tokens.size() <= min_length || out->tokens.size() >= max_length) return false;
  out->label = value;
  return true;
}

std::vector<ListOpsExample> make_listops_split(size_t count, uint64_t seed, uint64_t salt,
                                               const std::vector<const std::vector<ListOpsExample>*>& exclude,
                                               ListOpsStats* stats) {
  uint64_t split_stream = random_bits(seed, salt);
  std::vector<ListOpsExample> out;
  out.reserve(count);  // `seen` points into out: no reallocation allowed
  std::unordered_multimap<uint64_t, const ListOpsExample*> seen;
  for (const auto* set : exclude)
    for (const auto& e : *set) seen.emplace(token_hash(e.tokens), &e);

  // Draws are made in parallel chunks into fixed slots, then accepted in draw order.
  const size_t chunk = 4096;
  std::vector<ListOpsExample> slots(chunk);
  std::vector<char> kept(chunk);
  ListOpsStats s;
  const uint64_t max_draws = 1000 * uint64_t(count) + 1000000;
  while (out.size() < count) {
    PMX_CHECK(s.draws < max_draws, "[listops] only ", out.size(), " of ", count, " distinct examples after ",
              s.draws, " draws");
    const uint64_t base = s.draws;
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = 0; i < int64_t(chunk); ++i)
      kept[i] = listops_draw(random_bits(split_stream, base + uint64_t(i)), &slots[i]);
    for (size_t i = 0; i < chunk && out.size() < count; ++i) {
      ++s.draws;
      if (!kept[i]) continue;
      ++s.accepted;
      uint64_t h = token_hash(slots[i].tokens);
      auto range = seen.equal_range(h);
      bool duplicate = false;
      for (auto it = range.first; it != range.second && !duplicate; ++it)
        duplicate = it->second->tokens == slots[i].tokens;
      if (duplicate) {
        ++s.duplicates;
        continue;
      }
      out.push_back(std::move(slots[i]));
      seen.emplace(h, &out.back());
    }
  }
  if (stats) *stats = s;
  return out;
}

ListOpsData make_listops_splits(size_t train, size_t validation, size_t test, uint64_t seed) {
  // Salts spell "test", "vali", "trai": three unrelated streams.
  ListOpsData d;
  d.test = make_listops_split(test, seed, 0x74657374ull);
  d.validation = make_listops_split(validation, seed, 0x76616c69ull, {&d.test});
  d.train = make_listops_split(train, seed, 0x74726169ull, {&d.test, &d.validation});
  return d;
}

int listops_value(const uint8_t* tokens, size_t n) {
  while (n > 0 && tokens[n - 1] == kListOpsPad) --n;
  PMX_CHECK(n > 0, "[listops_value] empty sequence (only pad tokens)");
  struct Frame {
    int op;
    size_t first_value;
  };
  std::vector<Frame> frames;
  std::vector<int> values;
  for (size_t i = 0; i < n; ++i) {
    int t = tokens[i];
    PMX_CHECK(frames.size() > 0 || values.empty(), "[listops_value] token ", i, " follows a complete expression");
    if (t >= kListOpsDigit0 && t < kListOpsDigit0 + 10) {
      values.push_back(t - kListOpsDigit0);
    } else if (t >= kListOpsMin && t <= kListOpsSum) {
      frames.push_back({t, values.size()});
    } else if (t == kListOpsClose) {
      PMX_CHECK(!frames.empty(), "[listops_value] ']' at token ", i, " closes nothing");
      Frame f = frames.back();
      frames.pop_back();
      int k = int(values.size() - f.first_value);
      PMX_CHECK(k >= 1, "[listops_value] operator closed at token ", i, " has no arguments");
      int v = apply_op(f.op, values.data() + f.first_value, k);
      values.resize(f.first_value);
      values.push_back(v);
    } else {
      PMX_CHECK(false, "[listops_value] token ", i, " has id ", t, " (", t == kListOpsPad ? "pad inside the sequence" : "unknown", ")");
    }
  }
  PMX_CHECK(frames.empty(), "[listops_value] ", frames.size(), " operator(s) not closed at the end (", n, " tokens)");
  return values[0];
}

std::string listops_text(const std::vector<uint8_t>& tokens) {
  std::string s;
  for (uint8_t t : tokens) {
    if (t == kListOpsPad) continue;
    if (!s.empty()) s += ' ';
    s += t < kListOpsVocab ? kWords[t] : "<?>";
  }
  return s;
}

std::vector<uint8_t> listops_parse(const std::string& text) {
  std::istringstream in(text);
  std::vector<uint8_t> tokens;
  std::string word;
  while (in >> word) {
    int id = -1;
    for (int t = 1; t < kListOpsVocab; ++t)
      if (word == kWords[t]) id = t;
    PMX_CHECK(id >= 0, "[listops_parse] unknown word '", word, "' at token ", tokens.size());
    tokens.push_back(uint8_t(id));
  }
  return tokens;
}

void listops_fill_tokens(int64_t* rows, int64_t* labels, const std::vector<ListOpsExample>& examples, size_t first,
                         size_t count, size_t seq_len) {
  PMX_CHECK(first + count <= examples.size(), "[listops_fill_tokens] examples [", first, ", ", first + count,
            ") out of range for ", examples.size());
  for (size_t b = 0; b < count; ++b) {
    const ListOpsExample& e = examples[first + b];
    PMX_CHECK(e.tokens.size() <= seq_len, "[listops_fill_tokens] example ", first + b, " has ", e.tokens.size(),
              " tokens, more than seq_len ", seq_len);
    int64_t* row = rows + b * seq_len;  // (seq_len)
    for (size_t t = 0; t < seq_len; ++t) row[t] = t < e.tokens.size() ? e.tokens[t] : kListOpsPad;
    if (labels) labels[b] = e.label;
  }
}

}  // namespace pmx::apps
