// The tiled attention kernel's body, written once for a vector type V and compiled twice:
// kernels/attention_tiled_avx512.cpp (16 float lanes, 32 registers) and
// kernels/attention_tiled_avx2.cpp (8 lanes, 16 registers). What it computes and why: the first
// of those files. Not a public header: include it only from those two, after their vector type
// (kernels/attention_vec512.h or attention_vec256.h); everything here has internal linkage, so
// each file keeps its own copy, compiled for its own instruction set. It calls no standard-library
// template: one instantiated here would be compiled for the file's instruction set, and in an
// unoptimised build the linker could pick it for every file that uses the same one.
//
// V provides what kernels/attention_small_head.h lists, and kRegisters (its vector registers).
// Tiles are sized from it: 16 accumulators of 32 registers (AVX-512), 12 of 16 (AVX2; with 8 the
// FMAs' latency, 4-5 cycles at two per cycle, left the ports idle).
#pragma once

#include <type_traits>

#include "kernels/attention_prepare.h"
#include "kernels/attention_tiled_layout.h"

namespace pmx::kernels::detail {
namespace {

template <class V>
struct TiledShape {
  static constexpr int kAccumulators = V::kRegisters >= 32 ? 16 : 12;
  static constexpr int kTileKeys = 2 * V::kLanes;      // keys per score tile: two vectors
  static constexpr int kTileRows = kAccumulators / 2;  // query rows per score tile: 8 or 6
  static constexpr int kBlockVectors = 2;              // channels per block: two vectors (32 or 16)
  static constexpr int kKeyTile = kAccumulators / 4;   // keys per dV and dK tile: 4 or 3
  static_assert(tiled::kSweep % kTileKeys == 0 && kTileRows <= tiled::kMaxTileRows, "the layout covers the tiles");
};

// f(std::integral_constant<int, n>) for 0 < n <= R: the rows (or keys) left after whole tiles
// get a tile of their own size instead of one row at a time (a single-row tile has only two
// independent FMA chains).
template <int R, class F>
[[gnu::always_inline]] inline void with_remainder(int64_t n, F&& f) {
  if constexpr (R > 0) {
    if (n == R) return f(std::integral_constant<int, R>{});
    with_remainder<R - 1>(n, f);
  }
}

// The parts of the scratch buffer (kernels/attention_tiled_layout.h).
struct TiledWork {
  int64_t lt;   // row stride of kt and vt
  float* kt;    // (dh, lt): K transposed, zero after N
  float* vt;    // (dh, lt): V transposed, zero after N
  float* qs;    // (N, dh): scale * Q
  float* rows;  // forward: score rows; backward: D_i (N), then P and dS of a block
};

// V^T is for the backward's dP only (the forward reads V's rows as they are).
inline TiledWork tiled_prepare(float* scratch, const float* q, const float* k, const float* v, int64_t ld,
                               int64_t N, int64_t dh, float scale, bool transpose_v) {
  const int64_t lt = tiled::transposed_stride(N);
  TiledWork w{lt, scratch, scratch + dh * lt, scratch + 2 * dh * lt, scratch + 2 * dh * lt + N * dh};
  copy_transposed(w.kt, k, ld, N, lt, dh);
  if (transpose_v) copy_transposed(w.vt, v, ld, N, lt, dh);
  copy_scaled(w.qs, q, ld, N, dh, scale);
  return w;
}

// s[r][h] = sum_c x_r[c] t[c][j0 + h kLanes ..] for R rows (xs apart) x two vectors of keys, c in
// order, one FMA each. The scores (x = scale Q, t = K^T) are computed only here, so the
// backward's are the forward's bits whatever R; so is dP (x = dO, t = V^T).
template <class V, int D, int R>
[[gnu::always_inline]] inline void score_tile(const float* x, int64_t xs, const float* t, int64_t lt, int64_t j0,
                                              typename V::Reg (&s)[R][2]) {
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r) s[r][0] = s[r][1] = V::zero();
  #pragma GCC unroll 4
  for (int c = 0; c < D; ++c) {
    const typename V::Reg t0 = V::load(t + c * lt + j0), t1 = V::load(t + c * lt + j0 + V::kLanes);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const typename V::Reg b = V::set1(x[r * xs + c]);
      s[r][0] = V::fmadd(b, t0, s[r][0]);
      s[r][1] = V::fmadd(b, t1, s[r][1]);
    }
  }
}

// The channels-along-lanes products work on blocks of two vectors of channels (one for the last
// block when dh / kLanes is odd): the tile has the same accumulators whatever dh, and each row of
// V, K, dO or Q it streams brings two vectors for as many FMAs as the tile has accumulators.
// (Whole rows at a time, fewer rows per tile, brought 256-512 bytes per 16 FMAs with AVX-512; at
// dh = 128 that ran no faster than the GEMM path.) f(c0, cb): c0 the block's first channel, cb its
// vectors (a std::integral_constant).
template <class V, int D, class F>
[[gnu::always_inline]] inline void channel_blocks(F&& f) {
  constexpr int U = D / V::kLanes, B = TiledShape<V>::kBlockVectors;
  for (int u0 = 0; u0 + B <= U; u0 += B) f(u0 * V::kLanes, std::integral_constant<int, B>{});
  if constexpr (U % B != 0) f((U - U % B) * V::kLanes, std::integral_constant<int, U % B>{});
}

// One channel block (CB vectors at out and src) of out_r = factor_r sum_j w_rj src_j for rows
// r = 0 .. R-1 of w (nt apart), src rows ld apart: O = P V (w = e, factor = r_i) and dQ = scale
// dS K (w = dS, factor = scale).
template <class V, int CB, int R>
void weighted_rows(float* out, int64_t ld_out, const float* w, int64_t nt, const float* src, int64_t ld, int64_t N,
                   const float* factor) {
  using Reg = typename V::Reg;
  Reg acc[R][CB];
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int u = 0; u < CB; ++u) acc[r][u] = V::zero();
  for (int64_t j = 0; j < N; ++j) {
    Reg sj[CB];
    #pragma GCC unroll 8
    for (int u = 0; u < CB; ++u) sj[u] = V::load(src + j * ld + u * V::kLanes);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Reg b = V::set1(w[r * nt + j]);
      #pragma GCC unroll 8
      for (int u = 0; u < CB; ++u) acc[r][u] = V::fmadd(b, sj[u], acc[r][u]);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
    #pragma GCC unroll 8
    for (int u = 0; u < CB; ++u) V::store(out + r * ld_out + u * V::kLanes, V::mul(acc[r][u], V::set1(factor[r])));
}

// Forward of query rows i0 .. i0+R-1 (R <= kTileRows).
template <class V, int D, int R>
void tiled_forward_rows(int64_t i0, float* out, int64_t ld_out, float* stats, const float* v, int64_t ld,
                        const TiledWork& w, int64_t N) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  const int64_t nt = tiled::swept(N);
  float* rows = w.rows;  // R rows of nt scores, then exps
  for (int64_t j0 = 0; j0 < nt; j0 += TiledShape<V>::kTileKeys) {  // the scores (-inf after N)
    Reg s[R][2];
    score_tile<V, D, R>(w.qs + i0 * D, D, w.kt, w.lt, j0, s);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
      #pragma GCC unroll 2
      for (int h = 0; h < 2; ++h)
        V::store(rows + r * nt + j0 + h * L, V::select(V::first_lanes(N - j0 - h * L), s[r][h], V::set1(-INFINITY)));
  }
  // Each row's maximum in a pass of its own: kept in registers through the tiles above, the
  // maxima made GCC spill the K^T vectors to the stack (AVX-512 forward 7.2 against 4.7 ms at
  // N = 2000, dh = 32).
  float inv[R];
  for (int r = 0; r < R; ++r) {  // m_i, then e = exp(s - m) in place (0 after N), and r_i = 1 / their sum
    float* row = rows + r * nt;
    Reg top = V::load(row);
    for (int64_t j0 = L; j0 < nt; j0 += L) top = V::max(top, V::load(row + j0));
    const float m = V::reduce_max(top);
    const Reg mv = V::set1(m);
    Reg total = V::zero();
    for (int64_t j0 = 0; j0 < nt; j0 += L) {
      const Reg e = V::keep(V::first_lanes(N - j0), V::exp(V::sub(V::load(row + j0), mv)));
      V::store(row + j0, e);
      total = V::add(total, e);
    }
    inv[r] = 1.f / V::reduce_add(total);
    stats[2 * (i0 + r)] = m;
    stats[2 * (i0 + r) + 1] = inv[r];
  }
  channel_blocks<V, D>([&](int64_t c0, auto cb) {
    weighted_rows<V, decltype(cb)::value, R>(out + i0 * ld_out + c0, ld_out, rows, nt, v + c0, ld, N, inv);
  });
}

template <class V, int D>
void tiled_forward_t(float* out, int64_t ld_out, float* stats, const float* q, const float* k, const float* v,
                     int64_t ld, int64_t N, float scale, float* scratch) {
  constexpr int TR = TiledShape<V>::kTileRows;
  const TiledWork w = tiled_prepare(scratch, q, k, v, ld, N, D, scale, false);
  int64_t i = 0;
  for (; i + TR <= N; i += TR) tiled_forward_rows<V, D, TR>(i, out, ld_out, stats, v, ld, w, N);
  with_remainder<TR - 1>(N - i, [&](auto R) { tiled_forward_rows<V, D, R()>(i, out, ld_out, stats, v, ld, w, N); });
}

// P and dS of query rows i .. i+R-1 (rows of the block's buffers p and ds, nt apart), all keys:
// P = exp(s - m) r, 0 after N; dS = P (dP - D_i).
template <class V, int D, int R>
void probs_and_grads(int64_t i, float* p, float* ds, const float* d_out, int64_t ld_out, const float* stats,
                     const float* row_dot, const TiledWork& w, int64_t N) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  const int64_t nt = tiled::swept(N);
  for (int64_t j0 = 0; j0 < nt; j0 += TiledShape<V>::kTileKeys) {
    Reg s[R][2];
    score_tile<V, D, R>(w.qs + i * D, D, w.kt, w.lt, j0, s);
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Reg m = V::set1(stats[2 * (i + r)]), inv = V::set1(stats[2 * (i + r) + 1]);
      #pragma GCC unroll 2
      for (int h = 0; h < 2; ++h)
        V::store(p + r * nt + j0 + h * L,
                 V::keep(V::first_lanes(N - j0 - h * L), V::mul(V::exp(V::sub(s[r][h], m)), inv)));
    }
    score_tile<V, D, R>(d_out + i * ld_out, ld_out, w.vt, w.lt, j0, s);  // dP
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const Reg di = V::set1(row_dot[i + r]);
      #pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const int64_t at = r * nt + j0 + h * L;
        V::store(ds + at, V::mul(V::load(p + at), V::sub(s[r][h], di)));
      }
    }
  }
}

// One channel block (CB vectors at d_k, d_v, d_out and qs) of dV_j += sum_i P_ij dO_i and
// dK_j += sum_i dS_ij qs_i (= scale dS^T Q) for keys j .. j+J-1 over the block's rows i0 .. i1-1
// (rows of p and ds, nt apart; of qs, ldq apart), added to d_v and d_k once.
template <class V, int CB, int J>
void key_grads(int64_t j, float* d_k, float* d_v, int64_t ld, const float* p, const float* ds, int64_t nt,
               const float* d_out, int64_t ld_out, const float* qs, int64_t ldq, int64_t i0, int64_t i1) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  Reg acc_v[J][CB], acc_k[J][CB];
  #pragma GCC unroll 8
  for (int a = 0; a < J; ++a)
    #pragma GCC unroll 8
    for (int u = 0; u < CB; ++u) acc_v[a][u] = acc_k[a][u] = V::zero();
  for (int64_t i = i0; i < i1; ++i) {
    Reg g[CB], qv[CB];
    #pragma GCC unroll 8
    for (int u = 0; u < CB; ++u) {
      g[u] = V::load(d_out + i * ld_out + u * L);
      qv[u] = V::load(qs + i * ldq + u * L);
    }
    const float* p_i = p + (i - i0) * nt + j;
    const float* ds_i = ds + (i - i0) * nt + j;
    #pragma GCC unroll 8
    for (int a = 0; a < J; ++a) {
      const Reg pb = V::set1(p_i[a]), sb = V::set1(ds_i[a]);
      #pragma GCC unroll 8
      for (int u = 0; u < CB; ++u) {
        acc_v[a][u] = V::fmadd(pb, g[u], acc_v[a][u]);
        acc_k[a][u] = V::fmadd(sb, qv[u], acc_k[a][u]);
      }
    }
  }
  #pragma GCC unroll 8
  for (int a = 0; a < J; ++a)
    #pragma GCC unroll 8
    for (int u = 0; u < CB; ++u) {
      float* dv = d_v + (j + a) * ld + u * L;
      float* dk = d_k + (j + a) * ld + u * L;
      V::store(dv, V::add(V::load(dv), acc_v[a][u]));
      V::store(dk, V::add(V::load(dk), acc_k[a][u]));
    }
}

template <class V, int D>
void tiled_backward_t(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out, int64_t ld_out,
                      const float* stats, const float* q, const float* k, const float* v, int64_t ld, int64_t N,
                      float scale, float* scratch) {
  constexpr int TR = TiledShape<V>::kTileRows, J = TiledShape<V>::kKeyTile;
  const TiledWork w = tiled_prepare(scratch, q, k, v, ld, N, D, scale, true);
  const int64_t nt = tiled::swept(N), rows = tiled::block_rows(N);
  float* row_dot = w.rows;  // D_i = dO_i . O_i
  float* p = row_dot + N;
  float* ds = p + rows * nt;
  output_dots(row_dot, d_out, out, ld_out, N, D);
  float scales[TR];
  for (float& f : scales) f = scale;
  for (int64_t i0 = 0; i0 < N; i0 += rows) {
    const int64_t i1 = i0 + rows < N ? i0 + rows : N;
    int64_t i = i0;
    for (; i + TR <= i1; i += TR)
      probs_and_grads<V, D, TR>(i, p + (i - i0) * nt, ds + (i - i0) * nt, d_out, ld_out, stats, row_dot, w, N);
    with_remainder<TR - 1>(i1 - i, [&](auto R) {
      probs_and_grads<V, D, R()>(i, p + (i - i0) * nt, ds + (i - i0) * nt, d_out, ld_out, stats, row_dot, w, N);
    });
    channel_blocks<V, D>([&](int64_t c0, auto cb) {
      constexpr int CB = decltype(cb)::value;
      int64_t j = 0;
      for (; j + J <= N; j += J)
        key_grads<V, CB, J>(j, d_k + c0, d_v + c0, ld, p, ds, nt, d_out + c0, ld_out, w.qs + c0, D, i0, i1);
      with_remainder<J - 1>(N - j, [&](auto R) {
        key_grads<V, CB, R()>(j, d_k + c0, d_v + c0, ld, p, ds, nt, d_out + c0, ld_out, w.qs + c0, D, i0, i1);
      });
      int64_t r = i0;  // dQ = scale dS K
      for (; r + TR <= i1; r += TR)
        weighted_rows<V, CB, TR>(d_q + r * ld + c0, ld, ds + (r - i0) * nt, nt, k + c0, ld, N, scales);
      with_remainder<TR - 1>(i1 - r, [&](auto R) {
        weighted_rows<V, CB, R()>(d_q + r * ld + c0, ld, ds + (r - i0) * nt, nt, k + c0, ld, N, scales);
      });
    });
  }
}

// The call's dh as a compile-time constant: 32 to kMax in steps of 16 (kernels/attention.h).
template <int kMax, class F>
void with_tiled_head(int64_t dh, F&& f) {
  switch (dh) {
    case 32: return f(std::integral_constant<int, 32>{});
    case 48: return f(std::integral_constant<int, 48>{});
    case 64: return f(std::integral_constant<int, 64>{});
  }
  if constexpr (kMax > 64) switch (dh) {
      case 80: return f(std::integral_constant<int, 80>{});
      case 96: return f(std::integral_constant<int, 96>{});
      case 112: return f(std::integral_constant<int, 112>{});
      case 128: return f(std::integral_constant<int, 128>{});
    }
}

// attention_forward / attention_backward (kernels/attention.h) for heads of 32 to kMax channels.
template <class V, int kMax>
void tiled_forward(int64_t dh, float* out, int64_t ld_out, float* stats, const float* q, const float* k,
                   const float* v, int64_t ld, int64_t N, float scale, float* scratch) {
  with_tiled_head<kMax>(dh, [&](auto D) {
    tiled_forward_t<V, D()>(out, ld_out, stats, q, k, v, ld, N, scale, scratch);
  });
}

template <class V, int kMax>
void tiled_backward(int64_t dh, float* d_q, float* d_k, float* d_v, const float* d_out, const float* out,
                    int64_t ld_out, const float* stats, const float* q, const float* k, const float* v, int64_t ld,
                    int64_t N, float scale, float* scratch) {
  with_tiled_head<kMax>(dh, [&](auto D) {
    tiled_backward_t<V, D()>(d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
  });
}

}  // namespace
}  // namespace pmx::kernels::detail
