#include "core/shape.h"

#include "core/error.h"

namespace pmx {

int64_t numel(const Shape& shape) {
  for (int64_t s : shape)
    if (s == 0) return 0;  // (2^40, 2^40, 0) holds nothing; its partial products must not throw
  int64_t n = 1;
  for (int64_t s : shape)
    // A wrapped product would let a huge shape pass as a small one (a 0-byte tensor, or a view
    // that reaches past its storage).
    PMX_CHECK(!__builtin_mul_overflow(n, s, &n), "[numel] shape ", shape_str(shape),
              " has more elements than int64 can count");
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    // numel lets (0, 2^62, 2^62) through (it holds nothing), but dim 0's stride would be 2^124.
    PMX_CHECK(i == 0 || !__builtin_mul_overflow(s, shape[i], &s), "[shape] ", shape_str(shape),
              " needs a stride larger than int64 can hold");
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    PMX_CHECK(da == db || da == 1 || db == 1, "[", op, "] shapes ", shape_str(a), " and ",
              shape_str(b), " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::string index_str(int64_t flat, const Shape& shape) {
  Shape idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(idx);
}

int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t n = std::max<int64_t>(ndim, 1);  // a 0-d tensor takes dim 0 or -1, as in PyTorch
  int64_t d = dim < 0 ? dim + n : dim;
  PMX_CHECK(d >= 0 && d < n, "[", op, "] dim ", dim,
            " is out of range for a tensor with ", ndim, " dims");
  return d;
}

}  // namespace pmx
