// FASTA reader (gzip-compressed or plain; zlib reads both) for the DNA tasks.
//
// A record is a header line ">id description" followed by sequence lines. Bases are returned upper
// case (soft-masked lower case, as in the fly file, must not become a label cue), A C G T N as they
// are, the IUPAC ambiguity codes R Y K M S W B D H V become N (and are counted per record); blank
// lines and '\r' are ignored. Anything else throws pmx::Error naming the file, the line and the
// record: a character that is not a base, sequence text before the first header, a header without
// a name, a record without bases, a file without records, corrupt or truncated gzip data.
//
//   for_each_fasta_record("dm3_upstream2000.fa.gz", [&](const FastaRecord& r) {
//     use(r.id, r.bases);          // r.bases: "GTTGGTGG..." (upper case)
//   });
//   std::vector<FastaRecord> all = read_fasta("DH1.fasta.gz");
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pmx::apps {

struct FastaRecord {
  std::string id;           // the header's first word, without '>'
  std::string header;       // the whole header line, without '>'
  std::string bases;        // upper case, only A C G T N
  int64_t line = 0;         // 1-based line of the header
  int64_t index = 0;        // 0-based record number in the file
  int64_t ambiguous = 0;    // IUPAC ambiguity codes turned into N
};

// Calls `fn` once per record, in file order, streaming (one record in memory at a time).
void for_each_fasta_record(const std::string& path, const std::function<void(const FastaRecord&)>& fn);
std::vector<FastaRecord> read_fasta(const std::string& path);

}  // namespace pmx::apps
