#include "apps/datasets/spam.h"

#include <algorithm>
#include <fstream>
#include <ostream>
#include <sstream>

#include "core/error.h"

namespace pmx::apps {

const std::vector<SpamGroup>& spam_assassin_groups() {
  // Counted in the 0.2.3 package: file count and the sum of the .txt file sizes.
  static const std::vector<SpamGroup> groups = {{"easy-ham-1", 0, 2500, 8603852},
                                                {"easy-ham-2", 0, 1400, 5820997},
                                                {"hard-ham-1", 0, 250, 5701188},
                                                {"spam-1", 1, 500, 3552203},
                                                {"spam-2", 1, 1396, 8827777}};
  return groups;
}

std::string email_body(const std::string& raw, const std::string& path) {
  // The first empty line: "\n\n", or "\n\r\n" for CRLF mail.
  for (size_t i = raw.find('\n'); i != std::string::npos; i = raw.find('\n', i + 1)) {
    if (i + 1 < raw.size() && raw[i + 1] == '\n') return raw.substr(i + 2);
    if (i + 2 < raw.size() && raw[i + 1] == '\r' && raw[i + 2] == '\n') return raw.substr(i + 3);
  }
  throw Error(detail::concat("[spam] ", path, ": no empty line after the headers (not an RFC-822 e-mail)"));
}

void encode_bytes(uint16_t* out, const std::string& body, int64_t seq_len) {
  int64_t n = std::min<int64_t>(seq_len, int64_t(body.size()));
  for (int64_t t = 0; t < n; ++t) out[t] = uint16_t(static_cast<unsigned char>(body[size_t(t)]) + 1);
  for (int64_t t = n; t < seq_len; ++t) out[t] = uint16_t(kSpamPad);
}

std::string check_spam_package(const std::string& root, const std::vector<SpamGroup>& groups) {
  std::ostringstream problems;
  for (const SpamGroup& g : groups) {
    std::string dir = root + "/data/" + g.name;
    if (!path_exists(dir)) {
      problems << "  missing: " << dir << "\n";
      continue;
    }
    std::vector<std::string> names = list_files(dir, ".txt");
    int64_t bytes = 0;
    for (const std::string& name : names) bytes += file_size(dir + "/" + name);
    if ((g.files >= 0 && int64_t(names.size()) != g.files) || (g.bytes >= 0 && bytes != g.bytes))
      problems << "  incomplete: " << dir << " has " << names.size() << " .txt files (" << bytes
               << " bytes), expected " << g.files << " (" << g.bytes << " bytes)\n";
  }
  return problems.str();
}

std::vector<Email> read_spam_emails(const std::string& root, const std::vector<SpamGroup>& groups) {
  std::vector<Email> emails;
  for (const SpamGroup& g : groups) {
    PMX_CHECK(g.label == 0 || g.label == 1, "[spam] group ", g.name, " has label ", g.label, "; expected 0 or 1");
    std::string dir = root + "/data/" + g.name;
    for (const std::string& name : list_files(dir, ".txt")) {
      Email e;
      e.path = dir + "/" + name;
      e.label = g.label;
      e.group = g.name;
      std::ifstream in(e.path, std::ios::binary);
      PMX_CHECK(in.good(), "[spam] cannot open ", e.path);
      std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      PMX_CHECK(!in.bad(), "[spam] read error in ", e.path);
      e.body = email_body(raw, e.path);
      emails.push_back(std::move(e));
    }
  }
  return emails;
}

static void check_seq_len(int64_t seq_len) {
  PMX_CHECK(seq_len >= 1 && seq_len <= kSpamMaxSeqLen, "[spam] seq_len must be from 1 to ", kSpamMaxSeqLen, ", got ",
            seq_len);
}

TokenDataset make_spam_dataset(const std::vector<Email>& emails, const SpamOptions& options) {
  check_seq_len(options.seq_len);
  PMX_CHECK(!emails.empty(), "[spam] no e-mails to make a data set from");
  TokenDataset data;
  std::vector<int64_t> labels;
  std::vector<uint64_t> keys;
  std::vector<int32_t> sources;
  for (const Email& e : emails) {
    size_t source = 0;
    while (source < data.source_names.size() && data.source_names[source] != e.group) ++source;
    if (source == data.source_names.size()) data.source_names.push_back(e.group);
    sources.push_back(int32_t(source));
    PMX_CHECK(e.label == 0 || e.label == 1, "[spam] ", e.path, ": label ", e.label, "; expected 0 (ham) or 1 (spam)");
    labels.push_back(e.label);
    // The key is the bytes the model sees (the first seq_len): bodies that differ only past them
    // are the same sequence and must share a split. The label is part of the key so that a body
    // filed under both classes cannot make one group.
    const size_t kept = std::min(e.body.size(), size_t(options.seq_len));
    keys.push_back(content_hash(e.body.data(), kept) ^ (uint64_t(e.label) * 0x9E3779B97F4A7C15ull));
  }
  std::vector<Split> where = assign_splits(labels, keys, options.val_fraction, options.test_fraction, options.seed);
  data.seq_len = options.seq_len;
  data.vocab = kSpamVocab;
  data.padding_idx = kSpamPad;
  data.class_names = {"ham", "spam"};
  for (int s = 0; s < 3; ++s) {
    TokenSplit& part = s == 0 ? data.train : s == 1 ? data.validation : data.test;
    int64_t count = 0;
    for (Split w : where) count += int(w) == s;
    part.tokens.resize(size_t(count * options.seq_len));
    part.labels.reserve(size_t(count));
    for (size_t i = 0; i < emails.size(); ++i) {
      if (int(where[i]) != s) continue;
      encode_bytes(part.tokens.data() + part.count() * options.seq_len, emails[i].body, options.seq_len);
      part.labels.push_back(emails[i].label);
      part.sources.push_back(sources[i]);
    }
  }
  return data;
}

TokenDataset load_spam(const std::string& data_dir, const SpamOptions& options, std::ostream& log) {
  check_seq_len(options.seq_len);  // before a fetch that would be for nothing
  const std::vector<SpamGroup>& groups = spam_assassin_groups();
  std::string root = ensure_npm_package(
      data_dir, kSpamPackage, [&](const std::string& r) { return check_spam_package(r, groups); }, log);
  std::vector<Email> emails = read_spam_emails(root, groups);
  int64_t per_label[2] = {0, 0}, truncated = 0;
  for (const Email& e : emails) {
    ++per_label[e.label];
    truncated += int64_t(e.body.size()) > options.seq_len;
  }
  TokenDataset data = make_spam_dataset(emails, options);
  log << "[spam] " << emails.size() << " e-mails from " << root << ": ham " << per_label[0] << ", spam "
      << per_label[1] << "; " << truncated << " bodies longer than " << options.seq_len
      << " bytes truncated\n[spam] split (seed " << options.seed << "): " << describe_counts(data) << std::endl;
  return data;
}

}  // namespace pmx::apps
