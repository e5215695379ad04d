// Reduction kernels over one axis of a contiguous tensor viewed as (outer, R, inner):
//
//   sum_forward:   out[o, i] = sum_r x[o, r, i]
//   max_forward:   out[o, i] = max_r x[o, r, i], idx[o, i] = the first r attaining it (NaN wins)
//   max_backward:  d_x[o, r, i] = d_out[o, i] if r == idx[o, i] else 0
//
// Any set of dims reduces to this form (the autograd layer merges adjacent dims); a full sum is
// (1, n, 1), a bias gradient (M, n) -> (n) is (1, M, n), a row sum (M, n) -> (M) is (M, n, 1).
//
// Determinism: every output's summation order is fixed by the sizes alone, never by the thread
// count. Sums accumulate in double (for float too: it costs nothing on a memory-bound loop).
// An inner == 1 row is cut into at most 64 chunks of at least 4096 elements, each summed with 8
// interleaved accumulators, then the chunk sums added in order; so a full sum over 10^8 values
// still uses both cores and still gives the same bits at 1 or 2 threads. Column sums (inner > 1)
// give each task a tile of 64 columns and walk r in order; when there are too few tiles to
// share (a bias gradient (M, 64) -> (64)), R is also cut into at most 16 blocks whose partial
// sums are added in order (block sizes again depend on R only).
//
// Raw loops: no autograd, no allocation, no exceptions. Outputs are OVERWRITTEN.
//
//   kernels::sum_forward(d_bias, d_y, 1, M, n);            // column sums: (M, n) -> (n)
//   kernels::max_forward(vals, idx, logits, B, C, 1);      // row max and argmax: (B, C) -> (B)
#pragma once
#include <cstdint>

namespace pmx {
namespace kernels {

// out: (outer, inner).  x: (outer, R, inner).  R may be 0 (sums are 0).
template <class T>
void sum_forward(T* out, const T* x, long outer, long R, long inner);

// out: (outer, inner) or nullptr (argmax only).  idx: (outer, inner).  x: (outer, R, inner).
// R must be >= 1.
template <class T>
void max_forward(T* out, int64_t* idx, const T* x, long outer, long R, long inner);

// d_x: (outer, R, inner), overwritten.  d_out, idx: (outer, inner).
template <class T>
void max_backward(T* d_x, const T* d_out, const int64_t* idx, long outer, long R, long inner);

// Reference twins: the obvious single-threaded loops (sums accumulate in double, in r order).
template <class T>
void sum_forward_naive(T* out, const T* x, long outer, long R, long inner);
template <class T>
void max_forward_naive(T* out, int64_t* idx, const T* x, long outer, long R, long inner);
template <class T>
void max_backward_naive(T* d_x, const T* d_out, const int64_t* idx, long outer, long R,
                        long inner);

}  // namespace kernels
}  // namespace pmx
