// Neural-network ops (see autograd/ops_nn.h): validation, output allocation, kernel calls and
// the gradient rules. The math and the parallel splits live in kernels/{softmax, embedding,
// dropout, layer_norm}.h.
#include "autograd/ops_nn.h"

#include <algorithm>
#include <cstring>

#include "autograd/node.h"
#include "autograd/ops_shape.h"
#include "kernels/dropout.h"
#include "kernels/embedding.h"
#include "kernels/layer_norm.h"
#include "kernels/softmax.h"

namespace pmx {

namespace {

// The tensor as (outer, L, inner) around the reduced dim d.
struct Axis {
  long outer = 1, L = 1, inner = 1;
};
Axis split_at(const Shape& shape, int64_t d) {
  Axis a;
  for (int64_t i = 0; i < int64_t(shape.size()); ++i) {
    if (i < d) a.outer *= long(shape[i]);
    else if (i == d) a.L = long(shape[i]);
    else a.inner *= long(shape[i]);
  }
  return a;
}

Tensor softmax_op(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  PMX_CHECK(x.defined(), "[", op, "] input is undefined");
  PMX_CHECK(is_floating(x.dtype()), "[", op, "] expected a floating tensor, got ",
            dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
  // A 0-d tensor behaves as shape (1,), as in PyTorch (dim 0 or -1).
  const int64_t d = normalize_dim(dim, std::max<int64_t>(x.dim(), 1), op);
  const Axis a = split_at(x.shape(), d);
  Tensor xc = contiguous_untracked(x);
  Tensor y = empty(x.shape(), x.dtype());
  PMX_DISPATCH_FLOATING(x.dtype(), op, [&] {
    auto fwd = log ? kernels::log_softmax_forward<scalar_t> : kernels::softmax_forward<scalar_t>;
    fwd(y.data<scalar_t>(), xc.data<scalar_t>(), a.outer, a.L, a.inner);
  });
  return record(op, y, {x}, [y_saved = y.detach(), a, log, op](const Tensor& g) {
    Tensor gc = contiguous_untracked(g);
    Tensor dx = empty(y_saved.shape(), y_saved.dtype());
    PMX_DISPATCH_FLOATING(y_saved.dtype(), op, [&] {
      auto bwd = log ? kernels::log_softmax_backward<scalar_t> : kernels::softmax_backward<scalar_t>;
      bwd(dx.data<scalar_t>(), gc.data<scalar_t>(), y_saved.data<scalar_t>(), a.outer, a.L, a.inner);
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op(x, dim, true); }

Tensor embedding(const Tensor& weight, const Tensor& ids, int64_t padding_idx) {
  PMX_CHECK(weight.defined() && ids.defined(), "[embedding] weight or ids is undefined");
  PMX_CHECK(weight.dim() == 2, "[embedding] weight must be 2-D (V, d), got ", shape_str(weight.shape()));
  PMX_CHECK(is_floating(weight.dtype()), "[embedding] weight must be floating, got ",
            dtype_name(weight.dtype()));
  PMX_CHECK(ids.dtype() == DType::Int64, "[embedding] ids must be int64, got ",
            dtype_name(ids.dtype()), " of shape ", shape_str(ids.shape()));
  const int64_t V = weight.size(0), d = weight.size(1);
  PMX_CHECK(padding_idx < V, "[embedding] padding_idx ", padding_idx,
            " is out of range for a table of V = ", V, " rows (weight ", shape_str(weight.shape()), ")");
  Tensor ids_c = contiguous_untracked(ids);
  const int64_t* id = ids_c.data<int64_t>();
  const int64_t n = ids_c.numel();
  for (int64_t i = 0; i < n; ++i)
    PMX_CHECK(id[i] >= 0 && id[i] < V, "[embedding] id ", id[i], " at position ", i, " (index ",
              index_str(i, ids.shape()), " of ids ", shape_str(ids.shape()),
              ") is out of range for a table of V = ", V, " rows");

  Shape out_shape = ids.shape();
  out_shape.push_back(d);
  Tensor wc = contiguous_untracked(weight);
  Tensor out = empty(out_shape, weight.dtype());
  PMX_DISPATCH_FLOATING(weight.dtype(), "embedding", [&] {
    kernels::embedding_forward(out.data<scalar_t>(), wc.data<scalar_t>(), id, long(n), long(d));
  });
  return record("embedding", out, {weight, ids},
                [ids_c, V, d, n, padding_idx, dtype = weight.dtype()](const Tensor& g) {
    Tensor gc = contiguous_untracked(g);
    Tensor d_weight = empty({V, d}, dtype);
    PMX_DISPATCH_FLOATING(dtype, "embedding", [&] {
      kernels::embedding_backward(d_weight.data<scalar_t>(), gc.data<scalar_t>(),
                                  ids_c.data<int64_t>(), long(n), long(V), long(d), long(padding_idx));
    });
    return std::vector<Tensor>{d_weight, Tensor()};
  });
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& g) {
  PMX_CHECK(x.defined(), "[dropout] input is undefined");
  PMX_CHECK(p >= 0.0 && p <= 1.0, "[dropout] probability must be in [0, 1], got ", p);
  PMX_CHECK(is_floating(x.dtype()), "[dropout] expected a floating tensor, got ",
            dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
  if (!training || p == 0.0) return x;
  if (p == 1.0) {
    Tensor out = zeros(x.shape(), x.dtype());
    return record("dropout", out, {x}, [shape = x.shape(), dtype = x.dtype()](const Tensor&) {
      return std::vector<Tensor>{zeros(shape, dtype)};
    });
  }
  const int64_t n = x.numel();
  const uint64_t seed = g.seed(), start = g.advance(uint64_t(n));
  Tensor xc = contiguous_untracked(x);
  Tensor out = empty(x.shape(), x.dtype());
  PMX_DISPATCH_FLOATING(x.dtype(), "dropout", [&] {
    kernels::dropout_apply(out.data<scalar_t>(), xc.data<scalar_t>(), long(n), p, seed, start);
  });
  // The mask is regenerated from (seed, start) in the backward instead of being stored.
  return record("dropout", out, {x}, [p, seed, start, n, shape = x.shape(), dtype = x.dtype()](const Tensor& grad) {
    Tensor gc = contiguous_untracked(grad);
    Tensor dx = empty(shape, dtype);
    PMX_DISPATCH_FLOATING(dtype, "dropout", [&] {
      kernels::dropout_apply(dx.data<scalar_t>(), gc.data<scalar_t>(), long(n), p, seed, start);
    });
    return std::vector<Tensor>{dx};
  });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  PMX_CHECK(x.defined(), "[layer_norm] input is undefined");
  PMX_CHECK(is_floating(x.dtype()), "[layer_norm] expected a floating tensor, got ",
            dtype_name(x.dtype()), " of shape ", shape_str(x.shape()));
  PMX_CHECK(x.dim() >= 1 && x.size(-1) > 0, "[layer_norm] input must have a non-empty last dim, got ",
            shape_str(x.shape()));
  PMX_CHECK(eps >= 0.0, "[layer_norm] eps must be >= 0, got ", eps);
  const int64_t D = x.size(-1), rows = x.numel() / D;
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    const char* what = p == &weight ? "weight" : "bias";
    PMX_CHECK(p->dim() == 1 && p->size(0) == D, "[layer_norm] ", what, " must have shape (", D,
              ",) to match the last dim of input ", shape_str(x.shape()), ", got ", shape_str(p->shape()));
    PMX_CHECK(p->dtype() == x.dtype(), "[layer_norm] ", what, " is ", dtype_name(p->dtype()),
              " but input is ", dtype_name(x.dtype()));
  }
  Tensor xc = contiguous_untracked(x);
  Tensor wc = weight.defined() ? contiguous_untracked(weight) : Tensor();
  Tensor bc = bias.defined() ? contiguous_untracked(bias) : Tensor();
  Tensor out = empty(x.shape(), x.dtype());
  Tensor mean = empty({rows}, x.dtype()), rstd = empty({rows}, x.dtype());
  PMX_DISPATCH_FLOATING(x.dtype(), "layer_norm", [&] {
    kernels::layer_norm_forward(out.data<scalar_t>(), mean.data<scalar_t>(), rstd.data<scalar_t>(),
                                xc.data<scalar_t>(), wc.defined() ? wc.data<scalar_t>() : nullptr,
                                bc.defined() ? bc.data<scalar_t>() : nullptr, long(rows), long(D), eps);
  });
  const bool need_x = x.requires_grad();
  const bool need_w = weight.defined() && weight.requires_grad();
  const bool need_b = bias.defined() && bias.requires_grad();
  return record("layer_norm", out, {x, weight, bias},
                [xc = xc.detach(), wc = wc.defined() ? wc.detach() : Tensor(), mean, rstd, rows, D,
                 need_x, need_w, need_b](const Tensor& g) {
    Tensor gc = contiguous_untracked(g);
    DType dt = xc.dtype();
    Tensor dx = need_x ? empty(xc.shape(), dt) : Tensor();
    Tensor dw = need_w ? empty({D}, dt) : Tensor();
    Tensor db = need_b ? empty({D}, dt) : Tensor();
    PMX_DISPATCH_FLOATING(dt, "layer_norm", [&] {
      using T = scalar_t;
      kernels::layer_norm_backward(dx.defined() ? dx.data<T>() : nullptr,
                                   dw.defined() ? dw.data<T>() : nullptr,
                                   db.defined() ? db.data<T>() : nullptr, gc.data<T>(), xc.data<T>(),
                                   wc.defined() ? wc.data<T>() : nullptr, mean.data<T>(),
                                   rstd.data<T>(), long(rows), long(D));
    });
    return std::vector<Tensor>{dx, dw, db};
  });
}

}  // namespace pmx
