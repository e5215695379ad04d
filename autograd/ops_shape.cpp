#include "autograd/ops_shape.h"

#include <algorithm>
#include <numeric>

#include "autograd/node.h"
#include "kernels/copy.h"

namespace pmx {

// ---- dense copies (no autograd) ----

// Copies src's elements into dst's (possibly strided) view of the same shape, converting type.
static void copy_into(const Tensor& dst, const Tensor& src) {
  auto run = [&](auto* d, auto* s) {
    kernels::strided_copy(d, dst.strides().data(), s, src.strides().data(), src.shape().data(),
                          int(src.dim()));
  };
  auto with_src = [&](auto* d) {
    switch (src.dtype()) {
      case DType::Float32: run(d, src.data<float>()); break;
      case DType::Float64: run(d, src.data<double>()); break;
      case DType::Int64: run(d, src.data<int64_t>()); break;
    }
  };
  switch (dst.dtype()) {
    case DType::Float32: with_src(dst.data<float>()); break;
    case DType::Float64: with_src(dst.data<double>()); break;
    case DType::Int64: with_src(dst.data<int64_t>()); break;
  }
}

static Tensor dense_copy(const Tensor& t, DType dtype) {
  Tensor out = empty(t.shape(), dtype);
  copy_into(out, t);
  return out;
}

// ---- views ----

static Shape infer_shape(const Shape& requested, int64_t n, const char* op) {
  Shape shape = requested, sizes;  // sizes: the given ones, without the -1
  int64_t infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      PMX_CHECK(infer_at < 0, "[", op, "] only one size may be -1 in ", shape_str(requested));
      infer_at = int64_t(i);
    } else {
      PMX_CHECK(shape[i] >= 0, "[", op, "] negative size in ", shape_str(requested));
      sizes.push_back(shape[i]);
    }
  }
  const int64_t known = numel(sizes);  // throws on a product past int64, which no n can match
  if (infer_at >= 0) {
    PMX_CHECK(known > 0 && n % known == 0, "[", op, "] cannot infer -1 in ", shape_str(requested),
              " for ", n, " elements");
    shape[infer_at] = n / known;
  }
  PMX_CHECK(numel(shape) == n, "[", op, "] shape ", shape_str(requested), " does not hold ", n, " elements");
  return shape;
}

Tensor reshape(const Tensor& t, const Shape& requested) {
  Shape shape = infer_shape(requested, t.numel(), "reshape");
  Tensor base = t.is_contiguous() ? t : dense_copy(t, t.dtype());
  Tensor out = make_view(base, shape, contiguous_strides(shape), base.offset());
  Shape in_shape = t.shape();
  return record("reshape", out, {t}, [in_shape](const Tensor& g) {
    return std::vector<Tensor>{reshape(g, in_shape)};
  });
}

Tensor flatten(const Tensor& t, int64_t start_dim, int64_t end_dim) {
  if (t.dim() == 0) return reshape(t, {1});
  int64_t s = normalize_dim(start_dim, t.dim(), "flatten"), e = normalize_dim(end_dim, t.dim(), "flatten");
  PMX_CHECK(s <= e, "[flatten] start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape shape(t.shape().begin(), t.shape().begin() + s);
  int64_t merged = 1;
  for (int64_t d = s; d <= e; ++d) merged *= t.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), t.shape().begin() + e + 1, t.shape().end());
  return reshape(t, shape);
}

Tensor unsqueeze(const Tensor& t, int64_t dim) {
  int64_t d = normalize_dim(dim, t.dim() + 1, "unsqueeze");
  Shape shape = t.shape();
  shape.insert(shape.begin() + d, 1);
  return reshape(t, shape);
}

Tensor squeeze(const Tensor& t, int64_t dim) {
  int64_t d = normalize_dim(dim, t.dim(), "squeeze");
  if (t.dim() == 0) return reshape(t, {});  // dim 0 / -1 of a 0-d tensor: nothing to drop
  PMX_CHECK(t.shape()[d] == 1, "[squeeze] dim ", dim, " of shape ", shape_str(t.shape()), " is not 1");
  Shape shape = t.shape();
  shape.erase(shape.begin() + d);
  return reshape(t, shape);
}

Tensor permute(const Tensor& t, const Shape& dims) {
  int64_t nd = t.dim();
  PMX_CHECK(int64_t(dims.size()) == nd, "[permute] ", dims.size(), " dims given for a tensor of shape ",
            shape_str(t.shape()));
  Shape shape(nd), strides(nd), inverse(nd);
  std::vector<bool> seen(nd, false);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = normalize_dim(dims[i], nd, "permute");
    PMX_CHECK(!seen[d], "[permute] dim ", dims[i], " repeated in ", shape_str(dims));
    seen[d] = true;
    shape[i] = t.shape()[d];
    strides[i] = t.strides()[d];
    inverse[d] = i;
  }
  Tensor out = make_view(t, shape, strides, t.offset());
  return record("permute", out, {t}, [inverse](const Tensor& g) {
    return std::vector<Tensor>{permute(g, inverse)};
  });
}

Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1) {
  int64_t a = normalize_dim(dim0, t.dim(), "transpose"), b = normalize_dim(dim1, t.dim(), "transpose");
  if (t.dim() == 0) return permute(t, {});  // dims 0 / -1 of a 0-d tensor: nothing to swap
  Shape dims(t.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[a], dims[b]);
  return permute(t, dims);
}

Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step) {
  int64_t d = normalize_dim(dim, t.dim(), "slice");
  PMX_CHECK(t.dim() > 0, "[slice] cannot slice a 0-d tensor");
  int64_t n = t.shape()[d];
  PMX_CHECK(step >= 1, "[slice] step must be >= 1, got ", step);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = t.shape(), strides = t.strides();
  // Written so that a huge step cannot overflow: with one element or none the stride is unused.
  shape[d] = end > start ? (end - start - 1) / step + 1 : 0;
  if (shape[d] > 1) strides[d] *= step;
  Tensor out = make_view(t, shape, strides, t.offset() + start * t.strides()[d]);
  Shape in_shape = t.shape();
  return record("slice", out, {t}, [=](const Tensor& g) {
    Tensor full = zeros(in_shape, g.dtype());
    Shape full_strides = full.strides();
    Shape view_strides = full_strides;
    if (g.shape()[d] > 1) view_strides[d] *= step;
    copy_into(make_view(full, g.shape(), view_strides, start * full_strides[d]), g);
    return std::vector<Tensor>{full};
  });
}

Tensor concat(const std::vector<Tensor>& tensors, int64_t dim) {
  PMX_CHECK(!tensors.empty(), "[concat] needs at least one tensor");
  const Tensor& first = tensors[0];
  int64_t d = normalize_dim(dim, first.dim(), "concat");
  PMX_CHECK(first.dim() > 0, "[concat] cannot concatenate 0-d tensors (use stack)");
  Shape shape = first.shape();
  shape[d] = 0;
  for (const Tensor& t : tensors) {
    PMX_CHECK(t.dim() == first.dim() && t.dtype() == first.dtype(), "[concat] tensor of shape ",
              shape_str(t.shape()), " ", dtype_name(t.dtype()), " does not match ", shape_str(first.shape()),
              " ", dtype_name(first.dtype()));
    for (int64_t k = 0; k < t.dim(); ++k)
      PMX_CHECK(k == d || t.shape()[k] == first.shape()[k], "[concat] shapes ", shape_str(first.shape()),
                " and ", shape_str(t.shape()), " differ outside dim ", dim);
    shape[d] += t.shape()[d];
  }
  Tensor out = empty(shape, first.dtype());
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const Tensor& t : tensors) {
    starts.push_back(at);
    copy_into(make_view(out, t.shape(), out.strides(), at * out.strides()[d]), t);
    at += t.shape()[d];
  }
  std::vector<int64_t> sizes;
  for (const Tensor& t : tensors) sizes.push_back(t.shape()[d]);
  return record("concat", out, tensors, [=](const Tensor& g) {
    std::vector<Tensor> grads;
    for (size_t i = 0; i < sizes.size(); ++i)
      grads.push_back(contiguous(slice(g, d, starts[i], starts[i] + sizes[i])));
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  PMX_CHECK(!tensors.empty(), "[stack] needs at least one tensor");
  std::vector<Tensor> expanded;
  for (const Tensor& t : tensors) expanded.push_back(unsqueeze(t, dim < 0 ? dim + t.dim() + 1 : dim));
  return concat(expanded, dim < 0 ? dim + tensors[0].dim() + 1 : dim);
}

Tensor contiguous(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = dense_copy(t, t.dtype());
  return record("contiguous", out, {t}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor contiguous_untracked(const Tensor& t) {
  return t.is_contiguous() ? t : dense_copy(t, t.dtype());
}

Tensor clone(const Tensor& t) {
  Tensor out = dense_copy(t, t.dtype());
  return record("clone", out, {t}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor to_dtype(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = dense_copy(t, dtype);
  DType in = t.dtype();
  if (!is_floating(in) || !is_floating(dtype)) return out;  // ids and labels carry no gradient
  return record("to_dtype", out, {t}, [in](const Tensor& g) { return std::vector<Tensor>{to_dtype(g, in)}; });
}

// ---- Tensor methods that are ops ----
Tensor Tensor::contiguous() const { return pmx::contiguous(*this); }
Tensor Tensor::clone() const { return pmx::clone(*this); }
Tensor Tensor::to(DType dtype) const { return to_dtype(*this, dtype); }
Tensor Tensor::reshape(const Shape& shape) const { return pmx::reshape(*this, shape); }
Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const { return pmx::transpose(*this, dim0, dim1); }
Tensor Tensor::permute(const Shape& dims) const { return pmx::permute(*this, dims); }

}  // namespace pmx
