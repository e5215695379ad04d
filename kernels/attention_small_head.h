// The small-head attention kernel's body, written once for a vector type V and compiled twice:
// kernels/attention_small_head_avx512.cpp (V = 16 float lanes, AVX-512F) and
// kernels/attention_small_head_avx2.cpp (8 lanes, AVX2). What it computes and why: the first
// of those files. Not a public header: include it only from those two, after their standard
// headers (and the AVX-512 file's target pragma); everything here has internal linkage, so each file keeps its own
// copy, compiled for its own instruction set.
//
// V provides: Reg (the vector), Mask, kLanes, zero, set1, load, store (unaligned), add, sub, mul,
// fmadd (a b + c), max, exp (for arguments <= 0), first_lanes(n) (the first min(n, kLanes)
// lanes), select(mask, a, b) (a on the mask, b elsewhere), keep(mask, a) (a on the mask, 0
// elsewhere), reduce_add, reduce_max, first (lane 0).
#pragma once

#include "kernels/attention_prepare.h"
#include "kernels/attention_small_head_layout.h"

namespace pmx::kernels::detail {
namespace {

using small_head::ds_block_rows;
using small_head::padded;
using small_head::transposed_stride;

// Keys a loop over whole vectors of V sweeps: N rounded up to V::kLanes (at most padded(N)).
template <class V>
inline int64_t swept(int64_t N) { return (N + V::kLanes - 1) / V::kLanes * V::kLanes; }

// The parts of the scratch buffer (kernels/attention_small_head_layout.h).
struct Work {
  int64_t lt;  // row stride of the transposed arrays
  float* kt;   // (dh, lt): K transposed, zero after N
  float* vt;   // (dh, lt): V transposed
  float* dvt;  // (dh, lt): the backward's dV, transposed, summed over blocks of rows
  float* dkt;  // (dh, lt): its dK likewise
  float* qs;   // (N, dh): scale * Q, rows dh apart
  float* row;  // (2, Np): two rows of scores (forward), or D_i (backward, N of them)
  float* ds;   // (ds_block_rows(N), Np): the backward's dS of a block of rows, for its dQ pass
};

template <int DH>
Work prepare(float* scratch, const float* q, const float* k, const float* v, int64_t ld, int64_t N,
             float scale) {
  const int64_t lt = transposed_stride(N);
  float* qs = scratch + 4 * DH * lt;
  float* row = qs + DH * N;
  Work w{lt, scratch, scratch + DH * lt, scratch + 2 * DH * lt, scratch + 3 * DH * lt, qs, row,
         row + 2 * padded(N)};
  copy_transposed(w.kt, k, ld, N, lt, DH);
  copy_transposed(w.vt, v, ld, N, lt, DH);
  copy_scaled(w.qs, q, ld, N, DH, scale);
  return w;
}

// sum_c x[c] t[c][j0 .. j0+lanes-1] (t: dh rows, lt apart) in two partial sums, even and odd c
// (half the dependency chain of one FMA after another). The scores (x = qs_i, t = K^T) are
// computed only here, so the backward's scores are the forward's bits; dP_ij (x = dO_i, t = V^T)
// too.
template <class V, int DH>
[[gnu::always_inline]] inline typename V::Reg dot(const float* x, const float* t, int64_t lt, int64_t j0) {
  using Reg = typename V::Reg;
  Reg even = V::mul(V::set1(x[0]), V::load(t + j0));
  if (DH == 1) return even;
  Reg odd = V::mul(V::set1(x[1]), V::load(t + lt + j0));
  #pragma GCC unroll 16
  for (int c = 2; c < DH; c += 2) {
    even = V::fmadd(V::set1(x[c]), V::load(t + c * lt + j0), even);
    if (c + 1 < DH) odd = V::fmadd(V::set1(x[c + 1]), V::load(t + (c + 1) * lt + j0), odd);
  }
  return V::add(even, odd);
}

// P = exp(s - m) r on the keys that exist, 0 on the padding: the backward's probabilities.
template <class V>
[[gnu::always_inline]] inline typename V::Reg probs(typename V::Reg s, typename V::Reg m, typename V::Reg r,
                                                 typename V::Mask valid) {
  return V::keep(valid, V::mul(V::exp(V::sub(s, m)), r));
}

// Query rows i0 .. i0+R-1 together: each chunk of K^T and V^T then comes from the L2 once for
// R rows (at N = 1024, dh = 8 the two are 64 KiB, more than the L1), and the R rows' exps are
// independent work for the core to overlap. Each row's arithmetic is the same whatever R.
template <class V, int DH, int R>
void forward_rows(int64_t i0, float* out, int64_t ld_out, float* stats, const Work& w, int64_t N) {
  using Reg = typename V::Reg;
  const int64_t Np = padded(N), Nv = swept<V>(N);  // row length, keys swept
  Reg top[R];
  for (int r = 0; r < R; ++r) top[r] = V::set1(-INFINITY);
  for (int64_t j0 = 0; j0 < Nv; j0 += V::kLanes) {  // the scores, and their maximum per row
    const typename V::Mask valid = V::first_lanes(N - j0);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const Reg s = V::select(valid, dot<V, DH>(w.qs + (i0 + r) * DH, w.kt, w.lt, j0), V::set1(-INFINITY));
      V::store(w.row + r * Np + j0, s);
      top[r] = V::max(top[r], s);
    }
  }
  Reg m[R], acc[R][DH], total[R];
  for (int r = 0; r < R; ++r) {
    m[r] = V::set1(V::reduce_max(top[r]));
    total[r] = V::zero();
    for (int c = 0; c < DH; ++c) acc[r][c] = V::zero();
  }
  for (int64_t j0 = 0; j0 < Nv; j0 += V::kLanes) {  // e = exp(s - m), their sum, and sum_j e_j v_j
    const typename V::Mask valid = V::first_lanes(N - j0);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const Reg e = V::keep(valid, V::exp(V::sub(V::load(w.row + r * Np + j0), m[r])));
      total[r] = V::add(total[r], e);
      #pragma GCC unroll 16
      for (int c = 0; c < DH; ++c) acc[r][c] = V::fmadd(e, V::load(w.vt + c * w.lt + j0), acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const int64_t i = i0 + r;
    const float inv = 1.f / V::reduce_add(total[r]);
    for (int c = 0; c < DH; ++c) out[i * ld_out + c] = V::reduce_add(acc[r][c]) * inv;
    stats[2 * i] = V::first(m[r]);
    stats[2 * i + 1] = inv;
  }
}

template <class V, int DH>
void forward_t(float* out, int64_t ld_out, float* stats, const float* q, const float* k, const float* v,
               int64_t ld, int64_t N, float scale, float* scratch) {
  const Work w = prepare<DH>(scratch, q, k, v, ld, N, scale);
  int64_t i = 0;
  for (; i + 2 <= N; i += 2) forward_rows<V, DH, 2>(i, out, ld_out, stats, w, N);
  if (i < N) forward_rows<V, DH, 1>(i, out, ld_out, stats, w, N);
}

// Keys outer, rows i0 .. i1-1 inner: dV and dK of a vector of keys at a time, accumulated over
// the rows in registers, then added to w.dvt / w.dkt; each row's dS is kept in w.ds for dq_rows.
template <class V, int DH>
void key_sweep(const float* d_out, int64_t ld_out, const float* stats, const Work& w, int64_t N, int64_t i0,
               int64_t i1) {
  using Reg = typename V::Reg;
  const int64_t Np = padded(N), Nv = swept<V>(N);  // row length, keys swept
  for (int64_t j0 = 0; j0 < Nv; j0 += V::kLanes) {
    const typename V::Mask valid = V::first_lanes(N - j0);
    Reg acc_v[DH], acc_k[DH];
    for (int c = 0; c < DH; ++c) acc_v[c] = acc_k[c] = V::zero();
    auto row = [&](int64_t i) __attribute__((always_inline)) {  // row i's part of these keys' dV and dK
      const float* qs_i = w.qs + i * DH;
      const float* g = d_out + i * ld_out;
      const Reg p = probs<V>(dot<V, DH>(qs_i, w.kt, w.lt, j0), V::set1(stats[2 * i]),
                               V::set1(stats[2 * i + 1]), valid);
      const Reg ds = V::mul(p, V::sub(dot<V, DH>(g, w.vt, w.lt, j0), V::set1(w.row[i])));
      V::store(w.ds + (i - i0) * Np + j0, ds);
      #pragma GCC unroll 16
      for (int c = 0; c < DH; ++c) {
        acc_v[c] = V::fmadd(p, V::set1(g[c]), acc_v[c]);
        acc_k[c] = V::fmadd(ds, V::set1(qs_i[c]), acc_k[c]);
      }
    };
    int64_t i = i0;
    for (; i + 2 <= i1; i += 2) row(i), row(i + 1);  // two rows per step: independent exps to overlap
    if (i < i1) row(i);
    #pragma GCC unroll 16
    for (int c = 0; c < DH; ++c) {  // onto the transposed sums of the blocks before
      float* v_c = w.dvt + c * w.lt + j0;
      float* k_c = w.dkt + c * w.lt + j0;
      V::store(v_c, V::add(V::load(v_c), acc_v[c]));
      V::store(k_c, V::add(V::load(k_c), acc_k[c]));
    }
  }
}

// dQ_i = scale sum_j dS_ij k_j for rows i .. i+R-1, from the dS the key sweep kept (row i of the
// block at ds): a vector of keys per step, summed across lanes at the end.
template <class V, int DH, int R>
void dq_rows(int64_t i, float* d_q, const float* ds, const Work& w, int64_t ld, int64_t N, float scale) {
  using Reg = typename V::Reg;
  const int64_t Np = padded(N), Nv = swept<V>(N);
  Reg acc[R][DH];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < DH; ++c) acc[r][c] = V::zero();
  for (int64_t j0 = 0; j0 < Nv; j0 += V::kLanes) {
    Reg d[R];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) d[r] = V::load(ds + r * Np + j0);
    #pragma GCC unroll 16
    for (int c = 0; c < DH; ++c) {
      const Reg kc = V::load(w.kt + c * w.lt + j0);
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) acc[r][c] = V::fmadd(d[r], kc, acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < DH; ++c) d_q[(i + r) * ld + c] = scale * V::reduce_add(acc[r][c]);
}

template <class V, int DH>
void backward_t(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out, int64_t ld_out,
                const float* stats, const float* q, const float* k, const float* v, int64_t ld, int64_t N,
                float scale, float* scratch) {
  Work w = prepare<DH>(scratch, q, k, v, ld, N, scale);
  output_dots(w.row, d_out, out, ld_out, N, DH);  // D_i = dO_i . O_i, in w.row
  std::fill(w.dvt, w.dvt + 2 * DH * w.lt, 0.f);  // dvt and dkt, one after the other
  const int64_t rows = ds_block_rows(N), Np = padded(N);
  for (int64_t i0 = 0; i0 < N; i0 += rows) {  // a block of rows: dV and dK over it, keeping dS; then dQ
    const int64_t i1 = std::min(N, i0 + rows);
    key_sweep<V, DH>(d_out, ld_out, stats, w, N, i0, i1);
    int64_t i = i0;
    for (; i + 2 <= i1; i += 2) dq_rows<V, DH, 2>(i, d_q, w.ds + (i - i0) * Np, w, ld, N, scale);
    if (i < i1) dq_rows<V, DH, 1>(i, d_q, w.ds + (i - i0) * Np, w, ld, N, scale);
  }
  for (int64_t j = 0; j < N; ++j)  // the transposed sums onto d_v and d_k
    for (int c = 0; c < DH; ++c) {
      d_v[j * ld + c] += w.dvt[c * w.lt + j];
      d_k[j * ld + c] += w.dkt[c * w.lt + j];
    }
}

// The call's dh as a compile-time constant: Dispatch<V, 16> tries 16, 15, ..., 1.
template <class V, int DH>
struct Dispatch {
  static void forward(int64_t dh, float* out, int64_t ld_out, float* stats, const float* q, const float* k,
                      const float* v, int64_t ld, int64_t N, float scale, float* scratch) {
    if (dh == DH) return forward_t<V, DH>(out, ld_out, stats, q, k, v, ld, N, scale, scratch);
    if constexpr (DH > 1) Dispatch<V, DH - 1>::forward(dh, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
  }
  static void backward(int64_t dh, float* d_q, float* d_k, float* d_v, const float* d_out, const float* out,
                       int64_t ld_out, const float* stats, const float* q, const float* k, const float* v,
                       int64_t ld, int64_t N, float scale, float* scratch) {
    if (dh == DH)
      return backward_t<V, DH>(d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
    if constexpr (DH > 1)
      Dispatch<V, DH - 1>::backward(dh, d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
  }
};

}  // namespace
}  // namespace pmx::kernels::detail
