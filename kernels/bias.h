// Bias helpers for the fused Linear: broadcast a bias into every row, and its gradient, the
// column sum of a (rows, cols) matrix.
//
// The column sum is deterministic at any thread count: rows are cut into fixed blocks of
// kBiasBlockRows, each block's partial sums are formed in row order, and the partials are
// added in block order.
//
//   fill_rows(y, bias, rows, out);          // y (rows, out) = bias (out) in every row
//   column_sum(d_bias, d_y, rows, out);     // d_bias (out) = sum over rows of d_y
#pragma once
#include <cstdint>

namespace pmx::kernels {

constexpr int64_t kBiasBlockRows = 512;

template <class T> void fill_rows(T* out, const T* row, int64_t rows, int64_t cols);
// out (cols) = sum_r in (rows, cols); overwrites out.
template <class T> void column_sum(T* out, const T* in, int64_t rows, int64_t cols);

template <class T> void column_sum_naive(T* out, const T* in, int64_t rows, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    double acc = 0;
    for (int64_t r = 0; r < rows; ++r) acc += in[r * cols + c];
    out[c] = T(acc);
  }
}

}  // namespace pmx::kernels
