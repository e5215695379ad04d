#include "core/tensor.h"

#include <cstdint>
#include <cstring>
#include <iomanip>
#include <ostream>

namespace pmx {

TensorImpl& Tensor::impl() const {
  PMX_CHECK(impl_ != nullptr, "[tensor] use of an undefined (default-constructed) tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t d) const {
  // normalize_dim lets 0 / -1 through for a 0-d tensor, which has no size to read.
  PMX_CHECK(dim() > 0, "[size] a 0-d tensor has no dim ", d);
  return shape()[normalize_dim(d, dim(), "size")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] != 1 && strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

// Visits the storage index of every element in row-major logical order.
template <class F>
static void for_each_index(const Tensor& t, F&& visit) {
  int64_t n = t.numel(), nd = t.dim();
  if (n == 0) return;
  std::vector<int64_t> idx(nd, 0);
  int64_t pos = t.offset();
  for (int64_t e = 0; e < n; ++e) {
    visit(pos);
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++idx[d] < t.shape()[d]) {
        pos += t.strides()[d];
        break;
      }
      pos -= t.strides()[d] * (t.shape()[d] - 1);
      idx[d] = 0;
    }
  }
}

template <class T> std::vector<T> Tensor::to_vector() const {
  std::vector<T> out;
  out.reserve(numel());
  void* base = impl().storage->data();
  switch (dtype()) {
    case DType::Float32: for_each_index(*this, [&](int64_t i) { out.push_back(T(static_cast<float*>(base)[i])); }); break;
    case DType::Float64: for_each_index(*this, [&](int64_t i) { out.push_back(T(static_cast<double*>(base)[i])); }); break;
    case DType::Int64: for_each_index(*this, [&](int64_t i) { out.push_back(T(static_cast<int64_t*>(base)[i])); }); break;
  }
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

double Tensor::item() const {
  PMX_CHECK(numel() == 1, "[item] expected a one-element tensor, got shape ", shape_str(shape()));
  return to_vector<double>()[0];
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) {
  if (!t.defined()) return out << "Tensor(undefined)";
  out << "Tensor(shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name(t.dtype());
  std::vector<double> v = t.to_vector<double>();
  out << ", values=[";
  for (size_t i = 0; i < v.size() && i < 16; ++i) out << (i ? ", " : "") << std::setprecision(6) << v[i];
  if (v.size() > 16) out << ", ...";
  return out << "])";
}

// ---- factories ----
Tensor empty(const Shape& shape, DType dtype) {
  for (int64_t s : shape) PMX_CHECK(s >= 0, "[empty] negative size in shape ", shape_str(shape));
  const size_t n = size_t(numel(shape));
  // A wrapped byte count would allocate a tiny buffer for a huge tensor.
  PMX_CHECK(n <= SIZE_MAX / dtype_size(dtype), "[empty] shape ", shape_str(shape), " of ", dtype_name(dtype),
            " needs more bytes than size_t can count");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(n * dtype_size(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.storage()->data(), 0, size_t(t.numel()) * dtype_size(dtype));
  return t;
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  int64_t n = t.numel();
  switch (dtype) {
    case DType::Float32: { float* p = t.data<float>(); for (int64_t i = 0; i < n; ++i) p[i] = float(value); break; }
    case DType::Float64: { double* p = t.data<double>(); for (int64_t i = 0; i < n; ++i) p[i] = value; break; }
    case DType::Int64: { int64_t* p = t.data<int64_t>(); for (int64_t i = 0; i < n; ++i) p[i] = int64_t(value); break; }
  }
  return t;
}

Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(int64_t n, DType dtype) {
  Tensor t = empty({n}, dtype);
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::Float32: t.data<float>()[i] = float(i); break;
      case DType::Float64: t.data<double>()[i] = double(i); break;
      case DType::Int64: t.data<int64_t>()[i] = i; break;
    }
  }
  return t;
}

template <class T>
static Tensor from_values(const std::vector<T>& values, const Shape& shape) {
  PMX_CHECK(int64_t(values.size()) == numel(shape), "[from_vector] ", values.size(),
            " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.data<T>(), values.data(), values.size() * sizeof(T));
  return t;
}
Tensor from_vector(const std::vector<float>& v, const Shape& s) { return from_values(v, s); }
Tensor from_vector(const std::vector<double>& v, const Shape& s) { return from_values(v, s); }
Tensor from_vector(const std::vector<int64_t>& v, const Shape& s) { return from_values(v, s); }

Tensor make_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  PMX_CHECK(shape.size() == strides.size(), "[make_view] shape ", shape_str(shape), " and strides ",
            shape_str(strides), " differ in length");
  for (int64_t s : shape) PMX_CHECK(s >= 0, "[make_view] negative size in shape ", shape_str(shape));
  if (numel(shape) > 0) {
    // The lowest and highest element the view reaches must lie inside t's storage.
    int64_t lo = offset, hi = offset;
    bool ok = true;
    for (size_t d = 0; d < shape.size() && ok; ++d) {
      int64_t span = 0;
      int64_t& end = strides[d] < 0 ? lo : hi;  // a negative stride extends the view downwards
      ok = !__builtin_mul_overflow(shape[d] - 1, strides[d], &span) && !__builtin_add_overflow(end, span, &end);
    }
    const int64_t capacity = int64_t(t.storage()->nbytes() / dtype_size(t.dtype()));
    PMX_CHECK(ok && lo >= 0 && hi < capacity, "[make_view] view ", shape_str(shape), " with strides ",
              shape_str(strides), " at offset ", offset, " reaches outside its storage of ", capacity,
              " elements");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->offset = offset;
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

}  // namespace pmx
