#include "core/threads.h"

#include <omp.h>

#include "core/error.h"

// The one place outside kernels/blas that names OpenBLAS: its thread setter is not part of
// the CBLAS interface, so it is declared here rather than pulling <cblas.h> into core/.
extern "C" void openblas_set_num_threads(int num_threads);

namespace pmx {

void set_num_threads(int n) {
  PMX_CHECK(n >= 1, "[set_num_threads] thread count must be >= 1, got ", n);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

}  // namespace pmx
