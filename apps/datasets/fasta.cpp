#include "apps/datasets/fasta.h"

#include <zlib.h>

#include <cstdio>

#include "core/error.h"

namespace pmx::apps {

namespace {

// What a sequence byte becomes: the base, 'n' for an ambiguity code (stored as N and counted),
// '\0' for a byte that has no place in a sequence, ' ' for one that is ignored.
struct BaseTable {
  char map[256];
  BaseTable() {
    for (char& c : map) c = '\0';
    for (const char* p = "ACGTN"; *p; ++p) map[unsigned(*p)] = map[unsigned(*p - 'A' + 'a')] = *p;
    for (const char* p = "RYKMSWBDHV"; *p; ++p) map[unsigned(*p)] = map[unsigned(*p - 'A' + 'a')] = 'n';
    map[unsigned('\r')] = ' ';
  }
};

std::string show_byte(unsigned char c) {
  char buf[32];
  if (c >= 0x20 && c < 0x7f)
    std::snprintf(buf, sizeof buf, "'%c'", c);
  else
    std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
  return buf;
}

std::string trim_cr(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

}  // namespace

void for_each_fasta_record(const std::string& path, const std::function<void(const FastaRecord&)>& fn) {
  static const BaseTable table;
  gzFile file = gzopen(path.c_str(), "rb");
  PMX_CHECK(file != nullptr, "[fasta] cannot open ", path, " (missing or unreadable)");
  struct Closer {
    gzFile f;
    ~Closer() { gzclose(f); }
  } closer{file};
  gzbuffer(file, 1 << 18);

  FastaRecord rec;
  bool have_record = false, in_header = false, at_line_start = true;
  int64_t line = 1, column = 0, records = 0;
  auto finish = [&]() {
    if (!have_record) return;
    PMX_CHECK(!rec.bases.empty(), "[fasta] ", path, ":", rec.line, ": record ", rec.index + 1, " '", rec.id,
              "' has no bases");
    fn(rec);
    ++records;
  };
  auto start_header_done = [&]() {
    rec.header = trim_cr(rec.header);
    size_t end = rec.header.find_first_of(" \t");
    rec.id = rec.header.substr(0, end);
    PMX_CHECK(!rec.id.empty(), "[fasta] ", path, ":", rec.line, ": header without a name (record ", rec.index + 1,
              ")");
  };

  std::vector<unsigned char> buf(size_t(1) << 20);
  for (;;) {
    int got = gzread(file, buf.data(), unsigned(buf.size()));
    if (got < 0) {
      int err;
      throw Error(detail::concat("[fasta] ", path, ":", line, ": corrupt gzip data (", gzerror(file, &err), ")"));
    }
    if (got == 0) break;
    for (int i = 0; i < got; ++i) {
      unsigned char c = buf[size_t(i)];
      if (c == '\n') {
        if (in_header) start_header_done(), in_header = false;
        ++line, column = 0, at_line_start = true;
        continue;
      }
      ++column;
      if (in_header) {
        rec.header += char(c);
        continue;
      }
      if (at_line_start && c == '>') {
        finish();
        rec = FastaRecord{};
        rec.line = line, rec.index = records, have_record = in_header = true;
        at_line_start = false;
        continue;
      }
      at_line_start = false;
      char b = table.map[c];
      if (b == ' ') continue;
      if (b == '\0') {
        PMX_CHECK(have_record, "[fasta] ", path, ":", line, ": sequence text before the first '>' header");
        throw Error(detail::concat("[fasta] ", path, ":", line, ":", column, ": record ", rec.index + 1, " '",
                                   rec.id, "': ", show_byte(c), " is not a base (A C G T N or an IUPAC code)"));
      }
      PMX_CHECK(have_record, "[fasta] ", path, ":", line, ": sequence text before the first '>' header");
      if (b == 'n') ++rec.ambiguous, b = 'N';
      rec.bases += b;
    }
  }
  int err = Z_OK;
  const char* msg = gzerror(file, &err);
  PMX_CHECK(err == Z_OK || err == Z_STREAM_END, "[fasta] ", path, ":", line, ": corrupt or truncated gzip data (",
            msg, ")");
  if (in_header) start_header_done();
  finish();
  PMX_CHECK(records > 0, "[fasta] ", path, ": no records (an empty file, or not FASTA)");
}

std::vector<FastaRecord> read_fasta(const std::string& path) {
  std::vector<FastaRecord> out;
  for_each_fasta_record(path, [&](const FastaRecord& r) { out.push_back(r); });
  return out;
}

}  // namespace pmx::apps
