#include "kernels/bias.h"

#include <cstring>
#include <vector>

namespace pmx::kernels {

template <class T> void fill_rows(T* out, const T* row, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t r = 0; r < rows; ++r) std::memcpy(out + r * cols, row, sizeof(T) * cols);
}

template <class T> void column_sum(T* out, const T* in, int64_t rows, int64_t cols) {
  int64_t blocks = (rows + kBiasBlockRows - 1) / kBiasBlockRows;
  // partial: (blocks, cols); accumulated in T within a block (512 rows), in double across blocks.
  std::vector<T> partial(size_t(blocks * cols), T(0));
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
  for (int64_t b = 0; b < blocks; ++b) {
    T* acc = partial.data() + b * cols;
    int64_t end = std::min(rows, (b + 1) * kBiasBlockRows);
    for (int64_t r = b * kBiasBlockRows; r < end; ++r) {
      const T* x = in + r * cols;
      for (int64_t c = 0; c < cols; ++c) acc[c] += x[c];
    }
  }
  for (int64_t c = 0; c < cols; ++c) {
    double total = 0;
    for (int64_t b = 0; b < blocks; ++b) total += partial[b * cols + c];
    out[c] = T(total);
  }
}

template void fill_rows<float>(float*, const float*, int64_t, int64_t);
template void fill_rows<double>(double*, const double*, int64_t, int64_t);
template void column_sum<float>(float*, const float*, int64_t, int64_t);
template void column_sum<double>(double*, const double*, int64_t, int64_t);

}  // namespace pmx::kernels
