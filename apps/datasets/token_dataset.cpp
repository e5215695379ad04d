#include "apps/datasets/token_dataset.h"

#include <algorithm>
#include <sstream>

#include "apps/datasets/synthetic.h"
#include "autograd/ops_loss.h"
#include "core/error.h"
#include "core/random.h"

namespace pmx::apps {



const TokenSplit& TokenDataset::split(Split s) const {
  return s == Split::Train ? train : s == Split::Validation ? validation : test;
}

uint64_t content_hash(const void* data, size_t bytes, uint64_t h) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

void seeded_shuffle(std::vector<int64_t>& items, uint64_t seed) {
  for (int64_t i = int64_t(items.size()) - 1; i > 0; --i) {
    int64_t j = int64_t(random_bits(seed, uint64_t(i)) % uint64_t(i + 1));
    std::swap(items[size_t(i)], items[size_t(j)]);
  }
}

std::vector<Split> assign_splits(const std::vector<int64_t>& labels, const std::vector<uint64_t>& groups,
                                 double val_fraction, double test_fraction, uint64_t seed) {
  PMX_CHECK(groups.size() == labels.size(), "[assign_splits] ", labels.size(), " labels but ", groups.size(),
            " group keys");
  PMX_CHECK(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction < 1,
            "[assign_splits] fractions must be >= 0 and sum below 1, got validation ", val_fraction, " test ",
            test_fraction);
  int64_t classes = 0;
  for (int64_t l : labels) {
    PMX_CHECK(l >= 0, "[assign_splits] labels must be >= 0, got ", l);
    classes = std::max(classes, l + 1);
  }
  std::vector<Split> out(labels.size(), Split::Train);
  for (int64_t label = 0; label < classes; ++label) {
    // Groups of this label in first-seen order, then shuffled; a group's label is its first item's.
    std::vector<uint64_t> keys;
    std::vector<std::vector<int64_t>> members;
    std::vector<std::pair<uint64_t, int64_t>> index;  // (key, group number), sorted for lookup
    int64_t total = 0;
    for (size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] != label) continue;
      ++total;
      auto it = std::lower_bound(index.begin(), index.end(), std::make_pair(groups[i], int64_t(-1)));
      if (it != index.end() && it->first == groups[i]) {
        members[size_t(it->second)].push_back(int64_t(i));
      } else {
        index.insert(it, {groups[i], int64_t(members.size())});
        members.push_back({int64_t(i)});
      }
    }
    std::vector<int64_t> order(members.size());
    for (size_t g = 0; g < order.size(); ++g) order[g] = int64_t(g);
    seeded_shuffle(order, random_bits(seed, uint64_t(label)));
    int64_t want_test = int64_t(test_fraction * double(total) + 0.5);
    int64_t want_val = int64_t(val_fraction * double(total) + 0.5);
    int64_t in_test = 0, in_val = 0;
    for (int64_t g : order) {
      const std::vector<int64_t>& m = members[size_t(g)];
      Split s = Split::Train;
      if (in_test < want_test) {
        s = Split::Test, in_test += int64_t(m.size());
      } else if (in_val < want_val) {
        s = Split::Validation, in_val += int64_t(m.size());
      }
      for (int64_t i : m) out[size_t(i)] = s;
    }
  }
  // A group whose items carry different labels would straddle splits; catch it.
  std::vector<std::pair<uint64_t, int>> seen;
  for (size_t i = 0; i < labels.size(); ++i) seen.push_back({groups[i], int(out[i])});
  std::sort(seen.begin(), seen.end());
  for (size_t i = 1; i < seen.size(); ++i)
    PMX_CHECK(seen[i].first != seen[i - 1].first || seen[i].second == seen[i - 1].second,
              "[assign_splits] a group key is shared by items of different labels; it would straddle splits");
  return out;
}

std::string describe_counts(const TokenDataset& data) {
  std::ostringstream out;
  const char* names[] = {"train", "validation", "test"};
  for (int s = 0; s < 3; ++s) {
    const TokenSplit& part = data.split(Split(s));
    std::vector<int64_t> per(size_t(data.classes()), 0);
    for (int64_t l : part.labels) ++per[size_t(l)];
    out << (s ? ", " : "") << names[s] << " " << part.count() << " (";
    for (size_t c = 0; c < per.size(); ++c) out << (c ? ", " : "") << data.class_names[c] << " " << per[c];
    out << ")";
  }
  return out.str();
}

TokenClassificationTask::TokenClassificationTask(const TokenDataset& data, std::string name, uint64_t seed)
    : data_(data), name_(std::move(name)), seed_(seed) {
  PMX_CHECK(data.train.count() > 0, "[", name_, "] the training split is empty");
  PMX_CHECK(data.seq_len > 0, "[", name_, "] seq_len must be positive, got ", data.seq_len);
}

std::vector<int64_t> task_rows(const std::string& task, Split split, int64_t rows, int64_t first, int64_t count,
                               uint64_t seed) {
  PMX_CHECK(rows > 0, "[", task, "] the split is empty");
  PMX_CHECK(first >= 0 && count > 0, "[", task, "] batch needs first >= 0 and count > 0, got ", first, ", ", count);
  PMX_CHECK(split == Split::Train || first + count <= rows, "[", task, "] sequences [", first, ", ", first + count,
            ") asked of an evaluation split of ", rows, " sequences; lower the eval/test size to at most ", rows);
  std::vector<int64_t> out(static_cast<size_t>(count));
  std::vector<int64_t> perm;
  int64_t perm_epoch = -1;
  for (int64_t j = 0; j < count; ++j) {
    const int64_t row = first + j;
    // Train: a new order every epoch. Evaluation: one fixed order, so that the first k rows
    // (an --eval-size below the split's size) are a random sample, not the first k files of
    // the loader, which come grouped by source (all of one class first, say).
    const int64_t epoch = split == Split::Train ? row / rows : -1 - int64_t(split);
    if (epoch != perm_epoch) {
      perm.resize(size_t(rows));
      for (int64_t r = 0; r < rows; ++r) perm[size_t(r)] = r;
      seeded_shuffle(perm, random_bits(seed, uint64_t(epoch)));
      perm_epoch = epoch;
    }
    out[size_t(j)] = perm[size_t(row % rows)];
  }
  return out;
}

Batch TokenClassificationTask::batch(Split split, int64_t first, int64_t count) const {
  const TokenSplit& part = data_.split(split);
  const int64_t n = data_.seq_len;
  std::vector<int64_t> rows = task_rows(name_, split, part.count(), first, count, seed_);
  Batch b{empty({count, n}, DType::Int64), empty({count}, DType::Int64)};
  int64_t* x = b.input.data<int64_t>();
  int64_t* y = b.target.data<int64_t>();
  for (int64_t j = 0; j < count; ++j) {
    const uint16_t* src = part.tokens.data() + rows[size_t(j)] * n;
    for (int64_t t = 0; t < n; ++t) x[j * n + t] = src[t];
    y[j] = part.labels[size_t(rows[size_t(j)])];
  }
  return b;
}

Tensor TokenClassificationTask::loss(const Tensor& output, const Tensor& target) const {
  return cross_entropy(output, target);
}

int64_t TokenClassificationTask::correct(const Tensor& output, const Tensor& target) const {
  return count_argmax_equal(output, target);
}

}  // namespace pmx::apps
