// The CDIL gather on its lattice (internal to kernels/mixing.cpp; AVX2 + FMA, float).
//
// A CDIL factor's offsets are all multiples of its dilation s: row i reads rows i + c*s for
// c = -4 .. 4. So the R output rows i, i + s, ..., i + (R-1)s together read only R + 8 source
// rows (i - 4s .. i + (R+3)s), and each of those serves up to min(R, 9) of them. The generic
// gather (one row at a time, slot after slot) loads each source vector once per output row,
// 9 times in all; this one loads it once per block of R rows and keeps the R rows' sums in
// registers, so a source vector feeds several FMAs (R = 4: 12 source and 36 weight loads for
// 72 FMAs per half row, 0.67 loads per FMA, against 1.25 for the generic gather at d = 32).
// Where it pays (measured, see lattice_applies): while one sequence fits in L2. From L3/DRAM
// its 16 streams lose to the generic kernel's 10, so large N keeps the generic gather.
//
// The rows of a batch element are cut into groups of G = R*s consecutive rows; in group q,
// block u (0 <= u < s) holds rows q*G + u + r*s, r = 0 .. R-1. Blocks are numbered
// p = q*s + u. The rows after the last whole group (N mod G of them) are left to the generic
// kernels. Sums run over the source rows in lattice order (c = -4 .. 4), not slot order, so
// the bits differ from the generic gather's (both are fixed: no thread count changes them).
#pragma once

namespace pmx {
namespace kernels {
namespace detail {

// The CDIL lattice of one factor: offsets [0, s, 2s, 3s, 4s, -s, -2s, -3s, -4s] (K = 9),
// exactly as cdil_offsets() makes them; s = 0 when `offsets` is not that pattern.
long cdil_dilation(const long* offsets, long K);

// Rows per lattice block for row length d (fixed by d alone, so the split never depends on
// the thread count), and whether the lattice path applies: d >= 8, at least one whole group
// (R*s <= N), and one sequence small enough to stay in L2 (where the lattice measured faster).
int lattice_rows(long d);
bool lattice_applies(long s, long N, long d);

// Gather over blocks [p0, p1) of one batch element (see above for the numbering):
//   forward (w_at_src = false): dst[i] = base[i] + sum_c w[i, slot(c)] * src[i + c*s]
//   dV      (w_at_src = true):  dst[j] = base[j] + sum_c w[j - c*s, slot(c)] * src[j - c*s]
// All row indices mod N. dst, base, src: (N, d); w: (N, 9).
void gather_lattice_avx2(float* dst, const float* base, const float* src, const float* w,
                         long s, long N, long d, long p0, long p1, bool w_at_src);

}  // namespace detail
}  // namespace kernels
}  // namespace pmx
