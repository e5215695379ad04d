// The CDIL gather on its lattice (see kernels/mixing_lattice.h for the idea and the numbering).
#include "kernels/mixing_lattice.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace pmx {
namespace kernels {
namespace detail {

long cdil_dilation(const long* offsets, long K) {
  if (K != 9) return 0;
  const long s = offsets[1];
  if (s <= 0) return 0;
  const long want[9] = {0, s, 2 * s, 3 * s, 4 * s, -s, -2 * s, -3 * s, -4 * s};
  for (long k = 0; k < 9; ++k)
    if (offsets[k] != want[k]) return 0;
  return s;
}

int lattice_rows(long d) {
  // R rows x C = 2 vectors of accumulators, C source vectors and one weight: 11 of the 16 ymm
  // registers at R = 4. (Measured on a Zen 3 core, in L1: R = 4 x C = 2 and R = 6 x 2 reach
  // ~70 % of the FMA peak, R = 2 x 4 ~50 %, the generic one-row-at-a-time gather ~43 %.)
  return d >= 16 ? 4 : 8;
}

bool lattice_applies(long s, long N, long d) {
  // Only while one sequence's (N, d) rows fit in half an L2 (256 KiB: N <= 2048 at d = 32).
  // Measured with bench_mixing --lattice=0/1 (1 thread, Zen 3, CDIL fwd+bwd): at N = 1024 and
  // 2048 the lattice is 5-20 % faster (the backward gains, the forward ties); at N = 4096 and
  // 32768 it is 10-30 % slower, because its R + 8 source and R output streams, s rows apart,
  // then come from L3/DRAM, and more streams than the generic kernel's 10 defeat the prefetchers.
  const bool fits_l2 = N * d * long(sizeof(float)) <= (256L << 10);
  return s > 0 && d >= 8 && lattice_rows(d) * s <= N && fits_l2;
}

namespace {

// Slot of lattice step c (index c + 4): the forward reads row i + c*s through slot kSlotF[c+4]
// (offsets 0, s, 2s, 3s, 4s, -s, -2s, -3s, -4s are slots 0..8); dV reads row j + c*s, i.e.
// offset -c*s, through kSlotB[c+4].
constexpr int kSlotF[9] = {8, 7, 6, 5, 0, 1, 2, 3, 4};
constexpr int kSlotB[9] = {4, 3, 2, 1, 0, 5, 6, 7, 8};

// A run of `count` blocks `step` rows apart, columns [c0, c0 + 8C): block x has output rows
// i0 + x*step + r*s (r < R) and source rows j[t] + x*step (t < R + 8), where
// j[t] = i0 + (t - 4)*s mod N and no j[t] + x*step reaches N inside the run; output row r takes
// sources t = r .. r + 8 (c = t - r - 4). Contig: no source row wraps at all
// (j[t] = i0 + (t - 4)*s), so the unrolled body steps one pointer by s rows; otherwise it reads
// the R + 8 row pointers from a table. All pointers step by `step` rows per block.
template <int R, int C, bool WAtSrc, bool Contig>
void lattice_run(float* dst, const float* base, const float* src, const float* w, long i0,
                 const long* j, long count, long step, long s, long d, long c0) {
  const long sd = s * d, sw = s * 9;
  const float* sp[R + 8];  // source row t of block 0, at column c0
  const float* ws[R + 8];  // its weight row (dV)
  for (int t = 0; t < R + 8; ++t) {
    sp[t] = src + j[t] * d + c0;
    ws[t] = w + j[t] * 9;
  }
  const float* s0 = sp[0];
  const float* w0 = WAtSrc ? ws[0] : w + i0 * 9;
  float* out = dst + i0 * d + c0;
  const float* in = base + i0 * d + c0;
  const long step_d = step * d;
  for (long x = 0; x < count; ++x, out += step_d, in += step_d) {
    const long xd = x * step_d, xw = x * step * 9;
    __m256 acc[R][C];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_loadu_ps(in + r * sd + 8 * c);
#pragma GCC unroll 16
    for (int t = 0; t < R + 8; ++t) {
      const float* st = (Contig ? s0 + t * sd : sp[t]) + xd;
      const float* wt = WAtSrc ? (Contig ? w0 + t * sw : ws[t]) + xw : nullptr;
      __m256 sv[C];
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) sv[c] = _mm256_loadu_ps(st + 8 * c);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        if (t - r < 0 || t - r > 8) continue;  // folded away once the loops are unrolled
        const __m256 wv = _mm256_broadcast_ss(WAtSrc ? wt + kSlotB[t - r]
                                                     : w0 + xw + r * sw + kSlotF[t - r]);
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(wv, sv[c], acc[r][c]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + r * sd + 8 * c, acc[r][c]);
  }
}

// Columns [c0, d) that do not fill a vector: scalar FMA, same lattice order.
template <int R, bool WAtSrc>
void lattice_run_tail(float* dst, const float* base, const float* src, const float* w, long i0,
                      const long* j, long count, long step, long s, long d, long c0) {
  for (long x = 0; x < count; ++x)
    for (int r = 0; r < R; ++r) {
      const long i = i0 + x * step + r * s;
      for (long c = c0; c < d; ++c) {
        float acc = base[i * d + c];
        for (int t = r; t < r + 9; ++t) {
          const long jt = j[t] + x * step;
          const float wt = WAtSrc ? w[jt * 9 + kSlotB[t - r]] : w[i * 9 + kSlotF[t - r]];
          acc = std::fma(wt, src[jt * d + c], acc);
        }
        dst[i * d + c] = acc;
      }
    }
}

template <int R, bool WAtSrc, bool Contig>
void lattice_run_all_columns(float* dst, const float* base, const float* src, const float* w,
                             long i0, const long* j, long count, long step, long s, long d) {
  const long nv = d / 8;
  long v = 0;
  for (; v + 2 <= nv; v += 2)
    lattice_run<R, 2, WAtSrc, Contig>(dst, base, src, w, i0, j, count, step, s, d, 8 * v);
  if (v < nv)
    lattice_run<R, 1, WAtSrc, Contig>(dst, base, src, w, i0, j, count, step, s, d, 8 * v);
  if (d % 8) lattice_run_tail<R, WAtSrc>(dst, base, src, w, i0, j, count, step, s, d, 8 * nv);
}

// Blocks with first rows i0, i0 + step, ... (count of them): split into runs where no source
// row wraps around N, each handed to the run kernels above.
template <int R, bool WAtSrc>
void lattice_blocks(float* dst, const float* base, const float* src, const float* w, long i0,
                    long count, long step, long s, long N, long d) {
  while (count > 0) {
    long run = count, j[R + 8];
    bool contig = true;
    for (int t = 0; t < R + 8; ++t) {
      long x = i0 + (t - 4) * s;  // in [-N, 3N): R*s <= N
      contig &= x >= 0 && x < N;
      while (x < 0) x += N;
      while (x >= N) x -= N;
      j[t] = x;
      run = std::min(run, (N - x + step - 1) / step);  // blocks before this source wraps
    }
    if (contig)
      lattice_run_all_columns<R, WAtSrc, true>(dst, base, src, w, i0, j, run, step, s, d);
    else
      lattice_run_all_columns<R, WAtSrc, false>(dst, base, src, w, i0, j, run, step, s, d);
    i0 += run * step;
    count -= run;
  }
}

template <int R, bool WAtSrc>
void gather_lattice_t(float* dst, const float* base, const float* src, const float* w, long s,
                      long N, long d, long p0, long p1) {
  const long G = R * s;
  if (p0 % s == 0 && p1 % s == 0 && p1 / s - p0 / s > s) {
    // Whole groups q0 .. q1 - 1, more of them than blocks per group (small dilations): for
    // each u, the blocks of all groups are G rows apart, one long run instead of many short.
    const long q0 = p0 / s, q1 = p1 / s;
    for (long u = 0; u < s; ++u)
      lattice_blocks<R, WAtSrc>(dst, base, src, w, q0 * G + u, q1 - q0, G, s, N, d);
    return;
  }
  for (long p = p0; p < p1;) {
    // Blocks p .. end - 1 lie in one group, with consecutive first rows.
    const long q = p / s, u = p % s, end = std::min(p1, (q + 1) * s);
    lattice_blocks<R, WAtSrc>(dst, base, src, w, q * G + u, end - p, 1, s, N, d);
    p = end;
  }
}

template <int R>
void gather_lattice_r(float* dst, const float* base, const float* src, const float* w, long s,
                      long N, long d, long p0, long p1, bool w_at_src) {
  if (w_at_src)
    gather_lattice_t<R, true>(dst, base, src, w, s, N, d, p0, p1);
  else
    gather_lattice_t<R, false>(dst, base, src, w, s, N, d, p0, p1);
}

}  // namespace

void gather_lattice_avx2(float* dst, const float* base, const float* src, const float* w,
                         long s, long N, long d, long p0, long p1, bool w_at_src) {
  switch (lattice_rows(d)) {
    case 4: return gather_lattice_r<4>(dst, base, src, w, s, N, d, p0, p1, w_at_src);
    default: return gather_lattice_r<8>(dst, base, src, w, s, N, d, p0, p1, w_at_src);
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace pmx
