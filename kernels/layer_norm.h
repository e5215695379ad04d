// Layer normalisation over the last dim, and its gradients.
//
//   mean_r = (1/D) sum_j x[r,j]          var_r = (1/D) sum_j (x[r,j] - mean_r)^2   (biased)
//   rstd_r = 1 / sqrt(var_r + eps)       xhat[r,j] = (x[r,j] - mean_r) * rstd_r
//   out[r,j] = xhat[r,j] * weight[j] + bias[j]        (weight = 1, bias = 0 when absent)
// Backward, with g[r,j] = d_out[r,j] * weight[j]:
//   d_x[r,j]    = rstd_r * (g[r,j] - mean_j(g[r,:]) - xhat[r,j] * mean_j(g[r,:] * xhat[r,:]))
//   d_weight[j] = sum_r d_out[r,j] * xhat[r,j]         d_bias[j] = sum_r d_out[r,j]
//
// The variance is computed in two passes (mean first) so rows with a large mean do not lose
// precision. d_x is split by rows across threads; d_weight and d_bias sum over rows, so they are
// split by columns instead (each thread owns a range of j and walks all rows in order): no
// per-thread partial sums whose combination would depend on the thread count.
//
// Shapes (row-major, contiguous): x, out, d_out, d_x: (rows, D); weight, bias, d_weight, d_bias:
// (D); mean, rstd: (rows).
//
//   pmx::kernels::layer_norm_forward(out, mean, rstd, x, gamma, beta, rows, D, 1e-5);
//   pmx::kernels::layer_norm_backward(d_x, d_gamma, d_beta, d_out, x, gamma, mean, rstd, rows, D);
//   // outputs are OVERWRITTEN; weight/bias may be nullptr (no affine), and so may any d_*.
//
// No validation, allocation or exceptions. The *_naive twins are the formulas as plain loops.
#pragma once

namespace pmx {
namespace kernels {

// out: (rows, D).  mean, rstd: (rows), saved for the backward.  x: (rows, D).
// weight, bias: (D) or nullptr.
template <class T>
void layer_norm_forward(T* out, T* mean, T* rstd, const T* x, const T* weight, const T* bias,
                        long rows, long D, double eps);

// d_x: (rows, D).  d_weight, d_bias: (D).  Each OVERWRITTEN, or skipped when nullptr.
// d_out, x: (rows, D).  weight: (D) or nullptr.  mean, rstd: (rows) from the forward.
template <class T>
void layer_norm_backward(T* d_x, T* d_weight, T* d_bias, const T* d_out, const T* x,
                         const T* weight, const T* mean, const T* rstd, long rows, long D);

template <class T>
void layer_norm_forward_naive(T* out, T* mean, T* rstd, const T* x, const T* weight,
                              const T* bias, long rows, long D, double eps);
template <class T>
void layer_norm_backward_naive(T* d_x, T* d_weight, T* d_bias, const T* d_out, const T* x,
                               const T* weight, const T* mean, const T* rstd, long rows, long D);

}  // namespace kernels
}  // namespace pmx
