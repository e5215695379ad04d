// Tensor: a shared handle to an n-dimensional, strided view of a Storage, plus the autograd
// fields (requires_grad, grad, grad_fn).
//
// Copying a Tensor copies the handle, not the data (like torch.Tensor). Views (reshape of a
// contiguous tensor, transpose, permute, slice) share storage; ops that need dense rows call
// contiguous() first. Element types: float32, float64 (gradient checks), int64 (ids, labels).
//
//   pmx::Tensor x = pmx::zeros({2, 3});          // float32, contiguous
//   x.data<float>()[4] = 1.f;                    // raw access to contiguous data
//   pmx::Tensor w = pmx::randn({3, 4}).set_requires_grad(true);
//   pmx::Tensor loss = pmx::sum(pmx::matmul(x, w));
//   loss.backward();                              // w.grad() is now (3, 4)
#pragma once
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace pmx {

struct Node;  // autograd/node.h
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;       // in elements
  DType dtype = DType::Float32;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;     // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;        // the op that produced this tensor (non-leaves)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t dim() const { return int64_t(impl().shape.size()); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return pmx::numel(impl().shape); }
  DType dtype() const { return impl().dtype; }
  int64_t offset() const { return impl().offset; }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }

  // Pointer to the first element; T must match dtype() (checked).
  template <class T> T* data() const;
  // The single value of a one-element tensor, converted to double.
  double item() const;
  // All elements in logical (row-major) order, converted to T.
  template <class T> std::vector<T> to_vector() const;

  // ---- autograd (defined in autograd/) ----
  bool requires_grad() const { return impl().requires_grad; }
  // Marks a leaf as a parameter or input whose gradient should be accumulated.
  Tensor& set_requires_grad(bool on);
  // The accumulated gradient (undefined until a backward pass reaches this leaf).
  Tensor grad() const;
  // Adopts g (shape and dtype must match). Later backward passes add to it in place, or, when
  // g is not contiguous, replace it with a dense sum.
  void set_grad(const Tensor& g);
  // Reverse sweep from this tensor. Without an argument the tensor must have one element and
  // the seed gradient is 1. The graph is freed unless retain_graph is true.
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  // Same data, cut from the graph.
  Tensor detach() const;

  // ---- copies and views (autograd-aware; defined in autograd/) ----
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor reshape(const Shape& shape) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor permute(const Shape& dims) const;

  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& out, const Tensor& t);

// ---- factories (no autograd history; float32 unless told) ----
Tensor empty(const Shape& shape, DType dtype = DType::Float32);
Tensor zeros(const Shape& shape, DType dtype = DType::Float32);
Tensor ones(const Shape& shape, DType dtype = DType::Float32);
Tensor full(const Shape& shape, double value, DType dtype = DType::Float32);
Tensor zeros_like(const Tensor& t);
Tensor empty_like(const Tensor& t);
// 0, 1, ..., n-1
Tensor arange(int64_t n, DType dtype = DType::Int64);
// A tensor holding a copy of `values` with the given shape (numel must match).
Tensor from_vector(const std::vector<float>& values, const Shape& shape);
Tensor from_vector(const std::vector<double>& values, const Shape& shape);
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape);
// A one-element, zero-dimensional tensor.
Tensor scalar(double value, DType dtype = DType::Float32);
// A view of `t` with the given shape, strides and offset, sharing its storage (no autograd).
// Throws unless every element of the view lies inside the storage; nothing else is checked.
// Building block of the view ops.
Tensor make_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset);

// ---- template definitions ----
template <class T> T* Tensor::data() const {
  PMX_CHECK(dtype() == dtype_of<T>(), "[data] tensor holds ", dtype_name(dtype()),
            ", accessed as ", dtype_name(dtype_of<T>()));
  return static_cast<T*>(impl().storage->data()) + impl().offset;
}

}  // namespace pmx
