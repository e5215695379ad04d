#include "apps/datasets/dna.h"

#include <algorithm>
#include <map>
#include <ostream>
#include <set>

#include "apps/datasets/fasta.h"
#include "core/error.h"
#include "core/random.h"

namespace pmx::apps {

uint16_t dna_token(char base) {
  switch (base) {
    case 'A': return 1;
    case 'C': return 2;
    case 'G': return 3;
    case 'T': return 4;
    case 'N': return 5;
  }
  throw Error(detail::concat("[dna] '", base, "' is not one of A C G T N"));
}

void encode_bases(uint16_t* out, const char* bases, int64_t count, int64_t seq_len) {
  PMX_CHECK(count <= seq_len, "[dna] ", count, " bases do not fit a sequence of ", seq_len);
  for (int64_t t = 0; t < count; ++t) out[t] = dna_token(bases[t]);
  for (int64_t t = count; t < seq_len; ++t) out[t] = uint16_t(kDnaPad);
}

std::vector<int64_t> cut_windows(const std::string& bases, int64_t length, double max_n_fraction, WindowStats& stats) {
  PMX_CHECK(length > 0, "[dna] window length must be positive, got ", length);
  std::vector<int64_t> starts;
  const int64_t size = int64_t(bases.size()), whole = size / length;
  if (whole == 0) ++stats.short_records;
  stats.tail_bases += size - whole * length;
  for (int64_t w = 0; w < whole; ++w) {
    int64_t start = w * length;
    int64_t ns = std::count(bases.begin() + start, bases.begin() + start + length, 'N');
    if (double(ns) > max_n_fraction * double(length)) {
      ++stats.too_many_n;
    } else {
      ++stats.kept;
      starts.push_back(start);
    }
  }
  return starts;
}

namespace {

void log_stats(std::ostream& log, const std::string& what, const WindowStats& s, int64_t length, double max_n) {
  log << "[dna] " << what << ": " << s.kept << " windows of " << length << " bp kept; skipped " << s.too_many_n
      << " with more than " << max_n * 100 << "% N, " << s.short_records << " records shorter than a window; "
      << s.tail_bases << " tail bases unused\n";
}

// The windows of one class: their bases, each distinct (first copy kept).
struct ClassWindows {
  std::vector<std::string> windows;
  std::set<uint64_t> seen;
  int64_t duplicates = 0;
  int64_t ambiguous = 0;
};

void collect(const std::string& path, const HumanFlyOptions& o, ClassWindows& out, WindowStats& stats) {
  for_each_fasta_record(path, [&](const FastaRecord& r) {
    out.ambiguous += r.ambiguous;
    for (int64_t start : cut_windows(r.bases, o.window, o.max_n_fraction, stats)) {
      const char* p = r.bases.data() + start;
      if (!out.seen.insert(content_hash(p, size_t(o.window))).second) {
        ++out.duplicates;
        continue;
      }
      out.windows.emplace_back(p, size_t(o.window));
    }
  });
}

// Fills the three splits from rows given as (label, source, bases, key).
struct Row {
  int64_t label;
  int32_t source;
  const char* bases;
  int64_t count;
  uint64_t key;
};

void fill_splits(TokenDataset& data, const std::vector<Row>& rows, const std::vector<Split>& where) {
  for (int s = 0; s < 3; ++s) {
    TokenSplit& part = s == 0 ? data.train : s == 1 ? data.validation : data.test;
    int64_t count = 0;
    for (Split w : where) count += int(w) == s;
    part.tokens.resize(size_t(count * data.seq_len));
    for (size_t i = 0; i < rows.size(); ++i) {
      if (int(where[i]) != s) continue;
      encode_bases(part.tokens.data() + part.count() * data.seq_len, rows[i].bases, rows[i].count, data.seq_len);
      part.labels.push_back(rows[i].label);
      part.sources.push_back(rows[i].source);
    }
  }
}

}  // namespace

TokenDataset make_human_fly(const std::string& human_fasta, const std::string& fly_fasta,
                            const HumanFlyOptions& o, std::ostream& log) {
  PMX_CHECK(o.window > 0 && o.window <= o.seq_len, "[dna] window (", o.window, ") must be in [1, seq_len = ",
            o.seq_len, "]");
  ClassWindows cls[2];
  WindowStats stats[2];
  const char* names[2] = {"human", "fly"};
  collect(human_fasta, o, cls[0], stats[0]);
  collect(fly_fasta, o, cls[1], stats[1]);
  for (int c = 0; c < 2; ++c) {
    log_stats(log, std::string(names[c]) + " (" + (c ? fly_fasta : human_fasta) + ")", stats[c], o.window,
              o.max_n_fraction);
    log << "[dna] " << names[c] << ": " << cls[c].duplicates << " duplicate windows dropped, " << cls[c].ambiguous
        << " IUPAC ambiguity codes read as N; " << cls[c].windows.size() << " distinct windows\n";
  }
  const size_t keep = std::min(cls[0].windows.size(), cls[1].windows.size());
  PMX_CHECK(keep > 0, "[dna] no usable windows: human ", cls[0].windows.size(), ", fly ", cls[1].windows.size());

  // Balance: the larger class keeps a seeded draw of `keep` windows, in file order.
  std::vector<Row> rows;
  std::vector<int64_t> labels;
  std::vector<uint64_t> keys;
  for (int c = 0; c < 2; ++c) {
    std::vector<int64_t> pick(cls[c].windows.size());
    for (size_t i = 0; i < pick.size(); ++i) pick[i] = int64_t(i);
    if (pick.size() > keep) {
      log << "[dna] " << names[c] << ": " << pick.size() - keep << " windows left out to balance the classes\n";
      seeded_shuffle(pick, random_bits(o.seed, 0xba1a + uint64_t(c)));
      pick.resize(keep);
      std::sort(pick.begin(), pick.end());
    }
    for (int64_t i : pick) {
      const std::string& w = cls[c].windows[size_t(i)];
      uint64_t key = content_hash(w.data(), w.size());
      rows.push_back({c, c, w.data(), int64_t(w.size()), key});
      labels.push_back(c);
      keys.push_back(key);
    }
  }
  std::vector<Split> where = assign_splits(labels, keys, o.val_fraction, o.test_fraction, o.seed);
  TokenDataset data;
  data.seq_len = o.seq_len;
  data.vocab = kDnaVocab;
  data.padding_idx = kDnaPad;
  data.class_names = {"human", "fly"};
  data.source_names = {human_fasta, fly_fasta};
  fill_splits(data, rows, where);
  log << "[dna] human vs fly split (seed " << o.seed << "): " << describe_counts(data) << std::endl;
  return data;
}

static const char* kHumanPath = "usr/share/doc/smalt/test/data/hs37chrXtrunc.fa.gz";
static const char* kFlyPath = "usr/lib/R/site-library/Biostrings/extdata/dm3_upstream2000.fa.gz";

TokenDataset load_human_fly(const std::string& data_dir, const HumanFlyOptions& options, std::ostream& log) {
  std::string human = ensure_deb_files(data_dir, "smalt-examples", {{kHumanPath, 19840875}}, log);
  std::string fly = ensure_deb_files(data_dir, "r-bioc-biostrings", {{kFlyPath, 11525633}}, log);
  return make_human_fly(human + "/" + kHumanPath, fly + "/" + kFlyPath, options, log);
}

TokenDataset make_bacteria(const std::vector<StrainFile>& files_in, const BacteriaOptions& o, std::ostream& log) {
  PMX_CHECK(o.window > 0, "[dna] window must be positive, got ", o.window);
  PMX_CHECK(o.val_fraction >= 0 && o.val_fraction < 1, "[dna] val_fraction must be in [0, 1), got ", o.val_fraction);
  std::vector<StrainFile> files = files_in;
  std::sort(files.begin(), files.end(), [](const StrainFile& a, const StrainFile& b) {
    return a.species != b.species ? a.species < b.species : a.strain < b.strain;
  });
  TokenDataset data;
  data.seq_len = o.window;
  data.vocab = kDnaVocab;
  data.padding_idx = kDnaPad;
  std::map<std::string, std::vector<int32_t>> strains_of;  // species -> source indices
  for (size_t i = 0; i < files.size(); ++i) {
    PMX_CHECK(i == 0 || files[i].species != files[i - 1].species || files[i].strain != files[i - 1].strain,
              "[dna] strain ", files[i].species, "/", files[i].strain, " is listed twice");
    strains_of[files[i].species].push_back(int32_t(i));
    data.source_names.push_back(files[i].species + "/" + files[i].strain);
  }
  std::vector<char> is_test(files.size(), 0);
  for (const auto& [species, strains] : strains_of) {
    PMX_CHECK(strains.size() >= 2, "[dna] species ", species, " has ", strains.size(),
              " strain; a split by strain needs at least 2");
    int64_t label = data.classes();
    data.class_names.push_back(species);
    is_test[size_t(strains[random_bits(o.seed, 0x5eed + uint64_t(label)) % strains.size()])] = 1;
  }

  // Windows are read strain by strain; their bases stay alive in `genomes` until encoded.
  std::vector<std::string> genomes;
  std::vector<std::pair<int32_t, int64_t>> windows;  // (genome, start)
  std::vector<int64_t> labels;
  std::vector<int32_t> sources;
  for (size_t i = 0; i < files.size(); ++i) {
    int64_t label = std::find(data.class_names.begin(), data.class_names.end(), files[i].species) -
                    data.class_names.begin();
    WindowStats stats;
    int64_t ambiguous = 0;
    for_each_fasta_record(files[i].path, [&](const FastaRecord& r) {
      ambiguous += r.ambiguous;
      std::vector<int64_t> starts = cut_windows(r.bases, o.window, o.max_n_fraction, stats);
      if (starts.empty()) return;
      genomes.push_back(r.bases);
      for (int64_t s : starts) {
        windows.push_back({int32_t(genomes.size() - 1), s});
        labels.push_back(label);
        sources.push_back(int32_t(i));
      }
    });
    log_stats(log, data.source_names[i] + (is_test[i] ? " (test strain)" : ""), stats, o.window, o.max_n_fraction);
    if (ambiguous) log << "[dna] " << data.source_names[i] << ": " << ambiguous << " IUPAC codes read as N\n";
  }

  // Validation: a seeded share of the training strains' windows; each window is its own group.
  std::vector<int64_t> train_rows;
  for (size_t r = 0; r < windows.size(); ++r)
    if (!is_test[size_t(sources[r])]) train_rows.push_back(int64_t(r));
  std::vector<int64_t> train_labels;
  std::vector<uint64_t> train_keys;
  for (int64_t r : train_rows) train_labels.push_back(labels[size_t(r)]), train_keys.push_back(uint64_t(r));
  std::vector<Split> train_where = assign_splits(train_labels, train_keys, o.val_fraction, 0, o.seed);
  std::vector<Split> where(windows.size(), Split::Test);
  for (size_t k = 0; k < train_rows.size(); ++k) where[size_t(train_rows[k])] = train_where[k];

  std::vector<Row> rows;
  for (size_t r = 0; r < windows.size(); ++r)
    rows.push_back({labels[r], sources[r], genomes[size_t(windows[r].first)].data() + windows[r].second, o.window, 0});
  fill_splits(data, rows, where);
  log << "[dna] bacteria split (seed " << o.seed << ", test strains:";
  for (size_t i = 0; i < files.size(); ++i)
    if (is_test[i]) log << " " << data.source_names[i];
  log << "): " << describe_counts(data) << std::endl;
  return data;
}

namespace {

const std::vector<std::pair<std::string, int64_t>>& ragout_references() {
  // species/strain and the size of its .fasta.gz in ragout-examples 2.3-4.
  static const std::vector<std::pair<std::string, int64_t>> refs = {
      {"E.Coli/DH1", 1383309},          {"E.Coli/MG1655-K12", 1386363},     {"H.Pylori/ELS37", 483760},
      {"H.Pylori/G27", 479920},         {"H.Pylori/Gambia94_24", 496677},   {"H.Pylori/Puno120", 471590},
      {"H.Pylori/SJM180", 481737},      {"S.Aureus/COL", 820087},           {"S.Aureus/JKD6008", 855121},
      {"S.Aureus/N315", 823062},        {"S.Aureus/RF122", 803585},         {"S.Aureus/USA300_FPR3757", 839501},
      {"V.Cholerae/H1", 1222349},       {"V.Cholerae/O1_Inaba", 1259292},   {"V.Cholerae/O1_biovar", 1203515},
      {"V.Cholerae/O395", 1234138}};
  return refs;
}

std::string ragout_path(const std::string& species_strain) {
  size_t slash = species_strain.find('/');
  return "usr/share/doc/ragout/examples/" + species_strain.substr(0, slash) + "/references/" +
         species_strain.substr(slash + 1) + ".fasta.gz";
}

}  // namespace

std::vector<StrainFile> bacteria_files(const std::string& root) {
  std::vector<StrainFile> files;
  for (const auto& [name, bytes] : ragout_references()) {
    size_t slash = name.find('/');
    files.push_back({name.substr(0, slash), name.substr(slash + 1), root + "/" + ragout_path(name)});
  }
  return files;
}

TokenDataset load_bacteria(const std::string& data_dir, const BacteriaOptions& options, std::ostream& log) {
  std::vector<ExpectedFile> expected;
  for (const auto& [name, bytes] : ragout_references()) expected.push_back({ragout_path(name), bytes});
  std::string root = ensure_deb_files(data_dir, "ragout-examples", expected, log);
  return make_bacteria(bacteria_files(root), options, log);
}

}  // namespace pmx::apps
