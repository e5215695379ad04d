#include "core/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "core/file_io.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; pmx copies tensor bytes as they are in memory");

namespace pmx {
namespace {

// The reference implementation refuses headers above 100 MB; so do we, before allocating one.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const char* dtype_tag(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
  }
  return "?";
}

// ---- writing ----

void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  out += '"';
}

// ---- reading: a strict JSON parser for exactly what a safetensors header may hold ----

struct Entry {
  std::string name;
  DType dtype = DType::Float32;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& path, const std::string& text) : path_(path), text_(text) {}

  // Fills entries (in file order) and metadata; throws on anything that is not a valid header.
  void parse(std::vector<Entry>* entries, std::map<std::string, std::string>* metadata) {
    skip_space();
    expect('{');
    skip_space();
    bool seen_metadata = false;
    std::map<std::string, bool> names;
    if (!try_consume('}')) {
      do {
        skip_space();
        size_t key_pos = pos_;
        std::string key = parse_string();
        skip_space();
        expect(':');
        skip_space();
        if (key == "__metadata__") {
          if (seen_metadata) fail_at(key_pos, "duplicate key \"__metadata__\"");
          seen_metadata = true;
          parse_metadata(metadata);
        } else {
          if (!names.emplace(key, true).second) fail_at(key_pos, "duplicate tensor name \"" + key + "\"");
          entries->push_back(parse_entry(key));
        }
        skip_space();
      } while (try_consume(','));
      expect('}');
    }
    // The format pads the header with spaces; anything else after the object is garbage.
    skip_space();
    if (pos_ != text_.size()) fail("unexpected content after the header object");
  }

 private:
  [[noreturn]] void fail_at(size_t pos, const std::string& what) const {
    throw Error(detail::concat("[load_safetensors] '", path_, "': header is not valid JSON at byte ", 8 + pos,
                               ": ", what));
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }
  bool try_consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!try_consume(c)) {
      if (pos_ >= text_.size()) fail(std::string("expected '") + c + "', found the end of the header");
      fail(std::string("expected '") + c + "', found '" + text_[pos_] + "'");
    }
  }

  unsigned hex_digit() {
    if (pos_ >= text_.size()) fail("unterminated \\u escape");
    char c = text_[pos_++];
    if (c >= '0' && c <= '9') return unsigned(c - '0');
    if (c >= 'a' && c <= 'f') return unsigned(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return unsigned(c - 'A' + 10);
    fail_at(pos_ - 1, "bad hex digit in \\u escape");
  }
  unsigned parse_u16() {
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) v = v * 16 + hex_digit();
    return v;
  }
  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[pos_++]);
      if (c == '"') return out;
      if (c < 0x20) fail_at(pos_ - 1, "raw control character in a string");
      if (c != '\\') {
        out += char(c);
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated escape");
      char e = text_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_u16();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
            if (!(try_consume('\\') && try_consume('u'))) fail("unpaired surrogate in \\u escape");
            unsigned low = parse_u16();
            if (low < 0xDC00 || low > 0xDFFF) fail("unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: fail_at(pos_ - 1, std::string("unknown escape '\\") + e + "'");
      }
    }
  }

  // A non-negative JSON integer (shapes and offsets are never negative or fractional).
  uint64_t parse_uint() {
    size_t start = pos_;
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') fail("expected a non-negative integer");
    if (text_[pos_] == '0' && pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' && text_[pos_ + 1] <= '9')
      fail("leading zero in a number");
    uint64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      uint64_t digit = uint64_t(text_[pos_] - '0');
      if (v > (uint64_t(std::numeric_limits<int64_t>::max()) - digit) / 10) fail_at(start, "number too large");
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E'))
      fail("expected an integer, found a fraction or exponent");
    return v;
  }
  std::vector<uint64_t> parse_uint_array() {
    std::vector<uint64_t> out;
    expect('[');
    skip_space();
    if (try_consume(']')) return out;
    do {
      skip_space();
      out.push_back(parse_uint());
      skip_space();
    } while (try_consume(','));
    expect(']');
    return out;
  }

  void parse_metadata(std::map<std::string, std::string>* metadata) {
    expect('{');
    skip_space();
    if (try_consume('}')) return;
    do {
      skip_space();
      size_t key_pos = pos_;
      std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (pos_ < text_.size() && text_[pos_] != '"') fail("__metadata__ values must be strings");
      std::string value = parse_string();
      if (!metadata->emplace(key, value).second) fail_at(key_pos, "duplicate __metadata__ key \"" + key + "\"");
      skip_space();
    } while (try_consume(','));
    expect('}');
  }

  Entry parse_entry(const std::string& name) {
    Entry entry;
    entry.name = name;
    bool has_dtype = false, has_shape = false, has_offsets = false;
    size_t entry_pos = pos_;
    expect('{');
    skip_space();
    if (!try_consume('}')) {
      do {
        skip_space();
        size_t key_pos = pos_;
        std::string key = parse_string();
        skip_space();
        expect(':');
        skip_space();
        bool* seen = key == "dtype" ? &has_dtype : key == "shape" ? &has_shape
                   : key == "data_offsets" ? &has_offsets : nullptr;
        if (seen == nullptr) fail_at(key_pos, "tensor \"" + name + "\" has unknown field \"" + key + "\"");
        if (*seen) fail_at(key_pos, "tensor \"" + name + "\" repeats field \"" + key + "\"");
        *seen = true;
        if (key == "dtype") {
          size_t dtype_pos = pos_;
          std::string tag = parse_string();
          if (tag == "F32") entry.dtype = DType::Float32;
          else if (tag == "F64") entry.dtype = DType::Float64;
          else if (tag == "I64") entry.dtype = DType::Int64;
          else
            throw Error(detail::concat("[load_safetensors] '", path_, "': tensor '", name, "' has unknown dtype '", tag,
                                       "' at byte ", 8 + dtype_pos, " (pmx reads F32, F64, I64)"));
        } else if (key == "shape") {
          for (uint64_t d : parse_uint_array()) entry.shape.push_back(int64_t(d));
        } else {
          size_t offsets_pos = pos_;
          std::vector<uint64_t> offsets = parse_uint_array();
          if (offsets.size() != 2) fail_at(offsets_pos, "data_offsets of \"" + name + "\" must be [begin, end]");
          entry.begin = offsets[0];
          entry.end = offsets[1];
        }
        skip_space();
      } while (try_consume(','));
      expect('}');
    }
    if (!(has_dtype && has_shape && has_offsets))
      fail_at(entry_pos, "tensor \"" + name + "\" needs \"dtype\", \"shape\" and \"data_offsets\"");
    return entry;
  }

  const std::string& path_;
  const std::string& text_;
  size_t pos_ = 0;
};

// numel * element size, or throws when the shape is absurd enough to overflow. A zero size
// does not excuse the others: the strides are products of the sizes after each one, so
// (0, 2^62, 2^62) overflows them as surely as (2^62, 2^62, 0) overflows the count.
uint64_t entry_bytes(const std::string& path, const Entry& e) {
  uint64_t bytes = dtype_size(e.dtype);
  bool holds_nothing = false;
  for (int64_t d : e.shape) {
    if (d == 0) {
      holds_nothing = true;
      continue;
    }
    PMX_CHECK(bytes <= uint64_t(std::numeric_limits<int64_t>::max()) / uint64_t(d), "[load_safetensors] '", path,
              "': tensor '", e.name, "' shape ", shape_str(e.shape), " is too large");
    bytes *= uint64_t(d);
  }
  return holds_nothing ? 0 : bytes;
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      if (!first) header += ',';
      first = false;
      append_json_string(header, key);
      header += ':';
      append_json_string(header, value);
    }
    header += '}';
  }
  std::vector<ByteSpan> data;
  std::vector<std::unique_ptr<char[]>> dense;  // row-major copies of non-contiguous tensors
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    PMX_CHECK(name != "__metadata__", "[save_safetensors] '", path, "': '__metadata__' is reserved, not a tensor name");
    PMX_CHECK(t.defined(), "[save_safetensors] '", path, "': tensor '", name, "' is undefined");
    size_t elem = dtype_size(t.dtype());
    size_t bytes = size_t(t.numel()) * elem;
    if (header.size() > 1) header += ',';
    append_json_string(header, name);
    header += ":{\"dtype\":\"";
    header += dtype_tag(t.dtype());
    header += "\",\"shape\":[";
    for (size_t d = 0; d < t.shape().size(); ++d) header += (d ? "," : "") + std::to_string(t.shape()[d]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
    if (bytes == 0) continue;
    if (t.is_contiguous()) {
      data.push_back({static_cast<const char*>(t.storage()->data()) + size_t(t.offset()) * elem, bytes});
      continue;
    }
    dense.emplace_back(new char[bytes]);
    switch (t.dtype()) {
      case DType::Float32: std::memcpy(dense.back().get(), t.to_vector<float>().data(), bytes); break;
      case DType::Float64: std::memcpy(dense.back().get(), t.to_vector<double>().data(), bytes); break;
      case DType::Int64: std::memcpy(dense.back().get(), t.to_vector<int64_t>().data(), bytes); break;
    }
    data.push_back({dense.back().get(), bytes});
  }
  header += '}';
  // Pad so the data section starts 8-byte aligned (8 + header length is a multiple of 8).
  header.append((8 - header.size() % 8) % 8, ' ');

  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(uint64_t(header.size()) >> (8 * i));
  std::vector<ByteSpan> pieces = {{length, 8}, {header.data(), header.size()}};
  pieces.insert(pieces.end(), data.begin(), data.end());
  write_file_atomic(path, pieces);
}

std::map<std::string, Tensor> load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  FileReader in(path);
  const std::string where = "[load_safetensors] '" + path + "': ";
  PMX_CHECK(in.size() >= 8, where, "file too short (", in.size(), " bytes; the 8-byte header length is missing)");
  unsigned char length[8];
  in.read_at(0, length, 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | length[i];
  PMX_CHECK(header_len <= in.size() - 8, where, "header length ", header_len, " is larger than the file (",
            in.size(), " bytes)");
  PMX_CHECK(header_len <= kMaxHeaderBytes, where, "header length ", header_len, " exceeds the 100 MB limit");
  std::string header(size_t(header_len), '\0');
  in.read_at(8, header.data(), header.size());

  std::vector<Entry> entries;
  std::map<std::string, std::string> meta;
  HeaderParser(path, header).parse(&entries, &meta);

  // Check every entry against the file before allocating any tensor.
  const uint64_t data_start = 8 + header_len, data_size = in.size() - data_start;
  for (const Entry& e : entries) {
    uint64_t bytes = entry_bytes(path, e);
    PMX_CHECK(e.begin <= e.end && e.end - e.begin == bytes, where, "tensor '", e.name, "' of shape ",
              shape_str(e.shape), " and dtype ", dtype_tag(e.dtype), " needs ", bytes,
              " bytes, but its data_offsets [", e.begin, ", ", e.end, "] are inconsistent with that");
    PMX_CHECK(e.end <= data_size, where, "tensor '", e.name, "' data_offsets [", e.begin, ", ", e.end,
              "] run past the end of the data section (", data_size,
              " bytes): file truncated or offsets out of range");
  }
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : by_offset) {
    PMX_CHECK(e->begin >= covered, where, "tensors '", previous ? previous->name : "", "' and '", e->name,
              "' overlap (data_offsets up to ", covered, " and from ", e->begin, ")");
    PMX_CHECK(e->begin == covered, where, "data bytes [", covered, ", ", e->begin,
              ") belong to no tensor (holes are not allowed)");
    covered = e->end;
    if (e->end > e->begin) previous = e;
  }
  PMX_CHECK(covered == data_size, where, "data section holds ", data_size, " bytes but the tensors cover ", covered,
            " (trailing bytes are not allowed)");

  std::map<std::string, Tensor> out;
  for (const Entry& e : entries) {
    Tensor t = empty(e.shape, e.dtype);
    if (e.end > e.begin) in.read_at(data_start + e.begin, t.storage()->data(), size_t(e.end - e.begin));
    out.emplace(e.name, t);
  }
  if (metadata != nullptr) *metadata = std::move(meta);
  return out;
}

}  // namespace pmx
