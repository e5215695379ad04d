// Dot-product attention for small heads (dh <= 16), float, AVX-512F: 16 keys per vector.
// Chosen by kernels/attention.cpp in place of its GEMM path; same contract (attention.h).
//
// Why: with heads of 8 (the Transformer baseline, d = 32 and 4 heads) a score costs 16 FMAs
// of GEMM work, but the GEMM path writes, zeroes, packs and rereads a (block, N) slab of
// scores around them, and OpenBLAS took ~80 % of the step at N = 1024 (perf, Xeon). Here
// the scores stay in registers, except one row of N of them in the forward (L1).
//
// Layout: K and V are first copied transposed, dh rows of Np = N rounded up to 16 (zeros
// after N), so channel c of 16 consecutive keys is one vector. Q is premultiplied by the
// scale: qs_i = scale q_i, so s_ij = qs_i . k_j (summed over c in order, one FMA per c).
//
// Forward, per query row i:
//   s_j = qs_i . k_j for all keys (kept in a row buffer), m_i = max_j s_j;
//   e_j = exp(s_j - m_i), acc_c += e_j v_jc, sum += e_j;  O_ic = (acc_c summed over lanes) r_i,
//   with r_i = 1 / sum and stats_i = (m_i, r_i), as the GEMM path stores them.
// Backward, with P_ij = exp(s_ij - m_i) r_i rebuilt by the forward's own operations (the same
// bits), dP_ij = dO_i . v_j, D_i = dO_i . O_i and dS_ij = P_ij (dP_ij - D_i):
//   keys outer (16 at a time, their dV and dK in registers), rows inner:
//     dV_j += sum_i P_ij dO_i,   dK_j += sum_i dS_ij qs_i   (= scale dS^T Q);
//   rows outer, keys inner:  dQ_i = scale sum_j dS_ij k_j.
// The key sweep keeps 2 dh accumulators; above dh = 8 they outgrow the 32 registers and some live
// in L1, which still beat a sweep each for dV and dK (backward 60.7-61.9 against 67.7-69.2 ns per
// 16 scores at N = 1024, dh = 16; throw-away harness).
//
// The loops over channels and rows carry `#pragma GCC unroll`: without it GCC left some of them
// as loops with their accumulators on the stack (the forward went from 15.4-15.7 to 13.4-13.6 ns
// per 16 scores at N = 1024, dh = 8 with it and two rows per step, throw-away harness).
//
// Compiled with the library's baseline flags (AVX2); the pragma below switches code generation
// to AVX-512F for everything after it (as in attention_avx512.cpp).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/gelu_coeffs.h"  // constants only

#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/exp_avx512.h"  // inline, so only here: after the pragma

namespace pmx::kernels::detail {

namespace {

constexpr int64_t kLanes = 16;

inline int64_t padded(int64_t N) { return (N + kLanes - 1) / kLanes * kLanes; }

// Lanes of the 16 keys from j0 on that exist (j < N).
[[gnu::always_inline]] inline __mmask16 valid_keys(int64_t j0, int64_t N) {
  const int64_t n = N - j0;
  return n >= kLanes ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
}

// Row stride of K^T and V^T: one line more than the padded length, so that the dh rows of a
// chunk do not all fall into one L1 set (with N = 1024 they would be 4 KiB apart, and K^T's and
// V^T's 16 lines of a chunk would compete for 12 ways).
inline int64_t transposed_stride(int64_t N) { return padded(N) + kLanes; }

// The parts of the scratch buffer (attention_scratch_size in attention.cpp counts them).
struct Work {
  int64_t lt; // row stride of kt and vt
  float* kt;  // (dh, lt): K transposed, zero after N
  float* vt;  // (dh, lt): V transposed
  float* qs;  // (N, dh): scale * Q, rows dh apart
  float* row; // (2, Np): two rows of scores (forward), or D_i (backward, N of them)
};

template <int DH>
Work prepare(float* scratch, const float* q, const float* k, const float* v, int64_t ld, int64_t N,
             float scale) {
  const int64_t lt = transposed_stride(N);
  Work w{lt, scratch, scratch + DH * lt, scratch + 2 * DH * lt, scratch + 2 * DH * lt + DH * N};
  for (int c = 0; c < DH; ++c) {
    for (int64_t j = 0; j < N; ++j) w.kt[c * lt + j] = k[j * ld + c];
    std::fill(w.kt + c * lt + N, w.kt + (c + 1) * lt, 0.f);
    for (int64_t j = 0; j < N; ++j) w.vt[c * lt + j] = v[j * ld + c];
    std::fill(w.vt + c * lt + N, w.vt + (c + 1) * lt, 0.f);
  }
  for (int64_t i = 0; i < N; ++i)
    for (int c = 0; c < DH; ++c) w.qs[i * DH + c] = scale * q[i * ld + c];
  return w;
}

// sum_c x[c] t[c][j0 .. j0+15] (t: dh rows, lt apart) in two partial sums, even and odd c: half the
// dependency chain of one FMA after another, which (with the exp behind it) kept too few chunks
// in flight. The scores (x = qs_i, t = K^T) are computed only here, so the backward's scores are
// the forward's bits; dP_ij (x = dO_i, t = V^T) too.
template <int DH>
[[gnu::always_inline]] inline __m512 dot16(const float* x, const float* t, int64_t lt, int64_t j0) {
  __m512 even = _mm512_mul_ps(_mm512_set1_ps(x[0]), _mm512_loadu_ps(t + j0));
  if (DH == 1) return even;
  __m512 odd = _mm512_mul_ps(_mm512_set1_ps(x[1]), _mm512_loadu_ps(t + lt + j0));
  #pragma GCC unroll 16
  for (int c = 2; c < DH; c += 2) {
    even = _mm512_fmadd_ps(_mm512_set1_ps(x[c]), _mm512_loadu_ps(t + c * lt + j0), even);
    if (c + 1 < DH) odd = _mm512_fmadd_ps(_mm512_set1_ps(x[c + 1]), _mm512_loadu_ps(t + (c + 1) * lt + j0), odd);
  }
  return _mm512_add_ps(even, odd);
}

// P = exp(s - m) r on the keys that exist, 0 on the padding: the backward's probabilities.
[[gnu::always_inline]] inline __m512 probs16(__m512 s, __m512 m, __m512 r, __mmask16 valid) {
  return _mm512_maskz_mul_ps(valid, avx512::exp16(_mm512_sub_ps(s, m)), r);
}

// Query rows i0 .. i0+R-1 together: each chunk of K^T and V^T then comes from the L2 once for
// R rows (at N = 1024, dh = 8 the two are 64 KiB, more than the L1), and the R rows' exps are
// independent work for the core to overlap. Each row's arithmetic is the same whatever R.
template <int DH, int R>
void forward_rows(int64_t i0, float* out, int64_t ld_out, float* stats, const Work& w, int64_t N) {
  const int64_t Np = padded(N);
  __m512 top[R];
  for (int r = 0; r < R; ++r) top[r] = _mm512_set1_ps(-INFINITY);
  for (int64_t j0 = 0; j0 < Np; j0 += kLanes) {  // the scores, and their maximum per row
    const __mmask16 valid = valid_keys(j0, N);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 s = _mm512_mask_blend_ps(valid, _mm512_set1_ps(-INFINITY),
                                            dot16<DH>(w.qs + (i0 + r) * DH, w.kt, w.lt, j0));
      _mm512_storeu_ps(w.row + r * Np + j0, s);
      top[r] = _mm512_max_ps(top[r], s);
    }
  }
  __m512 m[R], acc[R][DH], total[R];
  for (int r = 0; r < R; ++r) {
    m[r] = _mm512_set1_ps(_mm512_reduce_max_ps(top[r]));
    total[r] = _mm512_setzero_ps();
    for (int c = 0; c < DH; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  for (int64_t j0 = 0; j0 < Np; j0 += kLanes) {  // e = exp(s - m), their sum, and sum_j e_j v_j
    const __mmask16 valid = valid_keys(j0, N);
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 e = _mm512_maskz_mov_ps(
          valid, avx512::exp16(_mm512_sub_ps(_mm512_loadu_ps(w.row + r * Np + j0), m[r])));
      total[r] = _mm512_add_ps(total[r], e);
      #pragma GCC unroll 16
      for (int c = 0; c < DH; ++c) acc[r][c] = _mm512_fmadd_ps(e, _mm512_loadu_ps(w.vt + c * w.lt + j0), acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    const int64_t i = i0 + r;
    const float inv = 1.f / _mm512_reduce_add_ps(total[r]);
    for (int c = 0; c < DH; ++c) out[i * ld_out + c] = _mm512_reduce_add_ps(acc[r][c]) * inv;
    stats[2 * i] = _mm512_cvtss_f32(m[r]);
    stats[2 * i + 1] = inv;
  }
}

template <int DH>
void forward_t(float* out, int64_t ld_out, float* stats, const float* q, const float* k, const float* v,
               int64_t ld, int64_t N, float scale, float* scratch) {
  const Work w = prepare<DH>(scratch, q, k, v, ld, N, scale);
  int64_t i = 0;
  for (; i + 2 <= N; i += 2) forward_rows<DH, 2>(i, out, ld_out, stats, w, N);
  if (i < N) forward_rows<DH, 1>(i, out, ld_out, stats, w, N);
}

// Keys outer: dV and dK of 16 keys at a time, accumulated over every query row in registers,
// then added to d_v / d_k.
template <int DH>
void key_sweep(float* d_k, float* d_v, const float* d_out, int64_t ld_out, const float* stats, const Work& w,
               int64_t ld, int64_t N) {
  const int64_t Np = padded(N);
  for (int64_t j0 = 0; j0 < Np; j0 += kLanes) {
    const __mmask16 valid = valid_keys(j0, N);
    __m512 acc_v[DH], acc_k[DH];
    for (int c = 0; c < DH; ++c) acc_v[c] = acc_k[c] = _mm512_setzero_ps();
    auto row = [&](int64_t i) __attribute__((always_inline)) {  // row i's part of the 16 keys' dV and dK
      const float* qs_i = w.qs + i * DH;
      const float* g = d_out + i * ld_out;
      const __m512 p = probs16(dot16<DH>(qs_i, w.kt, w.lt, j0), _mm512_set1_ps(stats[2 * i]),
                               _mm512_set1_ps(stats[2 * i + 1]), valid);
      const __m512 ds = _mm512_mul_ps(p, _mm512_sub_ps(dot16<DH>(g, w.vt, w.lt, j0), _mm512_set1_ps(w.row[i])));
      #pragma GCC unroll 16
      for (int c = 0; c < DH; ++c) {
        acc_v[c] = _mm512_fmadd_ps(p, _mm512_set1_ps(g[c]), acc_v[c]);
        acc_k[c] = _mm512_fmadd_ps(ds, _mm512_set1_ps(qs_i[c]), acc_k[c]);
      }
    };
    int64_t i = 0;
    for (; i + 2 <= N; i += 2) row(i), row(i + 1);  // two rows per step: independent exps to overlap
    if (i < N) row(i);
    // Lanes are keys, the arrays channels: add them to the (key, channel) rows.
    alignas(64) float lanes[DH][kLanes];
    const int64_t n = std::min(kLanes, N - j0);
    for (int c = 0; c < DH; ++c) _mm512_store_ps(lanes[c], acc_v[c]);
    for (int64_t j = 0; j < n; ++j)
      for (int c = 0; c < DH; ++c) d_v[(j0 + j) * ld + c] += lanes[c][j];
    for (int c = 0; c < DH; ++c) _mm512_store_ps(lanes[c], acc_k[c]);
    for (int64_t j = 0; j < n; ++j)
      for (int c = 0; c < DH; ++c) d_k[(j0 + j) * ld + c] += lanes[c][j];
  }
}

// Rows outer: dQ_i = scale sum_j dS_ij k_j, 16 keys per chunk, summed across lanes at the end;
// R rows at a time, as in forward_rows.
template <int DH, int R>
void query_rows(int64_t i0, float* d_q, const float* d_out, int64_t ld_out, const float* stats, const Work& w,
                int64_t ld, int64_t N, float scale) {
  const int64_t Np = padded(N);
  __m512 acc[R][DH];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < DH; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t j0 = 0; j0 < Np; j0 += kLanes) {
    const __mmask16 valid = valid_keys(j0, N);
    __m512 ds[R];
    #pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const int64_t i = i0 + r;
      const __m512 p = probs16(dot16<DH>(w.qs + i * DH, w.kt, w.lt, j0), _mm512_set1_ps(stats[2 * i]),
                               _mm512_set1_ps(stats[2 * i + 1]), valid);
      ds[r] = _mm512_mul_ps(p, _mm512_sub_ps(dot16<DH>(d_out + i * ld_out, w.vt, w.lt, j0), _mm512_set1_ps(w.row[i])));
    }
    #pragma GCC unroll 16
    for (int c = 0; c < DH; ++c) {
      const __m512 kc = _mm512_loadu_ps(w.kt + c * w.lt + j0);
      #pragma GCC unroll 16
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(ds[r], kc, acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < DH; ++c) d_q[(i0 + r) * ld + c] = scale * _mm512_reduce_add_ps(acc[r][c]);
}

template <int DH>
void backward_t(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out, int64_t ld_out,
                const float* stats, const float* q, const float* k, const float* v, int64_t ld, int64_t N,
                float scale, float* scratch) {
  Work w = prepare<DH>(scratch, q, k, v, ld, N, scale);
  for (int64_t i = 0; i < N; ++i) {  // D_i = dO_i . O_i, in w.row
    float dot = 0;
    #pragma GCC unroll 16
    for (int c = 0; c < DH; ++c) dot += d_out[i * ld_out + c] * out[i * ld_out + c];
    w.row[i] = dot;
  }
  key_sweep<DH>(d_k, d_v, d_out, ld_out, stats, w, ld, N);
  int64_t i = 0;
  for (; i + 2 <= N; i += 2) query_rows<DH, 2>(i, d_q, d_out, ld_out, stats, w, ld, N, scale);
  if (i < N) query_rows<DH, 1>(i, d_q, d_out, ld_out, stats, w, ld, N, scale);
}

template <int DH>
struct Dispatch {
  static void forward(int64_t dh, float* out, int64_t ld_out, float* stats, const float* q, const float* k,
                      const float* v, int64_t ld, int64_t N, float scale, float* scratch) {
    if (dh == DH) return forward_t<DH>(out, ld_out, stats, q, k, v, ld, N, scale, scratch);
    if constexpr (DH > 1) Dispatch<DH - 1>::forward(dh, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
  }
  static void backward(int64_t dh, float* d_q, float* d_k, float* d_v, const float* d_out, const float* out,
                       int64_t ld_out, const float* stats, const float* q, const float* k, const float* v,
                       int64_t ld, int64_t N, float scale, float* scratch) {
    if (dh == DH)
      return backward_t<DH>(d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
    if constexpr (DH > 1)
      Dispatch<DH - 1>::backward(dh, d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
  }
};

}  // namespace

void attention_forward_small_head(float* out, int64_t ld_out, float* stats, const float* q, const float* k,
                                  const float* v, int64_t ld, int64_t N, int64_t dh, float scale, float* scratch) {
  Dispatch<16>::forward(dh, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
}

void attention_backward_small_head(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out,
                                   int64_t ld_out, const float* stats, const float* q, const float* k,
                                   const float* v, int64_t ld, int64_t N, int64_t dh, float scale,
                                   float* scratch) {
  Dispatch<16>::backward(dh, d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
}

}  // namespace pmx::kernels::detail

#pragma GCC diagnostic pop
#pragma GCC pop_options
