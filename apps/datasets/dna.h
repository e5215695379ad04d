// DNA classification data sets: human vs fruit fly (N = 2048) and bacterial species (N = 16384).
//
// Tokens: PAD 0, A 1, C 2, G 3, T 4, N 5 (vocab 6). Bases come upper-cased from the FASTA reader
// (the fly file is all lower case and the human one upper case: case would give the class away),
// IUPAC ambiguity codes as N.
//
// Human vs fly (labels human 0, fly 1):
//   human: Debian smalt-examples, hs37chrXtrunc.fa.gz (chrX, first 70 Mb), cut into non-overlapping
//          2000-bp windows; fly: Debian r-bioc-biostrings, dm3_upstream2000.fa.gz (26,454 records
//          of 2,000 bp upstream of fly genes), each record cut the same way (one window each).
//   Both classes use 2000-bp windows padded with 48 PAD tokens to N = 2048, so neither length nor
//   padding tells them apart. Dropped, and always counted in the log: records shorter than a
//   window, windows with more than max_n_fraction N (the chrX gaps), window tails, and exact
//   duplicate windows (the fly file repeats the same region for each transcript of a gene: 9,168
//   copies) so that no sequence is both trained on and tested. The larger class is then cut down to
//   the smaller by a seeded draw (balanced classes) and split 80/10/10 by seed, per class.
//
// Bacteria (labels in species order E.Coli, H.Pylori, S.Aureus, V.Cholerae):
//   Debian ragout-examples, <species>/references/<strain>.fasta.gz, 16 complete genomes.
//   Each record (chromosome) is cut into non-overlapping 16384-bp windows (tails dropped, windows
//   with too many N dropped, both counted). Test = one whole strain per species chosen by seed, so
//   the test measures generalisation to an unseen strain; validation = val_fraction of the
//   remaining strains' windows (same strains as train: use it for early stopping only).
//
//   TokenDataset hf = load_human_fly(default_data_dir("dna"), HumanFlyOptions{}, std::cerr);
//   TokenDataset bac = load_bacteria(default_data_dir("dna"), BacteriaOptions{}, std::cerr);
//   bac.test.sources;   // strain of every test row, an index into bac.source_names
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "apps/datasets/fetch.h"
#include "apps/datasets/token_dataset.h"

namespace pmx::apps {

constexpr int64_t kDnaPad = 0, kDnaN = 5, kDnaVocab = 6;

// 'A' 'C' 'G' 'T' 'N' -> 1..5; anything else throws (the FASTA reader never yields it).
uint16_t dna_token(char base);
// out (seq_len): the tokens of bases[0, count), then PAD; count <= seq_len.
void encode_bases(uint16_t* out, const char* bases, int64_t count, int64_t seq_len);

struct WindowStats {
  int64_t kept = 0;
  int64_t too_many_n = 0;    // windows over max_n_fraction
  int64_t short_records = 0; // records shorter than one window
  int64_t tail_bases = 0;    // bases after the last whole window of a record
};
// Start offsets of the non-overlapping windows of `length` bases kept from `bases` (starting at
// 0); adds what it drops to `stats`.
std::vector<int64_t> cut_windows(const std::string& bases, int64_t length, double max_n_fraction, WindowStats& stats);

struct HumanFlyOptions {
  int64_t window = 2000;          // bases per sequence, the same for both classes
  int64_t seq_len = 2048;         // padded length (>= window)
  double max_n_fraction = 0.1;    // drop windows with more N than this
  double val_fraction = 0.1, test_fraction = 0.1;
  uint64_t seed = 0;
};
// From two FASTA files (any size; tests use small ones). Writes every count to `log`.
TokenDataset make_human_fly(const std::string& human_fasta, const std::string& fly_fasta,
                            const HumanFlyOptions& options, std::ostream& log);
// Finds or fetches the two Debian files into data_dir, checks their sizes, then make_human_fly.
TokenDataset load_human_fly(const std::string& data_dir, const HumanFlyOptions& options, std::ostream& log);

struct StrainFile {
  std::string species;  // the class
  std::string strain;   // the split unit
  std::string path;     // FASTA (gzip or plain)
};
struct BacteriaOptions {
  int64_t window = 16384;         // = seq_len: genomes are long enough that no window is padded
  double max_n_fraction = 0.1;
  double val_fraction = 0.1;      // of the training strains' windows
  uint64_t seed = 0;
};
// Every species needs at least two strains (one is held out for test). source_names are
// "species/strain", in the order of `files` sorted by species then strain.
TokenDataset make_bacteria(const std::vector<StrainFile>& files, const BacteriaOptions& options, std::ostream& log);
// The 16 ragout-examples genomes, found or fetched into data_dir and size-checked.
std::vector<StrainFile> bacteria_files(const std::string& root);
TokenDataset load_bacteria(const std::string& data_dir, const BacteriaOptions& options, std::ostream& log);

}  // namespace pmx::apps
