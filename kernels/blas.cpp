#include "kernels/blas.h"

#include <cblas.h>
#include <omp.h>

#include <cctype>
#include <string>
#include <vector>

namespace pmx::kernels {

namespace {

CBLAS_TRANSPOSE op(bool t) { return t ? CblasTrans : CblasNoTrans; }

void call(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta,
              C, int(ldc));
}
void call(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta,
              C, int(ldc));
}

// Rows of C per block when pmx splits a product into row blocks, from M alone (never from the
// thread count): about 8 blocks of a multiple of 16 rows. (16 blocks cost 3-8 % on one thread.)
int64_t block_rows(int64_t M) { return (M / 8 + 15) / 16 * 16; }

// Products pmx splits itself, inside one parallel region where every piece is one
// single-threaded OpenBLAS call: the shapes of every Linear layer (B N x 32 times 32 x 96, and
// its two gradients). OpenBLAS's own threads were no faster on 2 threads than on 1 at these
// shapes, often slower (docs/PERFORMANCE_LOG.md, twelfth session). The pieces are fixed by the
// shape, never by the thread count, so the bits do not depend on it.
//   tall (forward, input gradient): many rows of C, narrow operands: row blocks of C.
//   deep (weight gradient): a long inner dimension, a small C: the inner dimension is cut in
//   chunks, each chunk's product lands in its own buffer, and the buffers are added in order.
//   (Row blocks of a small C would pack the long operands once per block: 30-40 % slower.)
bool is_tall(int64_t M, int64_t N, int64_t K) { return M >= 2048 && N <= 512 && K <= 512; }
// Too small for two threads: OpenBLAS would thread it (it does from M N K > 262144), and at a few
// MFLOP the wake-up and its buffer bookkeeping cost more than the second thread saves (the
// attention step at N = 16-64, B = 16 ran slower on 2 threads than on 1).
bool is_small(int64_t M, int64_t N, int64_t K) { return M * N * K < (int64_t(1) << 22); }
bool is_deep(int64_t M, int64_t N, int64_t K) { return K >= 16384 && M * N <= 65536; }
bool may_split() { return !omp_in_parallel() && gemm_serial_inside_parallel(); }

// Inner-dimension chunks of a deep product, from K alone: one per 8192, at most 8.
int64_t deep_chunks(int64_t K) { return K / 8192 < 8 ? K / 8192 : 8; }

template <class T>
void gemm_tall(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
               const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const int64_t rows = block_rows(M), blocks = (M + rows - 1) / rows;
#pragma omp parallel for schedule(static)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t r0 = blk * rows, rb = M - r0 < rows ? M - r0 : rows;
    const T* a = trans_a ? A + r0 : A + r0 * lda;  // rows r0.. of op(A)
    call(trans_a, trans_b, rb, N, K, alpha, a, lda, B, ldb, beta, C + r0 * ldc, ldc);
  }
}

template <class T>
void gemm_deep(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
               const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const int64_t P = deep_chunks(K), MN = M * N;
  thread_local std::vector<T> partials;  // reused: a fresh buffer would page-fault every call
  if (partials.size() < size_t(P * MN)) partials.resize(size_t(P * MN));
  T* part = partials.data();
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < P; ++p) {
    const int64_t k0 = K * p / P, kb = K * (p + 1) / P - k0;
    const T* a = trans_a ? A + k0 * lda : A + k0;  // columns k0.. of op(A)
    const T* b = trans_b ? B + k0 : B + k0 * ldb;  // rows k0.. of op(B)
    call(trans_a, trans_b, M, N, kb, alpha, a, lda, b, ldb, T(0), part + p * MN, N);
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T sum = part[i * N + j];
      for (int64_t p = 1; p < P; ++p) sum += part[p * MN + i * N + j];
      T& c = C[i * ldc + j];
      c = beta == T(0) ? sum : beta * c + sum;  // beta = 0 never reads C (it may be uninitialised)
    }
}

// OpenBLAS's OpenMP build takes its thread count from omp_get_max_threads() at every call, so
// lowering it around one call keeps that product on the calling thread (other builds ignore it).
template <class T>
void call_on_one_thread(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                        int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  call(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  omp_set_num_threads(threads);
}

template <class T>
void gemm_any(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (is_tall(M, N, K) && may_split()) return gemm_tall(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (is_deep(M, N, K) && may_split()) return gemm_deep(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  if (is_small(M, N, K) && omp_get_max_threads() > 1 && !omp_in_parallel())
    return call_on_one_thread(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  call(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_any(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_any(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* blas_core_name() {
  static const std::string name = [] {
    const char* core = openblas_get_corename();
    return std::string(core ? core : "unknown");
  }();
  return name.c_str();
}

int blas_fma_bits() {
  static const int bits = [] {
    std::string core = blas_core_name();
    for (char& c : core) c = char(std::tolower(static_cast<unsigned char>(c)));
    for (const char* wide : {"skylakex", "cooperlake", "sapphirerapids"})
      if (core == wide) return 512;
    for (const char* avx2 : {"haswell", "zen"})
      if (core == avx2) return 256;
    return 0;
  }();
  return bits;
}

// OPENBLAS_SEQUENTIAL 0, OPENBLAS_THREAD 1 (pthreads), OPENBLAS_OPENMP 2.
bool gemm_serial_inside_parallel() {
  static const bool serial = openblas_get_parallel() != 1;
  return serial;
}

int gemm_side_by_side_threads(int64_t jobs) {
  const int threads = omp_get_max_threads();
  return threads > 1 && jobs >= threads && may_split() ? threads : 1;
}

}  // namespace pmx::kernels
