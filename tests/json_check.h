// A strict JSON checker for the tests (RFC 8259: no NaN/Infinity, no leading zeros or '+',
// no raw control characters in strings, UTF-8 only), so the tests need no Python.
//
//   CHECK(pmx_test::json_error(text) == "");   // "" if valid, else what is wrong and where
#pragma once
#include <cstddef>
#include <string>

namespace pmx_test {

class JsonChecker {
 public:
  explicit JsonChecker(const std::string& text) : s_(text) {}

  std::string error() {
    if (!value()) return error_;
    skip_ws();
    if (i_ != s_.size()) fail("text after the value");
    return error_;
  }

 private:
  const std::string& s_;
  size_t i_ = 0;
  int depth_ = 0;
  std::string error_;

  bool fail(const std::string& what) {
    if (error_.empty()) error_ = what + " at byte " + std::to_string(i_) + ": '" + s_.substr(i_, 30) + "'";
    return false;
  }
  int peek() const { return i_ < s_.size() ? static_cast<unsigned char>(s_[i_]) : -1; }
  void skip_ws() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++i_;
  }
  bool literal(const char* word) {
    for (size_t k = 0; word[k]; ++k, ++i_)
      if (peek() != word[k]) return fail("bad literal");
    return true;
  }
  bool digits() {
    if (peek() < '0' || peek() > '9') return fail("digit expected");
    while (peek() >= '0' && peek() <= '9') ++i_;
    return true;
  }
  bool number() {
    if (peek() == '-') ++i_;
    if (peek() == '0') ++i_;
    else if (!digits()) return false;
    if (peek() == '.' && (++i_, !digits())) return false;
    if (peek() == 'e' || peek() == 'E') {
      ++i_;
      if (peek() == '+' || peek() == '-') ++i_;
      if (!digits()) return false;
    }
    return true;
  }
  bool hex4() {
    for (int k = 0; k < 4; ++k, ++i_) {
      int c = peek();
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return fail("bad \\u escape");
    }
    return true;
  }
  // One UTF-8 encoded character of 2 to 4 bytes (the lead byte at i_).
  bool utf8() {
    int c = peek(), n = 0, lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 1;
    else if (c >= 0xE0 && c <= 0xEF) n = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) n = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return fail("invalid UTF-8");
    ++i_;
    for (int k = 0; k < n; ++k, ++i_, lo = 0x80, hi = 0xBF)
      if (peek() < lo || peek() > hi) return fail("invalid UTF-8");
    return true;
  }
  bool string() {
    ++i_;  // the opening quote
    while (true) {
      int c = peek();
      if (c < 0) return fail("unterminated string");
      if (c == '"') return ++i_, true;
      if (c < 0x20) return fail("raw control character in a string");
      if (c == '\\') {
        ++i_;
        c = peek();
        if (c == 'u') {
          ++i_;
          if (!hex4()) return false;
        } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') {
          ++i_;
        } else {
          return fail("bad escape");
        }
      } else if (c >= 0x80) {
        if (!utf8()) return false;
      } else {
        ++i_;
      }
    }
  }
  bool value() {
    skip_ws();
    if (++depth_ > 64) return fail("nested too deep");
    bool ok;
    int c = peek();
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++i_;
      skip_ws();
      ok = true;
      if (peek() == close) {
        ++i_;
      } else {
        while (ok) {
          if (close == '}') {
            skip_ws();
            ok = (peek() == '"' || fail("key expected")) && string() && (skip_ws(), peek() == ':' || fail("':' expected"));
            if (!ok) break;
            ++i_;
          }
          if (!(ok = value())) break;
          skip_ws();
          if (peek() == close) {
            ++i_;
            break;
          }
          ok = peek() == ',' || fail("',' or end expected");
          ++i_;
        }
      }
    } else if (c == '"') {
      ok = string();
    } else if (c == 't') {
      ok = literal("true");
    } else if (c == 'f') {
      ok = literal("false");
    } else if (c == 'n') {
      ok = literal("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      ok = number();
    } else {
      ok = fail("value expected");
    }
    --depth_;
    return ok;
  }
};

// "" if `text` is one valid JSON value (surrounded by whitespace at most), else the first problem.
inline std::string json_error(const std::string& text) { return JsonChecker(text).error(); }

}  // namespace pmx_test
