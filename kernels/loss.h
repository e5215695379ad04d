// Loss kernels: fused softmax cross-entropy, and mean squared error.
//
// Cross-entropy over M rows of C logits with integer targets t_r (rows with t_r == ignore_index
// are skipped; `count` is the number of the others):
//   p[r,:]      = softmax(logits[r,:])                      (saved for the backward)
//   row_loss[r] = log sum_c exp(logits[r,c]) - logits[r,t_r]   (0 on ignored rows)
//   loss        = sum_r row_loss[r] / count                  (summed by the caller, in order)
//   d_logits[r,c] = scale * (p[r,c] - [c == t_r])   on kept rows, 0 on ignored rows,
//                   with scale = d_loss / count.
// MSE over n elements:
//   loss = (1/n) sum_i (pred_i - target_i)^2
//   d_pred_i = scale * (pred_i - target_i),  d_target_i = -d_pred_i,  scale = 2 d_loss / n.
// mse_block_sums cuts the n elements into fixed blocks of kMseBlock (independent of the thread
// count), sums each block in order (in double), and the caller adds the block sums in order:
// parallel, yet the same bits at any thread count.
//
// Shapes (row-major, contiguous): logits, probs, d_logits: (M, C); targets, row_loss: (M);
// pred, target, d_pred, d_target: (n); block_sums: (mse_num_blocks(n)).
// Targets must already be validated (ignore_index or in [0, C)); the kernels do not check.
//
//   pmx::kernels::cross_entropy_forward(row_loss, probs, logits, targets, M, C, -100);
//   pmx::kernels::cross_entropy_backward(d_logits, probs, targets, M, C, -100, 1.0 / count);
//   std::vector<double> parts(pmx::kernels::mse_num_blocks(n));
//   pmx::kernels::mse_block_sums(parts.data(), pred, target, n);
//
// No validation, allocation or exceptions. The *_naive twins are the formulas as plain loops.
#pragma once
#include <cstdint>

namespace pmx {
namespace kernels {

constexpr long kMseBlock = 8192;
inline long mse_num_blocks(long n) { return (n + kMseBlock - 1) / kMseBlock; }

// row_loss: (M).  probs: (M, C).  logits: (M, C).  targets: (M).
template <class T>
void cross_entropy_forward(T* row_loss, T* probs, const T* logits, const int64_t* targets,
                           long M, long C, int64_t ignore_index);

// d_logits: (M, C), OVERWRITTEN.  probs: (M, C) from the forward.  targets: (M).
template <class T>
void cross_entropy_backward(T* d_logits, const T* probs, const int64_t* targets, long M, long C,
                            int64_t ignore_index, double scale);

// block_sums: (mse_num_blocks(n)), OVERWRITTEN.  pred, target: (n).
template <class T>
void mse_block_sums(double* block_sums, const T* pred, const T* target, long n);

// d_pred, d_target: (n), OVERWRITTEN; either may be nullptr.  pred, target: (n).
template <class T>
void mse_backward(T* d_pred, T* d_target, const T* pred, const T* target, long n, double scale);

template <class T>
void cross_entropy_forward_naive(T* row_loss, T* probs, const T* logits, const int64_t* targets,
                                 long M, long C, int64_t ignore_index);
template <class T>
void cross_entropy_backward_naive(T* d_logits, const T* probs, const int64_t* targets, long M,
                                  long C, int64_t ignore_index, double scale);
// The whole sum in one double accumulator (no blocks).
template <class T>
double mse_sum_naive(const T* pred, const T* target, long n);

}  // namespace kernels
}  // namespace pmx
