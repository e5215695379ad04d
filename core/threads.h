// Thread control: one call sets OpenMP and OpenBLAS together.
//
// pmx kernels parallelise with OpenMP and split work by explicit row ranges, so results do
// not depend on scheduling; dense products go to OpenBLAS. Both pools must agree, otherwise
// two BLAS threads and two OpenMP threads fight over two cores.
//
//   pmx::set_num_threads(2);
//   int n = pmx::get_num_threads();   // 2
#pragma once

namespace pmx {

// Sets the thread count for OpenMP regions and for OpenBLAS. n must be >= 1.
void set_num_threads(int n);

// The thread count set last (or the OpenMP default at start-up).
int get_num_threads();

// Rows [begin, end) that thread `ith` of `nth` owns when `rows` rows are split evenly.
// Used by kernels that partition work explicitly (ggml style) so results are reproducible.
inline void thread_range(long rows, int ith, int nth, long* begin, long* end) {
  long chunk = rows / nth, extra = rows % nth;
  *begin = ith * chunk + (ith < extra ? ith : extra);
  *end = *begin + chunk + (ith < extra ? 1 : 0);
}

}  // namespace pmx
