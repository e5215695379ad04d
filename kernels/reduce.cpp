// Reduction kernels (see reduce.h for the layout and the determinism rule).
#include "kernels/reduce.h"

#include <cstring>

namespace pmx {
namespace kernels {

namespace {

constexpr long kParallelMin = 1 << 15;  // elements; below this a parallel region does not pay
constexpr long kChunkMin = 4096;        // shortest chunk of a chunked row sum
constexpr long kMaxChunks = 64;         // a row is cut into at most this many chunks
constexpr long kTile = 64;              // inner columns one task of a column sum owns
constexpr long kFewTasks = 4;           // fewer column tasks than this: split R as well
constexpr long kRowBlockMin = 512;      // shortest row block of a split column sum
constexpr long kMaxRowBlocks = 16;      // a split column sum cuts R into at most this many blocks

// The chunk length of a row of R elements: a function of R only, never of the thread count.
inline long chunk_len(long R) {
  long c = (R + kMaxChunks - 1) / kMaxChunks;
  return c < kChunkMin ? kChunkMin : c;
}

// Sum of x[0, n) in double: 8 interleaved accumulators (so the loop vectorises without
// reassociating anything the compiler would need -ffast-math for), combined in a fixed tree.
template <class T>
double sum_span(const T* x, long n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += double(x[i + j]);
  for (; i < n; ++i) acc[0] += double(x[i]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// x: (R). Chunk sums added in order; the parallel path below computes the very same chunks.
template <class T>
double sum_row(const T* x, long R) {
  const long c = chunk_len(R);
  double total = 0;
  for (long b = 0; b < R; b += c) total += sum_span(x + b, R - b < c ? R - b : c);
  return total;
}

// x: (R). Same bits as sum_row, with the chunks spread over threads.
template <class T>
double sum_row_parallel(const T* x, long R) {
  const long c = chunk_len(R);
  const long chunks = (R + c - 1) / c;  // <= kMaxChunks
  double partial[kMaxChunks];
#pragma omp parallel for schedule(static) if (R > kParallelMin)
  for (long k = 0; k < chunks; ++k) {
    const long b = k * c;
    partial[k] = sum_span(x + b, R - b < c ? R - b : c);
  }
  double total = 0;
  for (long k = 0; k < chunks; ++k) total += partial[k];
  return total;
}

// NaN counts as the largest value, and the first one wins.
template <class T>
inline bool beats(T v, T best) {
  return v > best || (v != v && best == best);
}

// acc[j] = sum over r in [r0, r1) of x[r, j], j < w.  x: (R, inner), offset to a tile.
template <class T>
void column_block(double* acc, const T* x, long r0, long r1, long inner, long w) {
  for (long j = 0; j < w; ++j) acc[j] = 0;
  for (long r = r0; r < r1; ++r) {
    const T* xr = x + r * inner;
    for (long j = 0; j < w; ++j) acc[j] += double(xr[j]);
  }
}

// Column sums with too few (o, tile) tasks to feed the threads, e.g. a bias gradient
// (M, 64) -> (64): R is cut into at most kMaxRowBlocks blocks (a function of R only) whose
// partial sums are added in block order.
template <class T>
void column_sums_split(T* out, const T* x, long outer, long R, long inner) {
  const long tiles = (inner + kTile - 1) / kTile, tasks = outer * tiles;
  long rb = (R + kMaxRowBlocks - 1) / kMaxRowBlocks;
  if (rb < kRowBlockMin) rb = kRowBlockMin;
  const long blocks = (R + rb - 1) / rb;
  double partial[kFewTasks * kMaxRowBlocks * kTile];  // (tasks, blocks, kTile)
#pragma omp parallel for schedule(static) if (outer * R * inner > kParallelMin)
  for (long t = 0; t < tasks * blocks; ++t) {
    const long task = t / blocks, b = t % blocks;
    const long o = task / tiles, i0 = (task % tiles) * kTile;
    const long w = inner - i0 < kTile ? inner - i0 : kTile;
    const long r1 = (b + 1) * rb < R ? (b + 1) * rb : R;
    column_block(partial + t * kTile, x + o * R * inner + i0, b * rb, r1, inner, w);
  }
  for (long task = 0; task < tasks; ++task) {
    const long o = task / tiles, i0 = (task % tiles) * kTile;
    const long w = inner - i0 < kTile ? inner - i0 : kTile;
    for (long j = 0; j < w; ++j) {
      double total = 0;
      for (long b = 0; b < blocks; ++b) total += partial[(task * blocks + b) * kTile + j];
      out[o * inner + i0 + j] = T(total);
    }
  }
}

// Index of the first maximal element of x: (R), R >= 1. A branch-free lane-wise max (it
// vectorises) then a search for the first element equal to it; rows holding a NaN take the
// scalar scan, so NaN still wins.
template <class T>
long first_max(const T* x, long R) {
  if (R >= 16) {
    T lane[8];
    int nan[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; j < 8; ++j) lane[j] = x[j], nan[j] = x[j] != x[j];
    long i = 8;
    for (; i + 8 <= R; i += 8)
      for (int j = 0; j < 8; ++j) {
        const T v = x[i + j];
        lane[j] = v > lane[j] ? v : lane[j];
        nan[j] |= v != v;
      }
    T best = lane[0];
    int any_nan = 0;
    for (int j = 0; j < 8; ++j) best = lane[j] > best ? lane[j] : best, any_nan |= nan[j];
    for (; i < R; ++i) best = x[i] > best ? x[i] : best, any_nan |= x[i] != x[i];
    if (!any_nan) {
      long r = 0;
      while (!(x[r] == best)) ++r;
      return r;
    }
  }
  T best = x[0];
  long arg = 0;
  for (long r = 1; r < R; ++r)
    if (beats(x[r], best)) best = x[r], arg = r;
  return arg;
}

}  // namespace

template <class T>
void sum_forward(T* out, const T* x, long outer, long R, long inner) {
  if (inner == 1) {
    if (outer < 4) {
      for (long o = 0; o < outer; ++o) out[o] = T(sum_row_parallel(x + o * R, R));
    } else {
#pragma omp parallel for schedule(static) if (outer * R > kParallelMin)
      for (long o = 0; o < outer; ++o) out[o] = T(sum_row(x + o * R, R));
    }
    return;
  }
  // Column sums: one task owns (o, a tile of kTile columns) and walks r in order.
  const long tiles = (inner + kTile - 1) / kTile;
  if (outer * tiles < kFewTasks && R >= 2 * kRowBlockMin) {
    column_sums_split(out, x, outer, R, inner);
    return;
  }
#pragma omp parallel for schedule(static) if (outer * R * inner > kParallelMin)
  for (long t = 0; t < outer * tiles; ++t) {
    const long o = t / tiles, i0 = (t % tiles) * kTile;
    const long w = inner - i0 < kTile ? inner - i0 : kTile;
    double acc[kTile];
    column_block(acc, x + o * R * inner + i0, 0, R, inner, w);
    T* oo = out + o * inner + i0;
    for (long j = 0; j < w; ++j) oo[j] = T(acc[j]);
  }
}

template <class T>
void max_forward(T* out, int64_t* idx, const T* x, long outer, long R, long inner) {
  if (inner == 1) {  // rows are contiguous
#pragma omp parallel for schedule(static) if (outer * R > kParallelMin)
    for (long o = 0; o < outer; ++o) {
      const long arg = first_max(x + o * R, R);
      if (out) out[o] = x[o * R + arg];
      idx[o] = arg;
    }
    return;
  }
  const long tiles = (inner + kTile - 1) / kTile;
#pragma omp parallel for schedule(static) if (outer * R * inner > kParallelMin)
  for (long t = 0; t < outer * tiles; ++t) {
    const long o = t / tiles, i0 = (t % tiles) * kTile;
    const long w = inner - i0 < kTile ? inner - i0 : kTile;
    const T* xo = x + o * R * inner + i0;  // (R, inner), offset to the tile
    T best[kTile];
    int64_t arg[kTile];
    for (long j = 0; j < w; ++j) best[j] = xo[j], arg[j] = 0;
    for (long r = 1; r < R; ++r) {
      const T* xr = xo + r * inner;
      for (long j = 0; j < w; ++j)
        if (beats(xr[j], best[j])) best[j] = xr[j], arg[j] = r;
    }
    for (long j = 0; j < w; ++j) {
      if (out) out[o * inner + i0 + j] = best[j];
      idx[o * inner + i0 + j] = arg[j];
    }
  }
}

template <class T>
void max_backward(T* d_x, const T* d_out, const int64_t* idx, long outer, long R, long inner) {
#pragma omp parallel for schedule(static) if (outer * R * inner > kParallelMin)
  for (long o = 0; o < outer; ++o) {
    T* dxo = d_x + o * R * inner;  // (R, inner)
    std::memset(dxo, 0, sizeof(T) * size_t(R * inner));
    for (long i = 0; i < inner; ++i) dxo[idx[o * inner + i] * inner + i] = d_out[o * inner + i];
  }
}

template <class T>
void sum_forward_naive(T* out, const T* x, long outer, long R, long inner) {
  for (long o = 0; o < outer; ++o)
    for (long i = 0; i < inner; ++i) {
      double acc = 0;
      for (long r = 0; r < R; ++r) acc += double(x[(o * R + r) * inner + i]);
      out[o * inner + i] = T(acc);
    }
}

template <class T>
void max_forward_naive(T* out, int64_t* idx, const T* x, long outer, long R, long inner) {
  for (long o = 0; o < outer; ++o)
    for (long i = 0; i < inner; ++i) {
      long arg = 0;
      for (long r = 1; r < R; ++r) {
        T v = x[(o * R + r) * inner + i], best = x[(o * R + arg) * inner + i];
        bool v_nan = v != v, best_nan = best != best;
        if (!best_nan && (v_nan || v > best)) arg = r;
      }
      if (out) out[o * inner + i] = x[(o * R + arg) * inner + i];
      idx[o * inner + i] = arg;
    }
}

template <class T>
void max_backward_naive(T* d_x, const T* d_out, const int64_t* idx, long outer, long R,
                        long inner) {
  for (long o = 0; o < outer; ++o)
    for (long r = 0; r < R; ++r)
      for (long i = 0; i < inner; ++i)
        d_x[(o * R + r) * inner + i] = r == idx[o * inner + i] ? d_out[o * inner + i] : T(0);
}

#define PMX_INSTANTIATE(T)                                                                    \
  template void sum_forward<T>(T*, const T*, long, long, long);                               \
  template void max_forward<T>(T*, int64_t*, const T*, long, long, long);                     \
  template void max_backward<T>(T*, const T*, const int64_t*, long, long, long);              \
  template void sum_forward_naive<T>(T*, const T*, long, long, long);                         \
  template void max_forward_naive<T>(T*, int64_t*, const T*, long, long, long);               \
  template void max_backward_naive<T>(T*, const T*, const int64_t*, long, long, long);
PMX_INSTANTIATE(float)
PMX_INSTANTIATE(double)
#undef PMX_INSTANTIATE

}  // namespace kernels
}  // namespace pmx
