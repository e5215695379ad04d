#include "autograd/ops_linalg.h"

#include "autograd/node.h"
#include "autograd/ops_elementwise.h"
#include "autograd/ops_shape.h"
#include "kernels/bias.h"
#include "kernels/blas.h"

namespace pmx {

namespace {

// How a matrix operand (last two dims of a tensor) is handed to GEMM without a copy: rows are
// contiguous (plain, ld = row stride) or columns are (a transposed view, trans = true).
struct MatrixLayout {
  bool trans = false;
  int64_t ld = 0;
};

bool gemm_layout(const Tensor& t, MatrixLayout* layout) {
  int64_t nd = t.dim(), rows = t.shape()[nd - 2], cols = t.shape()[nd - 1];
  int64_t rs = t.strides()[nd - 2], cs = t.strides()[nd - 1];
  if ((cs == 1 || cols == 1) && rs >= std::max<int64_t>(cols, 1)) { *layout = {false, rs}; return true; }
  if ((rs == 1 || rows == 1) && cs >= std::max<int64_t>(rows, 1)) { *layout = {true, cs}; return true; }
  return false;
}

// out (batch..., M, N) = a (batch_a..., M, K) x b (batch_b..., K, N); batch dims broadcast.
template <class T>
void batched_gemm(const Tensor& out, const Tensor& a, const Tensor& b, const Shape& batch) {
  MatrixLayout la, lb;
  gemm_layout(a, &la);
  gemm_layout(b, &lb);
  int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1], N = b.shape()[b.dim() - 1];
  int64_t nb = numel(batch), nd = int64_t(batch.size());
  const T* A = a.data<T>();
  const T* B = b.data<T>();
  T* C = out.data<T>();
  // Products side by side when there are enough for every thread (OpenBLAS threading many small
  // GEMMs one after another was slower on 2 threads than on 1); see gemm_side_by_side_threads.
  const int threads = kernels::gemm_side_by_side_threads(nb);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (int64_t i = 0; i < nb; ++i) {
    int64_t rem = i, oa = 0, ob = 0;
    for (int64_t k = nd - 1; k >= 0; --k) {
      int64_t idx = rem % batch[k];
      rem /= batch[k];
      int64_t ka = k - (nd - (a.dim() - 2)), kb = k - (nd - (b.dim() - 2));
      if (ka >= 0 && a.shape()[ka] != 1) oa += idx * a.strides()[ka];
      if (kb >= 0 && b.shape()[kb] != 1) ob += idx * b.strides()[kb];
    }
    kernels::gemm(la.trans, lb.trans, M, N, K, T(1), A + oa, la.ld, B + ob, lb.ld, T(0), C + i * M * N, N);
  }
}

Tensor matmul_nograd(Tensor a, Tensor b) {
  MatrixLayout unused;
  if (!gemm_layout(a, &unused)) a = contiguous(a);
  if (!gemm_layout(b, &unused)) b = contiguous(b);
  int64_t M = a.shape()[a.dim() - 2], N = b.shape()[b.dim() - 1];
  // A 2-D right operand shared by a contiguous batch of left operands: one tall GEMM.
  if (b.dim() == 2 && a.dim() > 2 && a.is_contiguous()) {
    Shape out_shape = a.shape();
    out_shape.back() = N;
    // Rows counted from the leading dims: numel / K would divide by zero when K = 0.
    Tensor flat = make_view(a, {numel(Shape(a.shape().begin(), a.shape().end() - 1)), a.shape().back()},
                            {a.shape().back(), 1}, a.offset());
    Tensor out = empty(out_shape, a.dtype());
    PMX_DISPATCH_FLOATING(a.dtype(), "matmul", [&] { batched_gemm<scalar_t>(out, flat, b, {}); });
    return out;
  }
  Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                 Shape(b.shape().begin(), b.shape().end() - 2), "matmul");
  Shape out_shape = batch;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = empty(out_shape, a.dtype());
  PMX_DISPATCH_FLOATING(a.dtype(), "matmul", [&] { batched_gemm<scalar_t>(out, a, b, batch); });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  PMX_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "[matmul] operands must have at least 1 dim, got ",
            shape_str(a_in.shape()), " and ", shape_str(b_in.shape()));
  PMX_CHECK(a_in.dtype() == b_in.dtype(), "[matmul] dtypes differ: ", dtype_name(a_in.dtype()), " and ",
            dtype_name(b_in.dtype()));
  // Vectors become matrices (1, K) / (K, 1) and the added dim is removed at the end.
  Tensor a = a_in.dim() == 1 ? unsqueeze(a_in, 0) : a_in;
  Tensor b = b_in.dim() == 1 ? unsqueeze(b_in, 1) : b_in;
  PMX_CHECK(a.shape().back() == b.shape()[b.dim() - 2], "[matmul] inner sizes differ: ",
            shape_str(a_in.shape()), " x ", shape_str(b_in.shape()));
  Tensor out;
  {
    NoGradGuard no_grad;
    out = matmul_nograd(a, b);
  }
  out = record("matmul", out, {a, b}, [a, b](const Tensor& g) {
    std::vector<Tensor> grads(2);
    if (a.requires_grad()) grads[0] = reduce_to_shape(matmul_nograd(g, transpose(b, -2, -1)), a.shape());
    if (b.requires_grad()) {
      if (b.dim() == 2 && a.dim() > 2) {
        // Sum over the batch in the GEMM itself: (rows, K)^T x (rows, N).
        Tensor a2 = flatten(contiguous(a), 0, a.dim() - 2), g2 = flatten(g, 0, g.dim() - 2);
        grads[1] = matmul_nograd(transpose(a2, 0, 1), g2);
      } else {
        grads[1] = reduce_to_shape(matmul_nograd(transpose(a, -2, -1), g), b.shape());
      }
    }
    return grads;
  });
  if (a_in.dim() == 1) out = squeeze(out, -2);
  if (b_in.dim() == 1) out = squeeze(out, -1);
  return out;
}

namespace {

template <class T>
void linear_forward(const Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias, int64_t rows) {
  int64_t in = w.shape()[1], out = w.shape()[0];
  if (bias.defined()) kernels::fill_rows(y.data<T>(), bias.data<T>(), rows, out);
  kernels::gemm(false, true, rows, out, in, T(1), x.data<T>(), in, w.data<T>(), in,
                bias.defined() ? T(1) : T(0), y.data<T>(), out);
}

template <class T>
void linear_backward(std::vector<Tensor>& grads, const Tensor& g, const Tensor& x, const Tensor& w,
                     bool need_x, bool need_w, bool need_b, int64_t rows) {
  int64_t in = w.shape()[1], out = w.shape()[0];
  if (need_x) {  // dx (rows, in) = g (rows, out) w (out, in)
    kernels::gemm(false, false, rows, in, out, T(1), g.data<T>(), out, w.data<T>(), in, T(0),
                  grads[0].data<T>(), in);
  }
  if (need_w) {  // dw (out, in) = g^T (out, rows) x (rows, in)
    kernels::gemm(true, false, out, in, rows, T(1), g.data<T>(), out, x.data<T>(), in, T(0),
                  grads[1].data<T>(), in);
  }
  if (need_b) kernels::column_sum(grads[2].data<T>(), g.data<T>(), rows, out);
}

}  // namespace

Tensor linear(const Tensor& x_in, const Tensor& weight, const Tensor& bias) {
  PMX_CHECK(weight.dim() == 2, "[linear] weight must be (out, in), got ", shape_str(weight.shape()));
  PMX_CHECK(x_in.dim() >= 1 && x_in.shape().back() == weight.shape()[1], "[linear] input ",
            shape_str(x_in.shape()), " does not end in in_features = ", weight.shape()[1],
            " (weight ", shape_str(weight.shape()), ")");
  PMX_CHECK(x_in.dtype() == weight.dtype(), "[linear] input is ", dtype_name(x_in.dtype()),
            " but weight is ", dtype_name(weight.dtype()));
  if (bias.defined())
    PMX_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0] && bias.dtype() == weight.dtype(),
              "[linear] bias ", shape_str(bias.shape()), " does not match out_features = ", weight.shape()[0]);
  Tensor x = x_in.is_contiguous() ? x_in : contiguous(x_in);
  Tensor w = weight.is_contiguous() ? weight : contiguous(weight);
  Tensor b = bias.defined() && !bias.is_contiguous() ? contiguous(bias) : bias;
  // Rows counted from the leading dims: numel / in would divide by zero when in = 0.
  int64_t rows = numel(Shape(x.shape().begin(), x.shape().end() - 1));
  Shape out_shape = x.shape();
  out_shape.back() = weight.shape()[0];
  Tensor y = empty(out_shape, x.dtype());
  PMX_DISPATCH_FLOATING(x.dtype(), "linear", [&] { linear_forward<scalar_t>(y, x, w, b, rows); });
  return record("linear", y, {x, w, b}, [x, w, b, rows](const Tensor& g) {
    bool need_x = x.requires_grad(), need_w = w.requires_grad(), need_b = b.defined() && b.requires_grad();
    std::vector<Tensor> grads(3);
    if (need_x) grads[0] = empty(x.shape(), x.dtype());
    if (need_w) grads[1] = empty(w.shape(), w.dtype());
    if (need_b) grads[2] = empty(b.shape(), b.dtype());
    PMX_DISPATCH_FLOATING(g.dtype(), "linear", [&] {
      linear_backward<scalar_t>(grads, g, x, w, need_x, need_w, need_b, rows);
    });
    return grads;
  });
}

}  // namespace pmx
