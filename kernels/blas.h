// The only door to OpenBLAS: row-major GEMM for float and double, plus a naive twin.
//
//   C (M, N) = alpha * op(A) * op(B) + beta * C
//   op(A) is (M, K): A is stored (M, K) with row stride lda, or (K, M) when trans_a.
//   op(B) is (K, N): B is stored (K, N) with row stride ldb, or (N, K) when trans_b.
//
//   // y (rows, out) = x (rows, in) * w^T, w stored (out, in) as in PyTorch:
//   gemm(false, true, rows, out, in, 1.f, x, in, w, in, 0.f, y, out);
//
// Outside an OpenMP parallel region, the skinny shapes of dense layers (many rows and narrow
// operands, or a long inner size and a small C) are split by pmx into pieces fixed by the shape,
// one single-threaded OpenBLAS call each, run side by side (blas.cpp says why); their bits do not
// depend on the thread count. Small products (M N K < 2^22) run as one OpenBLAS call on the
// calling thread, whatever the thread count (its own threads cost more than they save there);
// other shapes go to OpenBLAS in one call, threaded by it. Inside a parallel region, call gemm
// only when gemm_serial_inside_parallel() says so (see there).
#pragma once
#include <cstdint>

namespace pmx::kernels {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc);

// True when gemm may be called from inside an OpenMP parallel region, where it then runs on
// the calling thread alone: OpenBLAS's OpenMP build (the one .ci/install-deps installs) checks
// omp_in_parallel() for that, and a sequential build never threads. A pthreads build would start
// its own threads under every caller's, so ops keep their GEMMs out of parallel regions then.
bool gemm_serial_inside_parallel();

// Threads with which to run `jobs` independent gemm calls side by side, each whole on one thread
// inside one parallel region (so each is single-threaded and its bits do not depend on the
// thread count): all of them when there is a job for each, the BLAS runs serially inside the
// region and no region is active yet; otherwise 1 (the jobs then run one after another, each
// threaded by OpenBLAS). Used by attention's (batch, head) slices and batched matmul.
int gemm_side_by_side_threads(int64_t jobs);

// OpenBLAS's name for the kernels it chose for this CPU (openblas_get_corename()): "SkylakeX",
// "Haswell", "Zen", ..., or "Prescott", its SSE3 fallback for a CPU it does not know. OpenBLAS
// 0.3.21 (Debian 12) does not know the 2-vCPU Xeon these docs measure on (model 207), so there
// its GEMMs run without AVX or FMA unless OPENBLAS_CORETYPE (read when the library loads) names
// a core.
const char* blas_core_name();

// The vector width of those kernels' FMAs: 512 for the AVX-512 cores (SkylakeX, Cooperlake,
// SapphireRapids), 256 for the AVX2 ones (Haswell, Zen), 0 for the others, which have no FMA
// (Prescott, Sandybridge, ...). Attention's own kernels take more head sizes against narrower ones.
int blas_fma_bits();

// Triple loop with the same contract; the reference the tests compare gemm against.
template <class T>
void gemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) {
        T a = trans_a ? A[k * lda + i] : A[i * lda + k];
        T b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        acc += double(a) * double(b);
      }
      C[i * ldc + j] = T(alpha * acc + (beta == T(0) ? 0.0 : double(beta) * C[i * ldc + j]));
    }
}

}  // namespace pmx::kernels
