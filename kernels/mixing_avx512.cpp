// AVX-512F row kernels of the mixing step (float). Chosen at run time by kernels/mixing.cpp
// when the CPU has AVX-512F; see there for what "gather" and "dots" compute.
//
// This file is compiled with the library's baseline flags (AVX2); the pragma below switches
// code generation to AVX-512F for everything after it. All standard headers are included
// before the pragma and nothing after it is inline library code, so no AVX-512 copy of a
// shared inline function can leak into the rest of the program.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/mixing_rows.h"

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

// What to prefetch into L2, and how far ahead. The hardware prefetchers keep up with one or
// two streams but start too late with 9-16 interleaved ones, so the gather and the dots
// prefetch, per block, the rows of
//   - the lead slot: the one furthest ahead (largest shift up to N/2). In row order its rows
//     are new to the cache while the other slots mostly re-read rows the lead slot brought in;
//     in chain order (RowHints::chain) it is the only slot that reads new rows, and the next
//     tile's rows are one chain step ahead. (Measured at N = 32768, B = 16, d = 32, CDIL
//     forward per factor: dilation 8 and 16 went from 11.4 and 13.6 ms to 6.3 and 7.3 ms.)
//   - in row order, far slots: sources at least kFarFloats (256 KiB) ahead or behind, which
//     the L2 does not hold (yet, or any more). (~10 % on the forward at N = 32768.)
constexpr long kFarFloats = 1L << 16;
constexpr long kPrefetchBytes = 32L << 10;  // row order: prefetch distance

struct Prefetch {
  long lead = -1;     // slot index, or -1 for none
  long rows = 0;      // distance in rows
  bool far = false;   // also prefetch far slots
};

Prefetch plan_prefetch(const long* sh, long K, long N, long d, const RowHints& h) {
  Prefetch p;
  long best = 0;
  for (long k = 0; k < K; ++k)
    if (sh[k] <= N / 2 && sh[k] > best) best = sh[k], p.lead = k;
  // (Far slots exist only when N * d >= 2 * kFarFloats; then rows + R < N and one wrap of a
  // prefetched row suffices.)
  p.rows = h.chain > 0 ? h.chain : kPrefetchBytes / (4 * d);
  p.far = h.chain == 0;
  if (p.rows + 16 >= N) p.lead = -1, p.far = false;  // short sequences sit in cache anyway
  return p;
}

// Slots per row the wrap-point list of gather_rows_t holds: mixing.cpp passes K <= kMaxK = 128
// (larger K goes to the naive twin).
constexpr long kMaxCuts = 128;

// Mask of the first n (0..16) lanes.
inline __mmask16 lanes(long n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// R rows x C vectors of 16 columns starting at c0; the last vector is masked to `last` lanes
// when Masked. All R*C accumulators live in registers; the slot loop is outermost so each
// element's sum runs base + w_0 s_0 + w_1 s_1 + ... in slot order, whatever R, C and D are.
// D > 0 fixes d at compile time (row strides become immediates); D = 0 reads d at run time.
// KC > 0 fixes K likewise (the weight rows' stride). WAtSrc: the weight of slot k is taken from
// the source row (dV) instead of the output row.
// Contiguous: no slot's source rows wrap around N inside this block (checked by the caller),
// so the inner loop needs no per-row index arithmetic.
template <int R, int C, bool Masked, bool WAtSrc, long D, bool Contiguous, long KC>
inline void gather_block(float* dst, const float* base, const float* src, const float* w,
                         const long* sh, long K_rt, long N, long d_rt, long i0, long c0,
                         __mmask16 last, bool stream, const Prefetch& pf) {
  const long d = D > 0 ? D : d_rt;
  const long K = KC > 0 ? KC : K_rt;
  const long lead = pf.lead, ahead = pf.rows;  // locals: kept in registers across the stores
  const bool far = pf.far;
  auto load = [&](const float* p, int c) {
    return (Masked && c == C - 1) ? _mm512_maskz_loadu_ps(last, p + 16 * c)
                                  : _mm512_loadu_ps(p + 16 * c);
  };
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = load(base + (i0 + r) * d + c0, c);
  const float* w_out = w + i0 * K;  // weights of the output rows (forward)
  for (long k = 0; k < K; ++k) {
    long j0 = i0 + sh[k];
    if (j0 >= N) j0 -= N;
    if (k == lead || (far && std::min(sh[k], N - sh[k]) * d >= kFarFloats)) {
      for (int r = 0; r < R; ++r) {  // one prefetch per 64-byte vector of the R rows
        long jp = j0 + ahead + r;
        if (jp >= N) jp -= N;
        for (int c = 0; c < C; ++c)
          _mm_prefetch(reinterpret_cast<const char*>(src + jp * d + c0 + 16 * c), _MM_HINT_T1);
        // dV reads these slots' weights from their source rows too: new lines as well (CHORD
        // dV per factor at N = 32768, B = 16: 22-22.5 ms against 23.5-24.6 ms without).
        if (WAtSrc && c0 == 0)
          _mm_prefetch(reinterpret_cast<const char*>(w + jp * K + k), _MM_HINT_T1);
      }
    }
    if (Contiguous) {  // the R source rows are j0 .. j0+R-1, no wrap inside the block
      const float* s = src + j0 * d + c0;
      const float* wp = WAtSrc ? w + j0 * K + k : w_out + k;
      for (int r = 0; r < R; ++r) {
        const __m512 wv = _mm512_set1_ps(wp[r * K]);
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv, load(s + r * d, c), acc[r][c]);
      }
    } else {
      for (int r = 0; r < R; ++r) {
        long j = j0 + r;
        if (j >= N) j -= N;
        const __m512 wv = _mm512_set1_ps(w[(WAtSrc ? j : i0 + r) * K + k]);
        const float* s = src + j * d + c0;
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv, load(s, c), acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float* p = dst + (i0 + r) * d + c0 + 16 * c;
      if (Masked && c == C - 1)
        _mm512_mask_storeu_ps(p, last, acc[r][c]);
      else if (stream)  // aligned full line, and dst is too big to stay in cache anyway
        _mm512_stream_ps(p, acc[r][c]);
      else
        _mm512_storeu_ps(p, acc[r][c]);
    }
}

// Rows [i0, i1), all d columns: blocks of R rows, columns in chunks of up to 4 vectors.
template <int R, bool WAtSrc, long D, long KC>
void gather_rows_t(float* dst, const float* base, const float* src, const float* w,
                   const long* sh, long K, long N, long d_rt, long i0, long i1, bool stream,
                   const Prefetch& pf) {
  const long d = D > 0 ? D : d_rt;
  const long full = d / 64 * 64, rem = d - full, nv = (rem + 15) / 16;
  const __mmask16 last = lanes(rem - 16 * (nv - 1));
  const bool masked = rem % 16 != 0;
  auto block = [&](auto rows, auto contiguous, long i) {
    constexpr int RR = decltype(rows)::value;
    constexpr bool CT = decltype(contiguous)::value;
    for (long c0 = 0; c0 < full; c0 += 64)
      gather_block<RR, 4, false, WAtSrc, D, CT, KC>(dst, base, src, w, sh, K, N, d, i, c0, 0,
                                                    stream, pf);
#define PMX_CASE(C)                                                                        \
  case C:                                                                                  \
    if (masked)                                                                            \
      gather_block<RR, C, true, WAtSrc, D, CT, KC>(dst, base, src, w, sh, K, N, d, i, full, \
                                                   last, stream, pf);                      \
    else                                                                                   \
      gather_block<RR, C, false, WAtSrc, D, CT, KC>(dst, base, src, w, sh, K, N, d, i,     \
                                                    full, last, stream, pf);               \
    break;
    switch (nv) {
      PMX_CASE(1)
      PMX_CASE(2)
      PMX_CASE(3)
      PMX_CASE(4)
      default: break;
    }
#undef PMX_CASE
  };
  using Yes = std::true_type;
  using No = std::false_type;
  // A block [i, i + R) is contiguous (rows i .. i+R-1 shifted by sh[k] stay below N for every
  // k) unless some slot's wrap point N - sh[k] falls strictly inside it. Walking the sorted wrap
  // points of the range replaces a K-step test per block (3-6 % on the forward at d = 32).
  long cuts[kMaxCuts + 1], ncut = 0;
  for (long k = 0; k < K && ncut < kMaxCuts; ++k)
    if (sh[k] > 0 && N - sh[k] > i0 && N - sh[k] < i1) cuts[ncut++] = N - sh[k];
  std::sort(cuts, cuts + ncut);
  cuts[ncut] = N + R;  // sentinel: never inside a block
  const long* next = cuts;
  long i = i0;
  for (; i + R <= i1; i += R) {
    while (*next <= i) ++next;
    if (*next >= i + R)
      block(std::integral_constant<int, R>(), Yes(), i);
    else
      block(std::integral_constant<int, R>(), No(), i);
  }
  for (; i < i1; ++i) block(std::integral_constant<int, 1>(), Yes(), i);
}

template <bool WAtSrc>
void gather_rows_dispatch(float* dst, const float* base, const float* src, const float* w,
                          const long* sh, long K, long N, long d, long i0, long i1,
                          bool stream, const Prefetch& pf) {
  // R rows x C vectors = 8-12 independent accumulators, enough to hide the FMA latency;
  // common d get compile-time strides.
  switch (d) {
    case 16: return gather_rows_t<8, WAtSrc, 16, 0>(dst, base, src, w, sh, K, N, d, i0, i1, stream, pf);
    case 32:
      // The common K (CDIL 9, CHORD 9-16 for N = 129 .. 32768) as compile-time constants: the 8
      // rows' weights then sit at immediate offsets from one pointer, instead of 8 pointers of
      // which the compiler kept 4 on the stack and reloaded every slot (forward 6-13 % faster in
      // cache, 3-5 % at N = 32768, B = 16; dV up to 8 %).
      switch (K) {
#define PMX_CASE(KC) \
  case KC: return gather_rows_t<8, WAtSrc, 32, KC>(dst, base, src, w, sh, K, N, d, i0, i1, stream, pf);
        PMX_CASE(9) PMX_CASE(10) PMX_CASE(11) PMX_CASE(12) PMX_CASE(13) PMX_CASE(14) PMX_CASE(15)
        PMX_CASE(16)
#undef PMX_CASE
        default: return gather_rows_t<8, WAtSrc, 32, 0>(dst, base, src, w, sh, K, N, d, i0, i1, stream, pf);
      }
    case 64: return gather_rows_t<2, WAtSrc, 64, 0>(dst, base, src, w, sh, K, N, d, i0, i1, stream, pf);
    case 128: return gather_rows_t<2, WAtSrc, 128, 0>(dst, base, src, w, sh, K, N, d, i0, i1, stream, pf);
    default: break;
  }
  const long nv = (d + 15) / 16;
  if (nv <= 1) return gather_rows_t<8, WAtSrc, 0, 0>(dst, base, src, w, sh, K, N, d, i0, i1, stream, pf);
  if (nv <= 2) return gather_rows_t<4, WAtSrc, 0, 0>(dst, base, src, w, sh, K, N, d, i0, i1, stream, pf);
  if (nv <= 3) return gather_rows_t<3, WAtSrc, 0, 0>(dst, base, src, w, sh, K, N, d, i0, i1, stream, pf);
  return gather_rows_t<2, WAtSrc, 0, 0>(dst, base, src, w, sh, K, N, d, i0, i1, stream, pf);
}

// reduce16's transpose-and-add tree over 8 of its 16 vectors, up to the step where the two
// halves meet (reduce16_join): quarter q of the result holds 2 partial sums of a[q], then 2 of
// a[4 + q].
inline __m512 reduce8_half(const __m512* a) {
  __m512 l1[4], l2[2];
  for (int p = 0; p < 4; ++p)  // 256-bit halves: lanes 0-7 partials of a[2p], 8-15 of a[2p+1]
    l1[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                          _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  for (int p = 0; p < 2; ++p)  // 128-bit quarters: quarter q holds 4 partials of a[4p+q]
    l2[p] = _mm512_add_ps(_mm512_shuffle_f32x4(l1[2 * p], l1[2 * p + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_f32x4(l1[2 * p], l1[2 * p + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_ps(_mm512_shuffle_ps(l2[0], l2[1], _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm512_shuffle_ps(l2[0], l2[1], _MM_SHUFFLE(3, 2, 3, 2)));
}

// The tree's last step: the halves of a[0..7] and a[8..15] -> lane t = sum of a[t].
inline __m512 reduce16_join(__m512 lo, __m512 hi) {
  // Lane 4q + p of the sum holds the sum of a[4p + q]; permute to lane t = a[t].
  const __m512 s = _mm512_add_ps(_mm512_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(idx, s);
}

// Sum of each of 16 vectors as one vector (lane t = sum of a[t]): a transpose-and-add tree,
// 15 adds instead of 16 separate horizontal reductions.
inline __m512 reduce16(const __m512* a) {
  return reduce16_join(reduce8_half(a), reduce8_half(a + 8));
}

// dW for rows [i0, i1) and KN (1..16) slots starting at k0: per row, KN independent
// accumulator chains over the columns, one reduce16 and one masked store of KN contiguous
// values. Rows are walked in runs where no slot's source row wraps around N, so inside a run
// every source pointer is its run start plus the same row offset. The dots prefetch the lead
// slot's rows and the dOut rows, the two streams of new lines (CDIL dW per factor at N = 32768,
// B = 16: 104-108 ms over the 15 factors against 139 ms with neither; the lead alone made
// dilations 1-4 slower). Far slots are not prefetched: that cost more than it hid (5-10 %).
template <int KN, long D>
void dot_rows_t(float* dw, const float* g, const float* v, const long* sh, long K, long N,
                long d_rt, long i0, long i1, long k0, bool stream, const Prefetch& pf) {
  const long d = D > 0 ? D : d_rt;
  const long lead = (pf.lead >= k0 && pf.lead < k0 + KN) ? pf.lead - k0 : -1;
  const long full = d / 16 * 16;
  const __mmask16 tail = lanes(d - full), store = lanes(KN);
  long j[KN];
  for (int t = 0; t < KN; ++t) {
    j[t] = i0 + sh[k0 + t];
    if (j[t] >= N) j[t] -= N;
  }
  for (long i = i0; i < i1;) {
    long run = i1 - i;
    for (int t = 0; t < KN; ++t) run = std::min(run, N - j[t]);
    const float* s[KN];
    for (int t = 0; t < KN; ++t) s[t] = v + j[t] * d;
    for (long r = 0; r < run; ++r) {
      const float* gi = g + (i + r) * d;
      const long off = r * d;
      if (lead >= 0) {  // j + r < N and pf.rows < N: one wrap suffices
        long jp = j[lead] + r + pf.rows;
        if (jp >= N) jp -= N;
        for (long c = 0; c < d; c += 16)
          _mm_prefetch(reinterpret_cast<const char*>(v + jp * d + c), _MM_HINT_T1);
      }
      if (i + r + pf.rows < N)  // the dOut rows: new lines too
        for (long c = 0; c < d; c += 16)
          _mm_prefetch(reinterpret_cast<const char*>(gi + pf.rows * d + c), _MM_HINT_T1);
      __m512 acc[16];
      for (int t = 0; t < 16; ++t) acc[t] = _mm512_setzero_ps();
      for (long c = 0; c < full; c += 16) {
        const __m512 gv = _mm512_loadu_ps(gi + c);
        for (int t = 0; t < KN; ++t)
          acc[t] = _mm512_fmadd_ps(gv, _mm512_loadu_ps(s[t] + off + c), acc[t]);
      }
      if (full < d) {
        const __m512 gv = _mm512_maskz_loadu_ps(tail, gi + full);
        for (int t = 0; t < KN; ++t)
          acc[t] = _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(tail, s[t] + off + full), acc[t]);
      }
      if (KN == 16 && stream)  // a full aligned line (K is a multiple of 16 then)
        _mm512_stream_ps(dw + (i + r) * K + k0, reduce16(acc));
      else
        _mm512_mask_storeu_ps(dw + (i + r) * K + k0, store, reduce16(acc));
    }
    i += run;
    for (int t = 0; t < KN; ++t) {
      j[t] += run;
      if (j[t] >= N) j[t] -= N;
    }
  }
}

template <long D>
void dot_rows_d(float* dw, const float* g, const float* v, const long* sh, long K, long N,
                long d, long i0, long i1, bool stream, const Prefetch& pf) {
  for (long k0 = 0; k0 < K; k0 += 16) {
    switch (std::min(16L, K - k0)) {
#define PMX_CASE(KN) \
  case KN: dot_rows_t<KN, D>(dw, g, v, sh, K, N, d, i0, i1, k0, stream, pf); break;
      PMX_CASE(1) PMX_CASE(2) PMX_CASE(3) PMX_CASE(4) PMX_CASE(5) PMX_CASE(6) PMX_CASE(7)
      PMX_CASE(8) PMX_CASE(9) PMX_CASE(10) PMX_CASE(11) PMX_CASE(12) PMX_CASE(13) PMX_CASE(14)
      PMX_CASE(15) PMX_CASE(16)
#undef PMX_CASE
    }
  }
}

// ---- the one-gather backward ---------------------------------------------------------------
//
// The dV gather reads, for row j, the K rows dOut[j - o_k]; the dots of dW[j - o_k, k] need
// exactly those rows, each against V[j]. So one pass does both: per row j, dV[j] as the gather
// computes it, and the K dots <dOut[j - o_k], V[j]>, which belong to K other rows of dW. They go
// to a slot-major scratch, dWt[k][j] = dW[j - o_k, k] (16 rows at a time, through one 16 x 16
// transpose), and move_dots_rows_avx512 reads dW[i, k] = dWt[k][i + o_k] back as K contiguous
// runs, transposed again. Per row that is one stream of K gathered rows instead of two.
//
// The arithmetic is that of dots + gather, operation for operation: each dV element is
// base + w_0 s_0 + w_1 s_1 + ... in slot order, each dot starts with a product and adds the
// column vectors in order, and the K dots of a row go through reduce16's tree (as its two
// halves and their join). So the bits are those of the two-pass backward (tested).

inline __m512d as_pd(__m512 x) { return _mm512_castps_pd(x); }

// In-register transpose of a 16 x 16 block: lane c of r[i] goes to lane i of r[c].
inline void transpose16(__m512* r) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {  // pairs of rows interleaved: a0 b0 a1 b1 | a4 b4 a5 b5 | ...
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // u[4i + c]: in 128-bit lane q, column 4q + c of rows 4i..4i+3
    u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(as_pd(t[4 * i]), as_pd(t[4 * i + 2])));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(as_pd(t[4 * i]), as_pd(t[4 * i + 2])));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(as_pd(t[4 * i + 1]), as_pd(t[4 * i + 3])));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(as_pd(t[4 * i + 1]), as_pd(t[4 * i + 3])));
  }
  for (int c = 0; c < 4; ++c) {  // gather lane q of the four row groups into column 4q + c
    const __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
    const __m512 x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
    const __m512 y0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 y1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    r[c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(x0, y0, 0xdd);
    r[4 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xdd);
  }
}

// Rows [j, j + R), d = D = 16 C columns, K <= 16 (KC > 0: K at compile time). sh[k] = -o_k mod
// N, so row j's k-th source row is (j + sh[k]) mod N. Writes dV's rows and, in dots[r], row
// j + r's K dots (lane k). Live: R C dV accumulators, R C vectors of V and 8 R dots (one half of
// the slots at a time); the loops must unroll completely, or the dots go through the stack
// (measured: 7 % slower on CHORD, 40-110 % on CDIL's small dilations).
template <int R, long D, long KC>
inline void one_gather_block(float* dv, __m512* dots, const float* g, const float* v,
                             const float* w, const long* sh, long K_rt, long N, long j,
                             bool stream) {
  constexpr int C = int(D / 16);
  const long K = KC > 0 ? KC : K_rt;
  __m512 vj[R][C], acc[R][C], half[R][2];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      vj[r][c] = _mm512_loadu_ps(v + (j + r) * D + 16 * c);
      acc[r][c] = _mm512_loadu_ps(g + (j + r) * D + 16 * c);
    }
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    __m512 dot[R][8];
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) {
      const long k = 8 * h + t;
      if (k >= K) {  // missing slots: zero vectors, as the dots kernel's unused accumulators
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) dot[r][t] = _mm512_setzero_ps();
        continue;
      }
      long s0 = j + sh[k];
      if (s0 >= N) s0 -= N;
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        long s = s0 + r;
        if (s >= N) s -= N;
        const float* src = g + s * D;
        const __m512 wk = _mm512_set1_ps(w[s * K + k]);
        __m512 p = _mm512_setzero_ps();
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
          const __m512 x = _mm512_loadu_ps(src + 16 * c);
          acc[r][c] = _mm512_fmadd_ps(wk, x, acc[r][c]);
          p = _mm512_fmadd_ps(x, vj[r][c], p);
        }
        dot[r][t] = p;
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) half[r][h] = reduce8_half(dot[r]);
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      float* p = dv + (j + r) * D + 16 * c;
      if (stream)
        _mm512_stream_ps(p, acc[r][c]);
      else
        _mm512_storeu_ps(p, acc[r][c]);
    }
    dots[r] = reduce16_join(half[r][0], half[r][1]);
  }
}

// Rows [i0, i1) (i0 a multiple of 16), 16 rows at a time: blocks of 2 rows (1 at d = 64, whose
// 4-vector rows need twice the registers), the 16 rows' dots transposed into dWt's K runs.
// dWt: K runs of N + 16 floats; the first 16 rows are also written after row N - 1, so
// move_dots_rows reads any 16 consecutive rows from (i + o_k) mod N without a wrap.
template <long D, long KC>
void one_gather_rows_t(float* dv, float* dwt, const float* g, const float* v, const float* w,
                       const long* sh, long K, long N, long i0, long i1, bool stream) {
  constexpr int R = D <= 32 ? 2 : 1;
  const long run = N + 16;
  for (long g0 = i0; g0 < i1; g0 += 16) {
    const long n = std::min(16L, i1 - g0);
    __m512 dots[16];
    long r = 0;
    for (; r + R <= n; r += R)
      one_gather_block<R, D, KC>(dv, dots + r, g, v, w, sh, K, N, g0 + r, stream);
    for (; r < n; ++r) one_gather_block<1, D, KC>(dv, dots + r, g, v, w, sh, K, N, g0 + r, stream);
    for (; r < 16; ++r) dots[r] = _mm512_setzero_ps();
    transpose16(dots);  // dots[k]: slot k of rows g0 .. g0 + 15
    const __mmask16 rows = lanes(n);
    for (long k = 0; k < K; ++k) {
      _mm512_mask_storeu_ps(dwt + k * run + g0, rows, dots[k]);
      if (g0 == 0) _mm512_mask_storeu_ps(dwt + k * run + N, rows, dots[k]);
    }
  }
}

}  // namespace

void one_gather_rows_avx512(float* d_v, float* d_wt, const float* d_out, const float* v,
                            const float* w, const long* sh_b, long K, long N, long d, long i0,
                            long i1, bool stream) {
  switch (d) {
    case 16: return one_gather_rows_t<16, 0>(d_v, d_wt, d_out, v, w, sh_b, K, N, i0, i1, stream);
    case 32:
      switch (K) {  // as in the gather: CDIL's and CHORD's largest K as compile-time constants
        case 9: return one_gather_rows_t<32, 9>(d_v, d_wt, d_out, v, w, sh_b, K, N, i0, i1, stream);
        case 16: return one_gather_rows_t<32, 16>(d_v, d_wt, d_out, v, w, sh_b, K, N, i0, i1, stream);
        default: return one_gather_rows_t<32, 0>(d_v, d_wt, d_out, v, w, sh_b, K, N, i0, i1, stream);
      }
    default: return one_gather_rows_t<64, 0>(d_v, d_wt, d_out, v, w, sh_b, K, N, i0, i1, stream);
  }
}

void move_dots_rows_avx512(float* d_w, const float* d_wt, const long* sh_f, long K, long N,
                           long i0, long i1, bool stream) {
  // dW[i, k] = dWt[k][(i + o_k) mod N]: per 16 rows, K contiguous loads and one transpose.
  const long run = N + 16;
  for (long g0 = i0; g0 < i1; g0 += 16) {
    __m512 t[16];
    for (long k = 0; k < 16; ++k) {
      if (k >= K) {
        t[k] = _mm512_setzero_ps();
        continue;
      }
      long s = g0 + sh_f[k];
      if (s >= N) s -= N;
      t[k] = _mm512_loadu_ps(d_wt + k * run + s);
    }
    transpose16(t);  // t[r]: row g0 + r of dW
    const long n = std::min(16L, i1 - g0);
    for (long r = 0; r < n; ++r) {
      if (stream && K == 16)  // a full aligned line (the caller checked)
        _mm512_stream_ps(d_w + (g0 + r) * K, t[r]);
      else
        _mm512_mask_storeu_ps(d_w + (g0 + r) * K, lanes(K), t[r]);
    }
  }
}

void gather_rows_avx512(float* dst, const float* base, const float* src, const float* w,
                        const long* sh, long K, long N, long d, long i0, long i1,
                        bool w_at_src, const RowHints& hints) {
  const Prefetch pf = plan_prefetch(sh, K, N, d, hints);
  if (w_at_src)
    gather_rows_dispatch<true>(dst, base, src, w, sh, K, N, d, i0, i1, hints.stream, pf);
  else
    gather_rows_dispatch<false>(dst, base, src, w, sh, K, N, d, i0, i1, hints.stream, pf);
}

void dot_rows_avx512(float* dw, const float* g, const float* v, const long* sh, long K, long N,
                     long d, long i0, long i1, const RowHints& hints) {
  const Prefetch pf = plan_prefetch(sh, K, N, d, hints);
  const bool st = hints.stream;
  switch (d) {  // common d: the column loop unrolls completely
    case 16: return dot_rows_d<16>(dw, g, v, sh, K, N, d, i0, i1, st, pf);
    case 32: return dot_rows_d<32>(dw, g, v, sh, K, N, d, i0, i1, st, pf);
    case 64: return dot_rows_d<64>(dw, g, v, sh, K, N, d, i0, i1, st, pf);
    case 128: return dot_rows_d<128>(dw, g, v, sh, K, N, d, i0, i1, st, pf);
    default: return dot_rows_d<0>(dw, g, v, sh, K, N, d, i0, i1, st, pf);
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace pmx

#pragma GCC diagnostic pop
#pragma GCC pop_options
