// Reductions: validation, the (outer, R, inner) plan, and the gradient rules.
//
// A set of reduced dims is first coalesced into alternating runs of kept and reduced dims
// (size-1 dims dropped). One reduced run is one kernel call; several runs, e.g. (R1, K, R2),
// are reduced one run at a time from the right, each on the previous result. The order is a
// function of the shape alone, so the bits do not depend on the thread count.
#include "autograd/ops_reduce.h"

#include "autograd/node.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_shape.h"
#include "kernels/copy.h"
#include "kernels/reduce.h"

namespace pmx {

namespace {

int64_t product(const std::vector<int64_t>& v, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t i = begin; i < end; ++i) p *= v[i];
  return p;
}

// Sums dense x over the dims where mask is true; returns a dense tensor holding the kept dims
// in order (its shape is left for the caller to set).
Tensor sum_dense(const Tensor& x, const std::vector<bool>& mask) {
  std::vector<int64_t> sizes;
  std::vector<bool> reduced;
  for (size_t d = 0; d < mask.size(); ++d) {
    const int64_t s = x.shape()[d];
    if (s == 1) continue;
    if (!sizes.empty() && reduced.back() == mask[d]) sizes.back() *= s;
    else sizes.push_back(s), reduced.push_back(mask[d]);
  }
  Tensor cur = x;
  for (;;) {
    size_t k = sizes.size();
    for (size_t i = sizes.size(); i-- > 0;)
      if (reduced[i]) { k = i; break; }
    if (k == sizes.size()) break;
    const int64_t outer = product(sizes, 0, k), R = sizes[k], inner = product(sizes, k + 1, sizes.size());
    Tensor next = empty({outer * inner}, x.dtype());
    PMX_DISPATCH_FLOATING(x.dtype(), "sum", [&] {
      kernels::sum_forward(next.data<scalar_t>(), cur.data<scalar_t>(), long(outer), long(R), long(inner));
    });
    cur = next;
    sizes.erase(sizes.begin() + long(k));
    reduced.erase(reduced.begin() + long(k));
  }
  if (cur.same(x)) {  // only size-1 dims were reduced: still a fresh tensor
    NoGradGuard no_grad;
    cur = clone(x);
  }
  return cur;
}

// Gives a fresh dense tensor its logical shape.
Tensor with_shape(Tensor t, const Shape& shape) {
  t.impl().shape = shape;
  t.impl().strides = contiguous_strides(shape);
  return t;
}

// The gradient of a sum: g (laid out as keep_shape, x's rank with 1 at reduced dims) copied
// along the reduced dims of x_shape.
Tensor expand_to(const Tensor& g, const Shape& keep_shape, const Shape& x_shape) {
  Tensor gc = contiguous(g);
  Shape strides = contiguous_strides(keep_shape);
  for (size_t d = 0; d < keep_shape.size(); ++d)
    if (keep_shape[d] == 1) strides[d] = 0;
  Tensor out = empty(x_shape, g.dtype());
  const Shape out_strides = contiguous_strides(x_shape);
  PMX_DISPATCH_FLOATING(g.dtype(), "sum", [&] {
    kernels::strided_copy(out.data<scalar_t>(), out_strides.data(), gc.data<scalar_t>(), strides.data(),
                          x_shape.data(), int(x_shape.size()));
  });
  return out;
}

void check_floating(const Tensor& x, const char* op) {
  PMX_CHECK(x.defined(), "[", op, "] undefined input tensor");
  PMX_CHECK(is_floating(x.dtype()), "[", op, "] expected a floating tensor, got int64 ",
            shape_str(x.shape()));
}

// x viewed as (outer, R, inner) around dim d.
void split_at(const Shape& shape, int64_t d, long* outer, long* R, long* inner) {
  *outer = long(product(shape, 0, size_t(d)));
  *R = long(shape[size_t(d)]);
  *inner = long(product(shape, size_t(d) + 1, shape.size()));
}

Shape reduced_shape(const Shape& shape, int64_t d, bool keepdim) {
  Shape out = shape;
  if (keepdim) out[size_t(d)] = 1;
  else out.erase(out.begin() + d);
  return out;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_floating(x, "sum");
  const int64_t nd = x.dim();
  std::vector<bool> mask(size_t(nd), false);
  for (int64_t dim : dims) {
    const int64_t d = normalize_dim(dim, nd, "sum");
    if (nd == 0) continue;  // a 0-d tensor accepts dim 0 / -1 and is its own sum
    PMX_CHECK(!mask[size_t(d)], "[sum] dim ", dim, " is listed twice for a tensor of shape ",
              shape_str(x.shape()));
    mask[size_t(d)] = true;
  }
  Shape keep_shape = x.shape(), out_shape;
  for (size_t d = 0; d < size_t(nd); ++d) {
    if (mask[d]) keep_shape[d] = 1;
    if (!mask[d] || keepdim) out_shape.push_back(keep_shape[d]);
  }
  Tensor xd;
  {
    NoGradGuard no_grad;
    xd = contiguous(x);
  }
  Tensor out = with_shape(sum_dense(xd, mask), out_shape);
  return record("sum", out, {x}, [keep_shape, x_shape = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{expand_to(g, keep_shape, x_shape)};
  });
}

Tensor sum(const Tensor& x) {
  check_floating(x, "sum");
  std::vector<int64_t> all(size_t(x.dim()));
  for (size_t d = 0; d < all.size(); ++d) all[d] = int64_t(d);
  return sum(x, all, /*keepdim=*/false);
}

Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
  return sum(x, std::vector<int64_t>{dim}, keepdim);
}

Tensor mean(const Tensor& x) {
  check_floating(x, "mean");
  return mul(sum(x), 1.0 / double(x.numel()));  // 0 elements: 0 * inf = NaN, as in PyTorch
}

Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  check_floating(x, "mean");
  const int64_t d = normalize_dim(dim, x.dim(), "mean");
  const int64_t count = x.dim() == 0 ? 1 : x.shape()[size_t(d)];
  return mul(sum(x, dim, keepdim), 1.0 / double(count));
}

namespace {

// Values (when wanted) and first-maximum indices over dim; shared by max and argmax.
void max_plan(const Tensor& x, int64_t dim, bool keepdim, const char* op, Tensor* xd,
              Shape* out_shape, long* outer, long* R, long* inner) {
  check_floating(x, op);
  const int64_t d = normalize_dim(dim, x.dim(), op);
  const Shape shape = x.dim() == 0 ? Shape{1} : x.shape();
  split_at(shape, d, outer, R, inner);
  PMX_CHECK(*R > 0, "[", op, "] cannot reduce dim ", dim, " of size 0 in shape ", shape_str(x.shape()));
  *out_shape = x.dim() == 0 ? Shape{} : reduced_shape(x.shape(), d, keepdim);
  NoGradGuard no_grad;
  *xd = contiguous(x);
}

}  // namespace

Tensor max(const Tensor& x, int64_t dim, bool keepdim) {
  Tensor xd;
  Shape out_shape;
  long outer, R, inner;
  max_plan(x, dim, keepdim, "max", &xd, &out_shape, &outer, &R, &inner);
  Tensor out = empty(out_shape, x.dtype());
  Tensor idx = empty(out_shape, DType::Int64);
  PMX_DISPATCH_FLOATING(x.dtype(), "max", [&] {
    kernels::max_forward(out.data<scalar_t>(), idx.data<int64_t>(), xd.data<scalar_t>(), outer, R, inner);
  });
  return record("max", out, {x}, [idx, x_shape = x.shape(), outer, R, inner](const Tensor& g) {
    Tensor gc = contiguous(g);
    Tensor dx = empty(x_shape, gc.dtype());
    PMX_DISPATCH_FLOATING(gc.dtype(), "max", [&] {
      kernels::max_backward(dx.data<scalar_t>(), gc.data<scalar_t>(), idx.data<int64_t>(), outer, R, inner);
    });
    return std::vector<Tensor>{dx};
  });
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  Tensor xd;
  Shape out_shape;
  long outer, R, inner;
  max_plan(x, dim, keepdim, "argmax", &xd, &out_shape, &outer, &R, &inner);
  Tensor idx = empty(out_shape, DType::Int64);
  PMX_DISPATCH_FLOATING(x.dtype(), "argmax", [&] {
    kernels::max_forward<scalar_t>(nullptr, idx.data<int64_t>(), xd.data<scalar_t>(), outer, R, inner);
  });
  return idx;
}

}  // namespace pmx
