// Dot-product attention for heads of 32 to 128 channels (multiples of 16), float, AVX-512F:
// register tiles instead of GEMM calls. Chosen by kernels/attention.cpp in place of its GEMM
// path; same contract (attention.h).
//
// Why: with heads of 32 (ListOps' Transformer: d = 128, 4 heads) the GEMM path ran at ~40
// GFLOP/s on one core of the Xeon, a fifth of its FMA peak: OpenBLAS's Haswell kernels on
// products whose inner size is only dh, a (block, N) slab of scores zeroed, written, packed and
// read back around them, and the softmax as separate passes. Here every product is a small
// register tile fed straight from L1/L2, in one of two shapes:
//   - keys along the lanes: S = Q K^T and dP = dO V^T, 8 query rows x 32 keys (16 registers),
//     one FMA per (row, channel, 16 keys), from K^T and V^T copied transposed once per slice;
//   - channels along the lanes: O = P V, dV = P^T dO, dK = dS^T Q and dQ = dS K, 8 rows (or 4
//     keys, for dV and dK together) x 32 channels, one FMA per (row, key, 16 channels), the
//     probabilities broadcast; wider heads in blocks of 32 channels.
// Both shapes load fewer vectors than they issue FMAs, so they run at the FMA ports' pace.
//
// Forward, per block of 8 query rows: the scores of all keys go to a row buffer (8 x N floats);
// then per row its maximum m_i, e = exp(s - m) in place and their sum; then O_i = (sum_j e_ij
// v_j) r_i, r_i = 1 / sum_j e_ij. stats_i = (m_i, r_i), as the GEMM path stores them.
// Backward, per block of rows (~512 KiB of P and dS): P = exp(s - m) r from the same tile code
// as the forward's scores (so the forward's bits), dP by the same tile on dO and V^T, dS =
// P (dP - D_i) with D_i = dO_i . O_i; then dV and dK of a few keys at a time over the block's
// rows (added to d_v and d_k once per block), then dQ of a few rows at a time over all keys.
//
// Compiled with the library's baseline flags (AVX2); the pragma below switches code generation
// to AVX-512F for everything after it (as in attention_avx512.cpp). The scratch size is plain
// integer code and comes before it. After the pragma the code calls no standard-library
// templates: an instantiation made there is compiled for AVX-512, and in an unoptimised build
// the linker could pick it for every file that uses the same one.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/attention.h"

namespace pmx::kernels::detail::tiled {

constexpr int64_t kTileKeys = 32;  // keys per score tile: two vectors of 16
constexpr int64_t kTileRows = 8;   // query rows per score tile

// Keys a score tile sweeps (N rounded up to 32). K^T and V^T rows are that long and one line more,
// so the dh rows of a tile do not all fall into one L1 set when N is a multiple of 1024.
inline int64_t swept(int64_t N) { return (N + kTileKeys - 1) / kTileKeys * kTileKeys; }
inline int64_t transposed_stride(int64_t N) { return swept(N) + 16; }

// Query rows per backward block: P and dS of a block take ~512 KiB (8 to 64 rows, a multiple of 8).
inline int64_t block_rows(int64_t N) {
  const int64_t rows = (int64_t(1) << 16) / swept(N) / kTileRows * kTileRows;
  return std::clamp<int64_t>(rows, kTileRows, 64);
}

// Floats of scratch per slice: K^T, V^T (dh rows each), scale * Q (N rows of dh), then either the
// forward's 8 score rows or the backward's D_i (N) and a block's P and dS.
int64_t scratch_floats(int64_t N, int64_t dh) {
  const int64_t rows = std::max(kTileRows * swept(N), N + 2 * block_rows(N) * swept(N));
  return 2 * dh * transposed_stride(N) + N * dh + rows;
}

}  // namespace pmx::kernels::detail::tiled

#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC diagnostic push  // GCC 12 flags the intrinsics' own undefined registers
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/exp_avx512.h"  // inline, so only here: after the pragma

namespace pmx::kernels::detail {
namespace {

using tiled::kTileKeys;
using tiled::kTileRows;

// The parts of the scratch buffer (tiled::scratch_floats).
struct Work {
  int64_t lt;  // row stride of kt and vt
  float* kt;   // (dh, lt): K transposed, zero after N
  float* vt;   // (dh, lt): V transposed, zero after N
  float* qs;   // (N, dh): scale * Q
  float* rows; // forward: 8 rows of swept(N) scores; backward: D_i (N), then P and dS of a block
};

// V^T is for the backward's dP only (the forward reads V's rows as they are).
Work prepare(float* scratch, const float* q, const float* k, const float* v, int64_t ld, int64_t N, int64_t dh,
             float scale, bool transpose_v) {
  const int64_t lt = tiled::transposed_stride(N);
  Work w{lt, scratch, scratch + dh * lt, scratch + 2 * dh * lt, scratch + 2 * dh * lt + N * dh};
  for (int64_t c = 0; c < dh; ++c) {
    for (int64_t j = 0; j < lt; ++j) w.kt[c * lt + j] = j < N ? k[j * ld + c] : 0.f;
    if (transpose_v)
      for (int64_t j = 0; j < lt; ++j) w.vt[c * lt + j] = j < N ? v[j * ld + c] : 0.f;
  }
  for (int64_t i = 0; i < N; ++i)
    for (int64_t c = 0; c < dh; ++c) w.qs[i * dh + c] = scale * q[i * ld + c];
  return w;
}

inline __mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? 0 : __mmask16((1u << n) - 1); }

// s[r][h] = sum_c x_r[c] t[c][j0 + 16 h .. +15] for R rows x (rows xs apart) and 32 keys, c in
// order, one FMA each. The scores (x = scale Q, t = K^T) are computed only here, so the
// backward's are the forward's bits whatever R; so is dP (x = dO, t = V^T).
template <int D, int R>
[[gnu::always_inline]] inline void tile(const float* x, int64_t xs, const float* t, int64_t lt, int64_t j0,
                                        __m512 (&s)[R][2]) {
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) s[r][0] = s[r][1] = _mm512_setzero_ps();
  #pragma GCC unroll 4
  for (int c = 0; c < D; ++c) {
    const __m512 t0 = _mm512_loadu_ps(t + c * lt + j0), t1 = _mm512_loadu_ps(t + c * lt + j0 + 16);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 b = _mm512_set1_ps(x[r * xs + c]);
      s[r][0] = _mm512_fmadd_ps(b, t0, s[r][0]);
      s[r][1] = _mm512_fmadd_ps(b, t1, s[r][1]);
    }
  }
}

// The channels-along-lanes products work on blocks of 32 channels (two vectors; the last block
// of a head of 48, 80 or 112 has one): 8 rows or 4 keys (x 2 for dV and dK) of 2 vectors, the
// same 16 accumulators whatever dh, and each row of V, K, dO or Q they stream brings 128 bytes
// for 16 FMAs. (Whole rows at a time, fewer rows per tile, brought 256-512 bytes per 16 FMAs;
// at dh = 128 that ran no faster than the GEMM path.)
constexpr int kBlockVectors = 2;

// f(u0, cb) for each channel block of a head of D channels: u0 its first vector, cb its vectors
// (a std::integral_constant).
template <int D, class F>
[[gnu::always_inline]] inline void channel_blocks(F&& f) {
  constexpr int U = D / 16;
  for (int u0 = 0; u0 + kBlockVectors <= U; u0 += kBlockVectors) f(u0, std::integral_constant<int, kBlockVectors>{});
  if constexpr (U % kBlockVectors != 0) f(U - U % kBlockVectors, std::integral_constant<int, U % kBlockVectors>{});
}

// One channel block (CB vectors at out and src) of out_r = factor_r sum_j w_rj src_j for rows
// r = 0 .. R-1 of w (nt apart), src rows ld apart: O = P V (w = e, factor = r_i) and dQ = scale
// dS K (w = dS, factor = scale).
template <int CB, int R>
void weighted_rows(float* out, int64_t ld_out, const float* w, int64_t nt, const float* src, int64_t ld, int64_t N,
                   const float* factor) {
  constexpr int U = CB;
  __m512 acc[R][U];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[r][u] = _mm512_setzero_ps();
  for (int64_t j = 0; j < N; ++j) {
    __m512 sj[U];
    #pragma GCC unroll 8
    for (int u = 0; u < U; ++u) sj[u] = _mm512_loadu_ps(src + j * ld + 16 * u);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 b = _mm512_set1_ps(w[r * nt + j]);
      #pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[r][u] = _mm512_fmadd_ps(b, sj[u], acc[r][u]);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int u = 0; u < U; ++u)
      _mm512_storeu_ps(out + r * ld_out + 16 * u, _mm512_mul_ps(acc[r][u], _mm512_set1_ps(factor[r])));
}

// Forward of query rows i0 .. i0+R-1 (R <= 8).
template <int D, int R>
void forward_rows(int64_t i0, float* out, int64_t ld_out, float* stats, const float* v, int64_t ld, const Work& w,
                  int64_t N) {
  const int64_t nt = tiled::swept(N);
  float* rows = w.rows;  // R rows of nt scores, then exps
  for (int64_t j0 = 0; j0 < nt; j0 += kTileKeys) {  // the scores (-inf after N)
    __m512 s[R][2];
    tile<D, R>(w.qs + i0 * D, D, w.kt, w.lt, j0, s);
    const __mmask16 lo = first_lanes(N - j0), hi = first_lanes(N - j0 - 16);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      _mm512_storeu_ps(rows + r * nt + j0, _mm512_mask_blend_ps(lo, _mm512_set1_ps(-INFINITY), s[r][0]));
      _mm512_storeu_ps(rows + r * nt + j0 + 16, _mm512_mask_blend_ps(hi, _mm512_set1_ps(-INFINITY), s[r][1]));
    }
  }
  // Each row's maximum in a pass of its own: kept in 8 registers through the tiles above, the
  // maxima made GCC spill the K^T vectors to the stack (forward 7.2 against 4.7 ms at N = 2000).
  float inv[R];
  for (int r = 0; r < R; ++r) {  // m_i, then e = exp(s - m) in place (0 after N), and r_i = 1 / their sum
    float* row = rows + r * nt;
    __m512 top = _mm512_loadu_ps(row);
    for (int64_t j0 = 16; j0 < nt; j0 += 16) top = _mm512_max_ps(top, _mm512_loadu_ps(row + j0));
    const float m = _mm512_reduce_max_ps(top);
    const __m512 mv = _mm512_set1_ps(m);
    __m512 total = _mm512_setzero_ps();
    for (int64_t j0 = 0; j0 < nt; j0 += 16) {
      const __m512 e = _mm512_maskz_mov_ps(first_lanes(N - j0),
                                           avx512::exp16(_mm512_sub_ps(_mm512_loadu_ps(row + j0), mv)));
      _mm512_storeu_ps(row + j0, e);
      total = _mm512_add_ps(total, e);
    }
    inv[r] = 1.f / _mm512_reduce_add_ps(total);
    stats[2 * (i0 + r)] = m;
    stats[2 * (i0 + r) + 1] = inv[r];
  }
  channel_blocks<D>([&](int u0, auto cb) {
    weighted_rows<decltype(cb)::value, R>(out + i0 * ld_out + 16 * u0, ld_out, rows, nt, v + 16 * u0, ld, N, inv);
  });
}

template <int D>
void forward_t(float* out, int64_t ld_out, float* stats, const float* q, const float* k, const float* v,
               int64_t ld, int64_t N, float scale, float* scratch) {
  const Work w = prepare(scratch, q, k, v, ld, N, D, scale, false);
  int64_t i = 0;
  for (; i + kTileRows <= N; i += kTileRows) forward_rows<D, kTileRows>(i, out, ld_out, stats, v, ld, w, N);
  for (; i < N; ++i) forward_rows<D, 1>(i, out, ld_out, stats, v, ld, w, N);
}

// P and dS of query rows i .. i+R-1 (rows of the block's buffers p and ds, nt apart), all keys:
// P = exp(s - m) r, 0 after N; dS = P (dP - D_i).
template <int D, int R>
void probs_and_grads(int64_t i, float* p, float* ds, const float* d_out, int64_t ld_out, const float* stats,
                     const float* row_dot, const Work& w, int64_t N) {
  const int64_t nt = tiled::swept(N);
  for (int64_t j0 = 0; j0 < nt; j0 += kTileKeys) {
    const __mmask16 lo = first_lanes(N - j0), hi = first_lanes(N - j0 - 16);
    __m512 s[R][2];
    tile<D, R>(w.qs + i * D, D, w.kt, w.lt, j0, s);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 m = _mm512_set1_ps(stats[2 * (i + r)]), inv = _mm512_set1_ps(stats[2 * (i + r) + 1]);
      _mm512_storeu_ps(p + r * nt + j0, _mm512_maskz_mov_ps(lo, _mm512_mul_ps(avx512::exp16(_mm512_sub_ps(s[r][0], m)), inv)));
      _mm512_storeu_ps(p + r * nt + j0 + 16,
                       _mm512_maskz_mov_ps(hi, _mm512_mul_ps(avx512::exp16(_mm512_sub_ps(s[r][1], m)), inv)));
    }
    tile<D, R>(d_out + i * ld_out, ld_out, w.vt, w.lt, j0, s);  // dP
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 di = _mm512_set1_ps(row_dot[i + r]);
      #pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const int64_t at = r * nt + j0 + 16 * h;
        _mm512_storeu_ps(ds + at, _mm512_mul_ps(_mm512_loadu_ps(p + at), _mm512_sub_ps(s[r][h], di)));
      }
    }
  }
}

// One channel block (CB vectors at d_k, d_v, d_out and qs) of dV_j += sum_i P_ij dO_i and
// dK_j += sum_i dS_ij qs_i (= scale dS^T Q) for keys j .. j+J-1 over the block's rows i0 .. i1-1
// (rows of p and ds, nt apart; of qs, ldq apart), added to d_v and d_k once.
template <int CB, int J>
void key_grads(int64_t j, float* d_k, float* d_v, int64_t ld, const float* p, const float* ds, int64_t nt,
               const float* d_out, int64_t ld_out, const float* qs, int64_t ldq, int64_t i0, int64_t i1) {
  constexpr int U = CB;
  __m512 acc_v[J][U], acc_k[J][U];
  #pragma GCC unroll 8
  for (int a = 0; a < J; ++a)
    #pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc_v[a][u] = acc_k[a][u] = _mm512_setzero_ps();
  for (int64_t i = i0; i < i1; ++i) {
    __m512 g[U], qv[U];
    #pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      g[u] = _mm512_loadu_ps(d_out + i * ld_out + 16 * u);
      qv[u] = _mm512_loadu_ps(qs + i * ldq + 16 * u);
    }
    const float* p_i = p + (i - i0) * nt + j;
    const float* ds_i = ds + (i - i0) * nt + j;
    #pragma GCC unroll 8
    for (int a = 0; a < J; ++a) {
      const __m512 pb = _mm512_set1_ps(p_i[a]), sb = _mm512_set1_ps(ds_i[a]);
      #pragma GCC unroll 8
      for (int u = 0; u < U; ++u) {
        acc_v[a][u] = _mm512_fmadd_ps(pb, g[u], acc_v[a][u]);
        acc_k[a][u] = _mm512_fmadd_ps(sb, qv[u], acc_k[a][u]);
      }
    }
  }
  #pragma GCC unroll 8
  for (int a = 0; a < J; ++a)
    #pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      float* dv = d_v + (j + a) * ld + 16 * u;
      float* dk = d_k + (j + a) * ld + 16 * u;
      _mm512_storeu_ps(dv, _mm512_add_ps(_mm512_loadu_ps(dv), acc_v[a][u]));
      _mm512_storeu_ps(dk, _mm512_add_ps(_mm512_loadu_ps(dk), acc_k[a][u]));
    }
}

template <int D>
void backward_t(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out, int64_t ld_out,
                const float* stats, const float* q, const float* k, const float* v, int64_t ld, int64_t N,
                float scale, float* scratch) {
  const Work w = prepare(scratch, q, k, v, ld, N, D, scale, true);
  const int64_t nt = tiled::swept(N), rows = tiled::block_rows(N);
  float* row_dot = w.rows;  // D_i = dO_i . O_i
  float* p = row_dot + N;
  float* ds = p + rows * nt;
  for (int64_t i = 0; i < N; ++i) {
    float dot = 0;
    for (int c = 0; c < D; ++c) dot += d_out[i * ld_out + c] * out[i * ld_out + c];
    row_dot[i] = dot;
  }
  constexpr int J = 4;  // keys per dV and dK tile
  float scales[kTileRows];
  for (float& f : scales) f = scale;
  for (int64_t i0 = 0; i0 < N; i0 += rows) {
    const int64_t i1 = i0 + rows < N ? i0 + rows : N;
    int64_t i = i0;
    for (; i + kTileRows <= i1; i += kTileRows)
      probs_and_grads<D, kTileRows>(i, p + (i - i0) * nt, ds + (i - i0) * nt, d_out, ld_out, stats, row_dot, w, N);
    for (; i < i1; ++i) probs_and_grads<D, 1>(i, p + (i - i0) * nt, ds + (i - i0) * nt, d_out, ld_out, stats, row_dot, w, N);
    channel_blocks<D>([&](int u0, auto cb) {
      constexpr int CB = decltype(cb)::value;
      const int64_t c0 = 16 * u0;
      int64_t j = 0;
      for (; j + J <= N; j += J)
        key_grads<CB, J>(j, d_k + c0, d_v + c0, ld, p, ds, nt, d_out + c0, ld_out, w.qs + c0, D, i0, i1);
      for (; j < N; ++j)
        key_grads<CB, 1>(j, d_k + c0, d_v + c0, ld, p, ds, nt, d_out + c0, ld_out, w.qs + c0, D, i0, i1);
      int64_t r = i0;  // dQ = scale dS K
      for (; r + kTileRows <= i1; r += kTileRows)
        weighted_rows<CB, kTileRows>(d_q + r * ld + c0, ld, ds + (r - i0) * nt, nt, k + c0, ld, N, scales);
      for (; r < i1; ++r) weighted_rows<CB, 1>(d_q + r * ld + c0, ld, ds + (r - i0) * nt, nt, k + c0, ld, N, scales);
    });
  }
}

// The call's dh as a compile-time constant.
template <class F>
void with_head_size(int64_t dh, F&& f) {
  switch (dh) {
    case 32: return f(std::integral_constant<int, 32>{});
    case 48: return f(std::integral_constant<int, 48>{});
    case 64: return f(std::integral_constant<int, 64>{});
    case 80: return f(std::integral_constant<int, 80>{});
    case 96: return f(std::integral_constant<int, 96>{});
    case 112: return f(std::integral_constant<int, 112>{});
    case 128: return f(std::integral_constant<int, 128>{});
  }
}

}  // namespace

void attention_forward_tiled_avx512(float* out, int64_t ld_out, float* stats, const float* q, const float* k,
                                    const float* v, int64_t ld, int64_t N, int64_t dh, float scale, float* scratch) {
  with_head_size(dh, [&](auto D) { forward_t<D()>(out, ld_out, stats, q, k, v, ld, N, scale, scratch); });
}

void attention_backward_tiled_avx512(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out,
                                     int64_t ld_out, const float* stats, const float* q, const float* k,
                                     const float* v, int64_t ld, int64_t N, int64_t dh, float scale,
                                     float* scratch) {
  with_head_size(dh, [&](auto D) {
    backward_t<D()>(d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
  });
}

}  // namespace pmx::kernels::detail

#pragma GCC diagnostic pop
#pragma GCC pop_options
