// Losses (see autograd/ops_loss.h): validation, the fused kernels of kernels/loss.h, and the
// gradient rules. Each loss returns a 0-d tensor of the input's dtype.
#include "autograd/ops_loss.h"

#include <vector>

#include "autograd/node.h"
#include "autograd/ops_shape.h"
#include "kernels/loss.h"

namespace pmx {

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index) {
  PMX_CHECK(logits.defined() && targets.defined(), "[cross_entropy] logits or targets is undefined");
  PMX_CHECK(is_floating(logits.dtype()), "[cross_entropy] logits must be floating, got ",
            dtype_name(logits.dtype()), " of shape ", shape_str(logits.shape()));
  PMX_CHECK(targets.dtype() == DType::Int64, "[cross_entropy] targets must be int64 class indices, got ",
            dtype_name(targets.dtype()), " of shape ", shape_str(targets.shape()));
  PMX_CHECK(logits.dim() >= 1 && logits.size(-1) > 0,
            "[cross_entropy] logits must be (..., C) with C > 0, got ", shape_str(logits.shape()));
  Shape expected(logits.shape().begin(), logits.shape().end() - 1);
  PMX_CHECK(targets.shape() == expected, "[cross_entropy] targets of shape ", shape_str(targets.shape()),
            " do not match logits of shape ", shape_str(logits.shape()), " (expected targets ",
            shape_str(expected), ")");
  const int64_t C = logits.size(-1), M = logits.numel() / C;

  Tensor tc = contiguous_untracked(targets);
  const int64_t* t = tc.data<int64_t>();
  int64_t count = 0;
  for (int64_t r = 0; r < M; ++r) {
    if (t[r] == ignore_index) continue;
    PMX_CHECK(t[r] >= 0 && t[r] < C, "[cross_entropy] target ", t[r], " at position ", r, " (index ",
              index_str(r, targets.shape()), " of targets ", shape_str(targets.shape()),
              ") is out of range for C = ", C, " classes");
    ++count;
  }

  Tensor lc = contiguous_untracked(logits);
  Tensor probs = empty({M, C}, logits.dtype());
  Tensor loss = empty({}, logits.dtype());
  PMX_DISPATCH_FLOATING(logits.dtype(), "cross_entropy", [&] {
    using T = scalar_t;
    auto row_loss = std::vector<T>(size_t(M));  // (M): small next to the (M, C) logits
    kernels::cross_entropy_forward(row_loss.data(), probs.data<T>(), lc.data<T>(), t, long(M), long(C),
                                   ignore_index);
    double total = 0;
    for (T v : row_loss) total += double(v);
    // All targets ignored: the mean over nothing is defined as 0 (and so is the gradient).
    loss.data<T>()[0] = count > 0 ? T(total / double(count)) : T(0);
  });
  return record("cross_entropy", loss, {logits, targets},
                [probs, tc, M, C, count, ignore_index, shape = logits.shape()](const Tensor& g) {
    Tensor d_logits = empty(shape, probs.dtype());  // (..., C), laid out as (M, C)
    const double scale = count > 0 ? g.item() / double(count) : 0.0;
    PMX_DISPATCH_FLOATING(probs.dtype(), "cross_entropy", [&] {
      kernels::cross_entropy_backward(d_logits.data<scalar_t>(), probs.data<scalar_t>(),
                                      tc.data<int64_t>(), long(M), long(C), ignore_index, scale);
    });
    return std::vector<Tensor>{d_logits, Tensor()};
  });
}

Tensor mse_loss(const Tensor& pred, const Tensor& target) {
  PMX_CHECK(pred.defined() && target.defined(), "[mse_loss] pred or target is undefined");
  PMX_CHECK(pred.shape() == target.shape(), "[mse_loss] pred of shape ", shape_str(pred.shape()),
            " and target of shape ", shape_str(target.shape()), " must have the same shape");
  PMX_CHECK(is_floating(pred.dtype()) && pred.dtype() == target.dtype(),
            "[mse_loss] pred and target must have the same floating dtype, got ",
            dtype_name(pred.dtype()), " and ", dtype_name(target.dtype()));
  const int64_t n = pred.numel();
  PMX_CHECK(n > 0, "[mse_loss] inputs are empty (shape ", shape_str(pred.shape()), "): the mean is undefined");
  Tensor pc = contiguous_untracked(pred), tc = contiguous_untracked(target);
  Tensor loss = empty({}, pred.dtype());
  PMX_DISPATCH_FLOATING(pred.dtype(), "mse_loss", [&] {
    auto parts = std::vector<double>(size_t(kernels::mse_num_blocks(long(n))));
    kernels::mse_block_sums(parts.data(), pc.data<scalar_t>(), tc.data<scalar_t>(), long(n));
    double total = 0;
    for (double v : parts) total += v;
    loss.data<scalar_t>()[0] = scalar_t(total / double(n));
  });
  const bool need_pred = pred.requires_grad(), need_target = target.requires_grad();
  return record("mse_loss", loss, {pred, target},
                [pc = pc.detach(), tc = tc.detach(), n, need_pred, need_target](const Tensor& g) {
    const double scale = 2.0 * g.item() / double(n);
    Tensor dp = need_pred ? empty(pc.shape(), pc.dtype()) : Tensor();
    Tensor dt = need_target ? empty(pc.shape(), pc.dtype()) : Tensor();
    PMX_DISPATCH_FLOATING(pc.dtype(), "mse_loss", [&] {
      using T = scalar_t;
      kernels::mse_backward(dp.defined() ? dp.data<T>() : nullptr, dt.defined() ? dt.data<T>() : nullptr,
                            pc.data<T>(), tc.data<T>(), long(n), scale);
    });
    return std::vector<Tensor>{dp, dt};
  });
}

}  // namespace pmx
