// Embedding lookup (row gather) and its gradient (row scatter-add).
//
//   forward:   out[i, :] = weight[ids[i], :]
//   backward:  d_weight[v, :] = sum over i with ids[i] == v (and v != padding_idx) of d_out[i, :]
//
// The backward is a scatter with collisions (a token appears many times), so threads must not
// split the ids: each thread owns a range of the d columns (64-byte chunks, so threads never
// share a cache line) and scans every id in order. Every d_weight element is then summed by one
// thread in id order: deterministic at any thread count, no atomics, and balanced even when the
// vocabulary is tiny (V = 6 or 256) and the ids are many (B * N = 16 * 32768).
//
// Shapes (row-major, contiguous): weight, d_weight: (V, d); ids: (n); out, d_out: (n, d).
// ids must already be validated (0 <= ids[i] < V); the kernels do not check.
//
//   pmx::kernels::embedding_forward(out, weight, ids, n, d);
//   pmx::kernels::embedding_backward(d_weight, d_out, ids, n, V, d, /*padding_idx=*/0);
//   // d_weight is OVERWRITTEN; padding_idx < 0 means no padding row.
//
// No validation, allocation or exceptions. The *_naive twins are the formulas as plain loops.
#pragma once
#include <cstdint>

namespace pmx {
namespace kernels {

// out: (n, d).  weight: (V, d).  ids: (n).
template <class T>
void embedding_forward(T* out, const T* weight, const int64_t* ids, long n, long d);

// d_weight: (V, d), OVERWRITTEN (the padding row and unused rows become 0).
// d_out: (n, d).  ids: (n).
template <class T>
void embedding_backward(T* d_weight, const T* d_out, const int64_t* ids, long n, long V, long d,
                        long padding_idx);

template <class T>
void embedding_forward_naive(T* out, const T* weight, const int64_t* ids, long n, long d);
template <class T>
void embedding_backward_naive(T* d_weight, const T* d_out, const int64_t* ids, long n, long V,
                              long d, long padding_idx);

}  // namespace kernels
}  // namespace pmx
