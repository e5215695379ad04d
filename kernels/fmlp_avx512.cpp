// AVX-512F twin of fmlp_small_gemm's float micro-kernel (kernels/fmlp.cpp), chosen there at run
// time when the CPU has AVX-512F. Same contract and the same arithmetic per element: the
// initial value (0 or C, then + bias), then one FMA per k in order. So the bits are those of the
// AVX2 path (tests/test_fmlp.cpp checks that); only the tile is wider: 12 rows x 32 columns
// (24 zmm accumulators) instead of 6 x 16, so each broadcast of A feeds 2 x 16 lanes and each
// load of B feeds 12 rows.
//
// Why: on a core with two 512-bit FMA pipes the AVX2 kernel can use at most half of them; the
// f-MLP GEMMs are the largest share of a Paramixer training step (docs/PERFORMANCE.md).
// Measured on such a core (2-vCPU EPYC, one thread): 64 x 32 x 32 GEMM 205 against 118 GFLOP/s,
// 64 x 11 x 32 (the second layer, K = 11) 107 against 36; the adding model's training step
// (B = 16, d = h = 32, L = 1) 24.8-25.3 against 31.7-33.2 ms at N = 1024 (CHORD) and
// 114-116 against 146-148 ms at N = 4096 (CDIL).
//
// Compiled with the library's baseline flags (AVX2); the pragma below switches code generation
// to AVX-512F for everything after it. All headers come before it (as in mixing_avx512.cpp).
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f")
// GCC 12 warns about the deliberately undefined pass-through operand inside its own AVX-512
// intrinsics (_mm512_undefined_ps); the warning is about the header, not this code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace pmx {
namespace kernels {
namespace detail {
namespace {

constexpr long kRows = 12;  // rows per tile

inline __mmask16 lanes(long n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// One tile: MR rows x NV vectors of 16 columns (lanes masked by m0, m1) of C; the accumulators
// stay in registers over the whole k loop, B is read in place, A is broadcast. AR > 0 is A's row
// stride as a compile-time constant (the common 1 and 32): the MR broadcasts are then immediate
// offsets from one pointer, where a run-time stride makes GCC keep MR pointers, some of them
// spilled to the stack and reloaded in the loop.
template <int MR, int NV, long AR>
inline void tile(float* c, long ldc, const float* a, long a_row, long a_col, const float* b,
                 long ldb, const float* bias, __mmask16 m0, __mmask16 m1, long k, bool accumulate) {
  __m512 acc[MR][NV];
  // (Full unrolling keeps the accumulators in registers; without it GCC 12 spills them.)
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = v == 0 ? m0 : m1;
      const __m512 init = accumulate ? _mm512_maskz_loadu_ps(m, c + r * ldc + 16 * v) : _mm512_setzero_ps();
      acc[r][v] = bias ? _mm512_add_ps(init, _mm512_maskz_loadu_ps(m, bias + 16 * v)) : init;
    }
  for (long p = 0; p < k; ++p) {
    const float* bp = b + p * ldb;
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, bp);
    const __m512 b1 = NV > 1 ? _mm512_maskz_loadu_ps(m1, bp + 16) : b0;
    const float* ap = a + p * a_col;
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(ap[r * (AR > 0 ? AR : a_row)]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      if (NV > 1) acc[r][NV - 1] = _mm512_fmadd_ps(av, b1, acc[r][NV - 1]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, acc[r][0]);
    if (NV > 1) _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc[r][NV - 1]);
  }
}

template <int NV, long AR>
void tile_rows(long mr, float* c, long ldc, const float* a, long a_row, long a_col, const float* b,
               long ldb, const float* bias, __mmask16 m0, __mmask16 m1, long k, bool accumulate) {
  switch (mr) {
#define PMX_CASE(MR) \
  case MR: return tile<MR, NV, AR>(c, ldc, a, a_row, a_col, b, ldb, bias, m0, m1, k, accumulate);
    PMX_CASE(12) PMX_CASE(11) PMX_CASE(10) PMX_CASE(9) PMX_CASE(8) PMX_CASE(7)
    PMX_CASE(6) PMX_CASE(5) PMX_CASE(4) PMX_CASE(3) PMX_CASE(2) PMX_CASE(1)
#undef PMX_CASE
    default: return;
  }
}

// A's row stride as a template argument where it is one of the common ones: 1 (A read
// transposed) and 32 (d or h of 32, the Paramixer default); any other stays a run-time value.
template <int NV>
void tile_rows_by_stride(long mr, float* c, long ldc, const float* a, long a_row, long a_col,
                         const float* b, long ldb, const float* bias, __mmask16 m0, __mmask16 m1,
                         long k, bool accumulate) {
  if (a_row == 1) return tile_rows<NV, 1>(mr, c, ldc, a, a_row, a_col, b, ldb, bias, m0, m1, k, accumulate);
  if (a_row == 32) return tile_rows<NV, 32>(mr, c, ldc, a, a_row, a_col, b, ldb, bias, m0, m1, k, accumulate);
  tile_rows<NV, 0>(mr, c, ldc, a, a_row, a_col, b, ldb, bias, m0, m1, k, accumulate);
}

}  // namespace

void fmlp_small_gemm_avx512(float* c, long ldc, const float* a, long a_row, long a_col,
                            const float* b, long ldb, const float* bias, long rows, long n, long k,
                            bool accumulate) {
  // Column blocks outside: one (k, 32) block of B stays in L1 while all row tiles read it.
  for (long j0 = 0; j0 < n; j0 += 32) {
    const long w = n - j0 < 32 ? n - j0 : 32;
    const __mmask16 m0 = lanes(w), m1 = lanes(w > 16 ? w - 16 : 0);
    const float* bias_j = bias ? bias + j0 : nullptr;
    for (long i0 = 0; i0 < rows; i0 += kRows) {
      const long mr = rows - i0 < kRows ? rows - i0 : kRows;
      float* ci = c + i0 * ldc + j0;
      const float* ai = a + i0 * a_row;
      if (w > 16)
        tile_rows_by_stride<2>(mr, ci, ldc, ai, a_row, a_col, b + j0, ldb, bias_j, m0, m1, k, accumulate);
      else
        tile_rows_by_stride<1>(mr, ci, ldc, ai, a_row, a_col, b + j0, ldb, bias_j, m0, m1, k, accumulate);
    }
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace pmx

#pragma GCC diagnostic pop
#pragma GCC pop_options
