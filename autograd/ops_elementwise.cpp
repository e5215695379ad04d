// Elementwise ops: validation, the choice of kernel layout, and the gradient rules.
//
// Binary ops never copy their inputs: transposed or broadcast views go to the strided kernel
// with their own strides. Unary ops work on dense rows, so a non-contiguous input is copied
// once (outside the graph; the gradient still goes to the original input).
#include "autograd/ops_elementwise.h"

#include "autograd/node.h"
#include "autograd/ops_reduce.h"
#include "autograd/ops_shape.h"
#include "kernels/elementwise.h"

namespace pmx {

namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;

// t's strides seen through the broadcast shape `out`: missing leading dims and stretched
// size-1 dims get stride 0.
Shape broadcast_strides(const Tensor& t, const Shape& out) {
  Shape s(out.size(), 0);
  const size_t lead = out.size() - size_t(t.dim());
  for (size_t d = 0; d < size_t(t.dim()); ++d)
    s[lead + d] = t.shape()[d] == 1 ? 0 : t.strides()[d];
  return s;
}

// Drops size-1 dims and merges neighbours that both inputs walk with a single stride, so the
// kernel's inner rows are as long as possible: (3, 5, 4) + (5, 4) becomes (3, 20) + (20).
void coalesce(Shape& shape, Shape& sa, Shape& sb) {
  Shape n, na, nb;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!n.empty() && na.back() == sa[d] * shape[d] && nb.back() == sb[d] * shape[d]) {
      n.back() *= shape[d];
      na.back() = sa[d];
      nb.back() = sb[d];
    } else {
      n.push_back(shape[d]);
      na.push_back(sa[d]);
      nb.push_back(sb[d]);
    }
  }
  shape = n, sa = na, sb = nb;
}

// Is `small` (without its leading 1s) the trailing dims of `out`? Then a dense `small` is one
// row repeated over the leading dims of a dense `out`: the bias case.
bool is_trailing_row(const Shape& small, const Shape& out) {
  size_t first = 0;
  while (first < small.size() && small[first] == 1) ++first;
  const size_t k = small.size() - first;
  if (k > out.size()) return false;
  for (size_t i = 0; i < k; ++i)
    if (small[first + i] != out[out.size() - k + i]) return false;
  return true;
}

void check_arithmetic_dtypes(const Tensor& a, const Tensor& b, const char* name) {
  PMX_CHECK(a.dtype() == b.dtype(), "[", name, "] dtypes differ: ", dtype_name(a.dtype()), " ",
            shape_str(a.shape()), " and ", dtype_name(b.dtype()), " ", shape_str(b.shape()));
  PMX_CHECK(is_floating(a.dtype()), "[", name, "] arithmetic on int64 tensors is not supported ",
            "(convert with to_dtype first), got ", shape_str(a.shape()), " and ", shape_str(b.shape()));
}

Tensor binary_values(const Tensor& a, const Tensor& b, BinaryOp op, const char* name) {
  check_arithmetic_dtypes(a, b, name);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, a.dtype());
  const int64_t n = numel(shape);
  if (n == 0) return out;
  PMX_DISPATCH_FLOATING(a.dtype(), name, [&] {
    scalar_t* o = out.data<scalar_t>();
    const scalar_t* pa = a.data<scalar_t>();
    const scalar_t* pb = b.data<scalar_t>();
    const bool full_a = a.is_contiguous() && a.numel() == n;
    const bool full_b = b.is_contiguous() && b.numel() == n;
    if (full_a && full_b) {
      kernels::binary_same(o, pa, pb, long(n), op);
    } else if (full_a && b.numel() == 1) {
      kernels::binary_scalar(o, pa, *pb, long(n), op, /*scalar_on_left=*/false);
    } else if (full_b && a.numel() == 1) {
      kernels::binary_scalar(o, pb, *pa, long(n), op, /*scalar_on_left=*/true);
    } else if (full_a && b.is_contiguous() && is_trailing_row(b.shape(), shape)) {
      kernels::binary_row(o, pa, pb, long(n / b.numel()), long(b.numel()), op, false);
    } else if (full_b && a.is_contiguous() && is_trailing_row(a.shape(), shape)) {
      kernels::binary_row(o, pb, pa, long(n / a.numel()), long(a.numel()), op, true);
    } else {
      Shape dims = shape, sa = broadcast_strides(a, shape), sb = broadcast_strides(b, shape);
      coalesce(dims, sa, sb);
      kernels::binary_strided(o, pa, sa.data(), pb, sb.data(), dims.data(), int(dims.size()), op);
    }
  });
  return out;
}

// Unary ops whose derivative reads the input (the others read the output, or nothing).
bool grad_reads_input(UnaryOp op) {
  return op == UnaryOp::Log || op == UnaryOp::Relu || op == UnaryOp::Gelu || op == UnaryOp::Pow;
}
bool grad_reads_output(UnaryOp op) {
  return op == UnaryOp::Exp || op == UnaryOp::Sqrt || op == UnaryOp::Tanh || op == UnaryOp::Sigmoid;
}

Tensor unary(const Tensor& a, UnaryOp op, double param, const char* name) {
  PMX_CHECK(a.defined(), "[", name, "] undefined input tensor");
  PMX_CHECK(is_floating(a.dtype()), "[", name, "] expected a floating tensor, got int64 ",
            shape_str(a.shape()));
  Tensor x;
  {
    NoGradGuard no_grad;  // the copy is an implementation detail; the gradient goes to `a`
    x = contiguous(a);
  }
  Tensor out = empty(a.shape(), a.dtype());
  const long n = long(a.numel());
  PMX_DISPATCH_FLOATING(a.dtype(), name, [&] {
    if (n) kernels::unary_forward(out.data<scalar_t>(), x.data<scalar_t>(), n, op, scalar_t(param));
  });
  Tensor saved_in = grad_reads_input(op) ? x : Tensor();
  Tensor saved_out = grad_reads_output(op) ? out.detach() : Tensor();
  return record(name, out, {a}, [saved_in, saved_out, op, param, name](const Tensor& g) {
    Tensor gc = contiguous(g);
    Tensor d = empty(gc.shape(), gc.dtype());
    const long n = long(gc.numel());
    PMX_DISPATCH_FLOATING(gc.dtype(), name, [&] {
      const scalar_t* in = saved_in.defined() ? saved_in.data<scalar_t>() : nullptr;
      const scalar_t* y = saved_out.defined() ? saved_out.data<scalar_t>() : nullptr;
      if (n) kernels::unary_backward(d.data<scalar_t>(), gc.data<scalar_t>(), in, y, n, op, scalar_t(param));
    });
    return std::vector<Tensor>{d};
  });
}

}  // namespace

// ---- binary ----

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(a, b, BinaryOp::Add, "add");
  const bool na = a.requires_grad(), nb = b.requires_grad();
  return record("add", out, {a, b}, [sa = a.shape(), sb = b.shape(), na, nb](const Tensor& g) {
    return std::vector<Tensor>{na ? reduce_to_shape(g, sa) : Tensor(),
                               nb ? reduce_to_shape(g, sb) : Tensor()};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(a, b, BinaryOp::Sub, "sub");
  const bool na = a.requires_grad(), nb = b.requires_grad();
  return record("sub", out, {a, b}, [sa = a.shape(), sb = b.shape(), na, nb](const Tensor& g) {
    // Negate after reducing: the reduced gradient is the smaller tensor.
    return std::vector<Tensor>{na ? reduce_to_shape(g, sa) : Tensor(),
                               nb ? neg(reduce_to_shape(g, sb)) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(a, b, BinaryOp::Mul, "mul");
  const bool na = a.requires_grad(), nb = b.requires_grad();
  // Each input's gradient needs the other input's values, so keep only what will be used.
  return record("mul", out, {a, b},
                [sa = a.shape(), sb = b.shape(), na, nb, a_val = nb ? a.detach() : Tensor(),
                 b_val = na ? b.detach() : Tensor()](const Tensor& g) {
                  return std::vector<Tensor>{na ? reduce_to_shape(mul(g, b_val), sa) : Tensor(),
                                             nb ? reduce_to_shape(mul(g, a_val), sb) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_values(a, b, BinaryOp::Div, "div");
  const bool na = a.requires_grad(), nb = b.requires_grad();
  // d(a/b)/db = -(a/b)/b: reuse the output instead of keeping a.
  return record("div", out, {a, b},
                [sa = a.shape(), sb = b.shape(), na, nb, b_val = b.detach(),
                 y = nb ? out.detach() : Tensor()](const Tensor& g) {
                  return std::vector<Tensor>{
                      na ? reduce_to_shape(div(g, b_val), sa) : Tensor(),
                      nb ? neg(reduce_to_shape(div(mul(g, y), b_val), sb)) : Tensor()};
                });
}

Tensor reduce_to_shape(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const Shape& g = grad.shape();
  bool ok = shape.size() <= g.size();
  const size_t lead = ok ? g.size() - shape.size() : 0;
  for (size_t d = 0; ok && d < shape.size(); ++d) ok = shape[d] == g[lead + d] || shape[d] == 1;
  PMX_CHECK(ok, "[reduce_to_shape] a gradient of shape ", shape_str(g), " cannot be reduced to ",
            shape_str(shape), " (", shape_str(shape), " does not broadcast to ", shape_str(g), ")");
  std::vector<int64_t> dims;
  for (size_t d = 0; d < g.size(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g[d] != 1)) dims.push_back(int64_t(d));
  Tensor summed = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/false);
  return reshape(summed, shape);
}

// ---- unary and scalar ----

Tensor add(const Tensor& a, double b) { return unary(a, UnaryOp::AddScalar, b, "add"); }
Tensor mul(const Tensor& a, double b) { return unary(a, UnaryOp::MulScalar, b, "mul"); }
Tensor neg(const Tensor& a) { return unary(a, UnaryOp::Neg, 0, "neg"); }
Tensor pow(const Tensor& a, double exponent) { return unary(a, UnaryOp::Pow, exponent, "pow"); }
Tensor exp(const Tensor& a) { return unary(a, UnaryOp::Exp, 0, "exp"); }
Tensor log(const Tensor& a) { return unary(a, UnaryOp::Log, 0, "log"); }
Tensor sqrt(const Tensor& a) { return unary(a, UnaryOp::Sqrt, 0, "sqrt"); }
Tensor tanh(const Tensor& a) { return unary(a, UnaryOp::Tanh, 0, "tanh"); }
Tensor sigmoid(const Tensor& a) { return unary(a, UnaryOp::Sigmoid, 0, "sigmoid"); }
Tensor relu(const Tensor& a) { return unary(a, UnaryOp::Relu, 0, "relu"); }
Tensor gelu(const Tensor& a) { return unary(a, UnaryOp::Gelu, 0, "gelu"); }

// ---- operators ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace pmx
