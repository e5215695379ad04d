// Internal to the mixing kernels (kernels/mixing.cpp, kernels/mixing_avx2.cpp and
// kernels/mixing_avx512.cpp): the row kernels each ISA file provides, and how a row kernel
// should treat memory. Hints never change the arithmetic, only stores and prefetches.
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

// Row kernels, rows [i0, i1) of one batch element (see kernels/mixing.cpp for what they
// compute). gather: dst[i] = base[i] + sum_k w[r,k] src[(i + sh_k) mod N], r = i, or the source
// row when w_at_src. dots: dw[i,k] = <g[i], v[(i + sh_k) mod N]>. AVX2 in
// kernels/mixing_avx2.cpp; AVX-512 in kernels/mixing_avx512.cpp (compiled for AVX-512F).
void gather_rows_avx2(float* dst, const float* base, const float* src, const float* w,
                      const long* sh, long K, long N, long d, long i0, long i1, bool w_at_src,
                      const RowHints& hints);
void dot_rows_avx2(float* dw, const float* g, const float* v, const long* sh, long K, long N,
                   long d, long i0, long i1, const RowHints& hints);
void gather_rows_avx512(float* dst, const float* base, const float* src, const float* w,
                        const long* sh, long K, long N, long d, long i0, long i1,
                        bool w_at_src, const RowHints& hints);
void dot_rows_avx512(float* dw, const float* g, const float* v, const long* sh, long K, long N,
                     long d, long i0, long i1, const RowHints& hints);

// The one-gather backward, AVX2 and AVX-512 (same contracts, same cases): its row kernel (dV
// rows [i0, i1), i0 a multiple of 16, and those rows' dots into the slot-major scratch d_wt: K
// runs of N + 16 floats; sh_b[k] = -o_k mod N); and the move of the dots to their rows,
// d_w[i, k] = d_wt[k][(i + sh_f[k]) mod N] (every row's dots written first). Both handle
// exactly the K, N and d below: up to 16 slots fill one vector of dots per row (two with
// AVX2), and each common d has its own compiled row kernel.
inline bool one_gather_handles(long K, long N, long d) {
  return (d == 16 || d == 32 || d == 64) && K >= 1 && K <= 16 && N >= 16;
}
void one_gather_rows_avx2(float* d_v, float* d_wt, const float* d_out, const float* v,
                          const float* w, const long* sh_b, long K, long N, long d, long i0,
                          long i1, bool stream);
void move_dots_rows_avx2(float* d_w, const float* d_wt, const long* sh_f, long K, long N,
                         long i0, long i1, bool stream);
void one_gather_rows_avx512(float* d_v, float* d_wt, const float* d_out, const float* v,
                            const float* w, const long* sh_b, long K, long N, long d, long i0,
                            long i1, bool stream);
void move_dots_rows_avx512(float* d_w, const float* d_wt, const long* sh_f, long K, long N,
                           long i0, long i1, bool stream);

}  // namespace detail
}  // namespace kernels
}  // namespace pmx
