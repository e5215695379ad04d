// Strided copy with type conversion: the one kernel behind contiguous(), slicing gradients,
// concat and dtype conversion.
//
// dst[index] = Dst(src[index]) for every index of `shape`, where each side addresses element
// (i0, i1, ...) at sum_k i_k * strides[k]. Rows along the last dim are the unit of work and
// are split across threads; each element is written by exactly one thread.
//
//   // x: (4, 3) viewed transposed as (3, 4) with strides (1, 3); write it densely:
//   strided_copy(out, dense_strides, x, x_strides, shape, 2);
#pragma once
#include <cstdint>

namespace pmx::kernels {

template <class Dst, class Src>
void strided_copy(Dst* dst, const int64_t* dst_strides, const Src* src, const int64_t* src_strides,
                  const int64_t* shape, int ndim) {
  int64_t inner = ndim ? shape[ndim - 1] : 1;
  int64_t ds = ndim ? dst_strides[ndim - 1] : 1, ss = ndim ? src_strides[ndim - 1] : 1;
  int64_t rows = 1;
  for (int k = 0; k + 1 < ndim; ++k) rows *= shape[k];
  if (inner == 0 || rows == 0) return;
#pragma omp parallel for schedule(static) if (rows * inner > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, doff = 0, soff = 0;
    for (int k = ndim - 2; k >= 0; --k) {
      int64_t i = rem % shape[k];
      rem /= shape[k];
      doff += i * dst_strides[k];
      soff += i * src_strides[k];
    }
    Dst* d = dst + doff;
    const Src* s = src + soff;
    if (ds == 1 && ss == 1) {
      for (int64_t j = 0; j < inner; ++j) d[j] = Dst(s[j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) d[j * ds] = Dst(s[j * ss]);
    }
  }
}

}  // namespace pmx::kernels
