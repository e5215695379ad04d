// Softmax and log-softmax over one axis of a dense tensor, and their gradients.
//
// The tensor is viewed as (outer, L, inner) with the reduced axis in the middle: the last dim is
// inner = 1 (rows of length L, the fast path); a middle dim has inner > 1 and is reduced with
// stride `inner`. Numerically stable: the max of each slice is subtracted before exp.
//
//   softmax:      y_l = exp(x_l - m) / s,              m = max_l x_l, s = sum_l exp(x_l - m)
//   log_softmax:  y_l = x_l - m - log s
//   backward of softmax:      dx_l = y_l * (g_l - sum_k g_k y_k)
//   backward of log_softmax:  dx_l = g_l - exp(y_l) * sum_k g_k
//
// Every slice (one (o, j) pair) is reduced in a fixed order by one thread, so the bits do not
// depend on the thread count.
//
// Shapes (row-major, contiguous): x, y, d_y, d_x: (outer, L, inner).
//
//   // softmax over the last dim of a (B, N, C) tensor:
//   pmx::kernels::softmax_forward(y, x, B * N, C, 1);
//   // softmax over dim 1 of (B, N, C):
//   pmx::kernels::softmax_forward(y, x, B, N, C);
//   pmx::kernels::softmax_backward(d_x, d_y, y, B, N, C);   // OVERWRITES d_x
//
// No validation, allocation or exceptions; outputs may not alias inputs except y == x in the
// forward kernels (in-place is allowed there). The *_naive twins are the formulas as plain loops.
#pragma once

namespace pmx {
namespace kernels {

// y: (outer, L, inner).  x: (outer, L, inner).
template <class T>
void softmax_forward(T* y, const T* x, long outer, long L, long inner);
template <class T>
void log_softmax_forward(T* y, const T* x, long outer, long L, long inner);

// d_x: (outer, L, inner), OVERWRITTEN.  d_y, y: (outer, L, inner); y is the forward output.
template <class T>
void softmax_backward(T* d_x, const T* d_y, const T* y, long outer, long L, long inner);
template <class T>
void log_softmax_backward(T* d_x, const T* d_y, const T* y, long outer, long L, long inner);

template <class T>
void softmax_forward_naive(T* y, const T* x, long outer, long L, long inner);
template <class T>
void log_softmax_forward_naive(T* y, const T* x, long outer, long L, long inner);
template <class T>
void softmax_backward_naive(T* d_x, const T* d_y, const T* y, long outer, long L, long inner);
template <class T>
void log_softmax_backward_naive(T* d_x, const T* d_y, const T* y, long outer, long L, long inner);

}  // namespace kernels
}  // namespace pmx
