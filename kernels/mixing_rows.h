// Internal to the mixing kernels (kernels/mixing.cpp and kernels/mixing_avx512.cpp): how a row
// kernel should treat memory. Hints never change the arithmetic, only stores and prefetches.
#pragma once

namespace pmx {
namespace kernels {
namespace detail {

struct RowHints {
  // Write full, 64-byte aligned lines with non-temporal stores (the caller checks alignment and
  // size and issues the sfence).
  bool stream = false;
  // > 0: the caller visits tiles down chains of this stride (see TilePlan in mixing.cpp), so
  // the next tile's new source rows are this many rows ahead of the current ones.
  long chain = 0;
};

// Defined in kernels/mixing_avx512.cpp (compiled for AVX-512F); same contracts as the AVX2
// row kernels in kernels/mixing.cpp.
void gather_rows_avx512(float* dst, const float* base, const float* src, const float* w,
                        const long* sh, long K, long N, long d, long i0, long i1,
                        bool w_at_src, const RowHints& hints);
void dot_rows_avx512(float* dw, const float* g, const float* v, const long* sh, long K, long N,
                     long d, long i0, long i1, const RowHints& hints);

}  // namespace detail
}  // namespace kernels
}  // namespace pmx
