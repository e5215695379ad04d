// Fast mixing kernels (see kernels/mixing.h for the math and the contracts).
//
// Layout of the work: rows of every batch element are cut into tiles of a few KiB; tiles are
// split statically across OpenMP threads and each tile is finished by one thread, so every
// output row has one owner and its arithmetic never depends on the thread count. Inside a tile
// a "row kernel" does the work; there are three sets of row kernels:
//   - AVX-512 (kernels/mixing_avx512.cpp), picked at run time when the CPU has it,
//   - AVX2 + FMA (kernels/mixing_avx2.cpp; the library's baseline ISA),
//   - portable loops (below; used for double, which only tests and gradchecks need).
// Two row kernels cover forward and backward because the transpose of a circulant pattern is
// again a shifted gather:
//   gather: dst[i] = base[i] + sum_k w[r,k] * src[(i + sh_k) mod N]     (r = i, or the source row)
//     forward: dst = out, base = src = V,    sh_k = o_k,               r = i
//     dV:      dst = dV,  base = src = dOut, sh_k = -o_k (mod N),      r = (i - o_k) mod N
//   dots:   dw[i,k] = <g[i], v[(i + sh_k) mod N]>                      (dW, sh_k = o_k)
// In row order the backward runs dots and gather on the same tile back to back, so the tile's
// dOut rows are read from memory once and served from L1/L2 the second time; in chain order
// (CDIL's large dilations, see TilePlan) it walks each stretch of tiles twice, dots then gather.
// Factors whose sources reach far (CHORD) take a third way instead: one gather of dOut rows
// feeds both gradients (backward_one_gather below; the row kernels in the two ISA files).
#include "kernels/mixing.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <numeric>
#include <type_traits>

#include "core/allocator.h"
#include "core/error.h"
#include "kernels/cpu_features.h"
#include "kernels/mixing_rows.h"

namespace pmx {
namespace kernels {

// ---- offset helpers (user-facing: validate and throw) --------------------------------------

long num_factors(long n, bool use_floor) {
  PMX_CHECK(n >= 2, "[num_factors] sequence length must be >= 2, got ", n);
  // Above 2^62, ceil(log2 n) = 63 factors: more than chord_offsets allows (and 2L << 62 would
  // overflow a shift-and-compare loop, which then never ends).
  PMX_CHECK(n <= kMaxFactorsLen, "[num_factors] sequence length ", n, " is too large: at most 2^62 = ",
            kMaxFactorsLen);
  long fl = 0;
  while ((n >> (fl + 1)) != 0) ++fl;  // fl = floor(log2 n); n >> 63 == 0 ends it for any n > 0
  bool pow2 = (n & (n - 1)) == 0;
  return (use_floor || pow2) ? fl : fl + 1;
}

std::vector<long> chord_offsets(long n, long m_factors) {
  PMX_CHECK(n >= 2, "[chord_offsets] sequence length must be >= 2, got ", n);
  PMX_CHECK(m_factors >= 1 && m_factors <= 62,
            "[chord_offsets] number of factors must be in [1, 62], got ", m_factors);
  std::vector<long> o{0};
  for (long m = 0; m < m_factors; ++m) o.push_back(1L << m);
  return o;
}

std::vector<long> cdil_offsets(long factor_index) {
  PMX_CHECK(factor_index >= 0 && factor_index <= 59,
            "[cdil_offsets] factor index must be in [0, 59], got ", factor_index);
  long s = 1L << factor_index;
  return {0, s, 2 * s, 3 * s, 4 * s, -s, -2 * s, -3 * s, -4 * s};
}

std::vector<long> protocol_offsets(Protocol protocol, long n, long factor_index,
                                   long m_factors) {
  PMX_CHECK(n >= 2, "[protocol_offsets] sequence length must be >= 2, got ", n);
  PMX_CHECK(factor_index >= 0 && factor_index < m_factors, "[protocol_offsets] factor index ",
            factor_index, " out of range for ", m_factors, " factors");
  return protocol == Protocol::Chord ? chord_offsets(n, m_factors) : cdil_offsets(factor_index);
}

// ---- ISA selection ------------------------------------------------------------------------

using detail::RowHints;

namespace {
MixIsa g_forced = MixIsa::Auto;
}  // namespace

void set_mix_isa(MixIsa isa) { g_forced = isa; }

MixIsa mix_isa() {
  if (g_forced == MixIsa::Portable || g_forced == MixIsa::Avx2) return g_forced;
  return cpu_has_avx512f() ? MixIsa::Avx512 : MixIsa::Avx2;
}

namespace {

// ---- portable row kernels (any T; the compiler vectorises the c loops) --------------------

template <class T>
void gather_rows_portable(T* dst, const T* base, const T* src, const T* w, const long* sh,
                          long K, long N, long d, long i0, long i1, bool w_at_src,
                          const RowHints&) {
  for (long i = i0; i < i1; ++i) {
    T* o = dst + i * d;  // accumulate in place: the row stays in L1
    for (long c = 0; c < d; ++c) o[c] = base[i * d + c];
    for (long k = 0; k < K; ++k) {
      long j = i + sh[k];
      if (j >= N) j -= N;
      const T wt = w[(w_at_src ? j : i) * K + k];
      const T* s = src + j * d;
      for (long c = 0; c < d; ++c) o[c] += wt * s[c];
    }
  }
}

template <class T>
void dot_rows_portable(T* dw, const T* g, const T* v, const long* sh, long K, long N, long d,
                       long i0, long i1, const RowHints&) {
  for (long i = i0; i < i1; ++i)
    for (long k = 0; k < K; ++k) {
      long j = i + sh[k];
      if (j >= N) j -= N;
      T acc = 0;
      for (long c = 0; c < d; ++c) acc += g[i * d + c] * v[j * d + c];
      dw[i * K + k] = acc;
    }
}

// ---- drivers ------------------------------------------------------------------------------

template <class T>
struct RowKernels {
  void (*gather)(T*, const T*, const T*, const T*, const long*, long, long, long, long, long, bool,
                 const RowHints&);
  void (*dots)(T*, const T*, const T*, const long*, long, long, long, long, long,
               const RowHints&);
};

template <class T>
RowKernels<T> pick_kernels() {
  return {gather_rows_portable<T>, dot_rows_portable<T>};
}
template <>
RowKernels<float> pick_kernels<float>() {
  switch (mix_isa()) {
    case MixIsa::Avx512: return {detail::gather_rows_avx512, detail::dot_rows_avx512};
    case MixIsa::Avx2: return {detail::gather_rows_avx2, detail::dot_rows_avx2};
    default: return {gather_rows_portable<float>, dot_rows_portable<float>};
  }
}

constexpr long kMaxK = 128;           // slots per row handled without allocating
constexpr long kParallelMin = 1 << 15;  // below this many multiply-adds, stay on one thread

// Outputs at least this big go around the cache with non-temporal stores: they cannot stay in
// the L3 for the next op anyway, and skipping the read-for-ownership saves a third of the
// written traffic. Smaller outputs use regular stores so the next op finds them in cache.
constexpr size_t kStreamBytes = size_t(32) << 20;

// True when rows of row_len elements starting at p are whole 64-byte lines (fp32 only).
template <class T>
bool line_rows(const T* p, long row_len) {
  return std::is_same<T, float>::value && p && row_len % 16 == 0 &&
         (reinterpret_cast<uintptr_t>(p) & 63) == 0;
}

// Rows per tile: about 8 KiB of one (N, d) tensor, so the backward's second pass over the
// tile's dOut rows hits L1. Tile size never changes the arithmetic, only the scheduling.
long tile_rows(long d) { return std::max(8L, 2048 / std::max(1L, d)); }

MixOrder g_order = MixOrder::Auto;

// Rows per tile in chain order: 4 KiB of one (N, d) tensor, so the 9 source tiles a CDIL step
// reads (8 of them the previous step's) stay in L1. (Measured at N = 32768, B = 16, d = 32:
// 4 KiB tiles beat 2, 6 and 8 KiB ones.)
long chain_tile_rows(long d) { return std::max(8L, 1024 / std::max(1L, d)); }

// The chain stride g of offsets sh (reduced to [0, N)) when the kernels walk down chains, else
// 0 (see TilePlan). Worth it once g d floats (an eighth of CDIL's slot span) reach 2 Ki (8 KiB:
// the slots' span, 64 KiB, then no longer fits L1), with g at least a tile. (Measured at
// d = 32, N = 32768, B = 16, per factor: forward at dilations 256-4096 7-9 ms against 9-17 ms
// in row order; forward + backward at dilations 64 and 128 13-13.6 ms against 20-26 ms; at
// dilation 32 no clear difference.)
long chain_stride(const long* sh, long K, long N, long d) {
  if (g_order != MixOrder::Auto) return 0;
  long g = N;
  for (long k = 0; k < K; ++k) g = std::gcd(g, sh[k]);
  return (g < N && g >= chain_tile_rows(d) && g * d >= (1L << 11)) ? g : 0;
}

// The order in which tiles are visited, and how they are dealt out to threads.
//
// Row order (CHORD, small dilations): tile after tile down each sequence; every tile is a
// unit of work. Chain order: when every offset is a multiple of one stride g (CDIL: g = the
// dilation s, reduced with N), row i reads only rows i + c g, so the rows r, r + g, r + 2g, ...
// form a closed chain and the factor is a 1-D filter along each chain. Tiles of G adjacent
// chains are then visited down the chains (rows [r0 + t g, r0 + t g + G) for t = 0, 1, ...):
// the 9 source tiles of one step are 8 of the previous step's plus one new, so each source row
// comes from memory once per factor instead of once per slot (in row order, once g d floats
// exceed the L2, each of the 9 slots streams its own copy of V from L3 or DRAM). A unit of
// work is a stretch of steps of one group of chains. Any order gives the same bits: every
// output row is still computed whole, by one thread, in slot order.
struct TilePlan {
  long N = 0, tile = 0;
  long stride = 0;               // chain order when > 0
  long groups = 0, segments = 1;  // chain order: groups of chains, stretches per group
  long per_batch = 0;            // units per batch element

  TilePlan(const long* sh, long K, long B, long N_, long d, int threads)
      : N(N_), tile(tile_rows(d)), stride(chain_stride(sh, K, N_, d)) {
    if (stride > 0) {
      tile = chain_tile_rows(d);
      const long g = stride;
      groups = (g + tile - 1) / tile;
      const long steps = N / g, want = 4L * std::max(1, threads);
      if (B * groups < want) segments = std::min(steps, (want + B * groups - 1) / (B * groups));
      per_batch = groups * segments;
    } else {
      per_batch = (N + tile - 1) / tile;
    }
  }
  long units(long B) const { return B * per_batch; }
  // Calls f(b, i0, i1) for every tile of unit u, in the order it should run.
  template <class F>
  void for_each_tile(long u, F&& f) const {
    const long b = u / per_batch, r = u % per_batch;
    if (stride == 0) {
      const long i0 = r * tile;
      return f(b, i0, std::min(N, i0 + tile));
    }
    const long group = r / segments, seg = r % segments, steps = N / stride;
    const long r0 = group * tile, r1 = std::min(stride, r0 + tile);
    for (long t = seg * steps / segments, t1 = (seg + 1) * steps / segments; t < t1; ++t)
      f(b, r0 + t * stride, r1 + t * stride);
  }
};

MixBackward g_backward = MixBackward::Auto;

// The one-gather row kernels of the current ISA (nullptr: none; the portable path has none).
struct OneGatherKernels {
  void (*rows)(float*, float*, const float*, const float*, const float*, const long*, long, long,
               long, long, long, bool);
  void (*move)(float*, const float*, const long*, long, long, long, long, bool);
};

OneGatherKernels one_gather_kernels() {
  switch (mix_isa()) {
    case MixIsa::Avx512:
      return {detail::one_gather_rows_avx512, detail::move_dots_rows_avx512};
    case MixIsa::Avx2:
      return {detail::one_gather_rows_avx2, detail::move_dots_rows_avx2};
    default: return {nullptr, nullptr};
  }
}

// The one-gather backward (float, AVX-512 or AVX2, row order), or false when it does not
// apply. Each row's dots land in a slot-major scratch and move to their own rows of dW once the
// whole sequence's are written, so batch elements go in chunks: the chunk's rows (one parallel
// loop), then the move (a second). A chunk's scratch is 4 MiB (or one element's K (N + 16)
// floats if more), so it is still in cache for the move. Auto takes it where some
// slot's source rows are 64 KiB or more away, i.e. where the two-pass dots gather V rows from
// L2 and beyond. Measured at B = 16, d = 32, one thread, backward over a block against two
// passes: CHORD N = 1024 -9 %, 4096 -15 %, 32768 -13 % (about even on two threads); CDIL's
// row-order dilations (all within 16 KiB) +11 to +33 % from N = 4096, so they keep two passes.
// With AVX2 (forced on an AVX-512 Xeon, alternated in one process): CHORD N = 1024 -14 %, 4096
// -14 %, 32768 -24 % (two threads -29 % at 4096 and 32768); CDIL's small dilations mixed (-35 to
// +8 %), so the same rule serves both ISAs.
bool takes_one_gather(const long* sh_f, long K, long N, long d, long chain) {
  const OneGatherKernels og = one_gather_kernels();
  if (g_backward == MixBackward::TwoPass || !og.rows || chain > 0 ||
      !detail::one_gather_handles(K, N, d))
    return false;
  long reach = 0;  // rows to the furthest source, either way round
  for (long k = 0; k < K; ++k) reach = std::max(reach, std::min(sh_f[k], N - sh_f[k]));
  return g_backward == MixBackward::OneGather || reach * d * long(sizeof(float)) >= (64L << 10);
}

template <class T>
bool backward_one_gather(T*, T*, const T*, const T*, const T*, const long*, const long*, long,
                         long, long, long, const TilePlan&, bool, bool) {
  return false;
}
template <>
bool backward_one_gather<float>(float* d_v, float* d_w, const float* d_out, const float* v,
                                const float* w, const long* sh_f, const long* sh_b, long K,
                                long B, long N, long d, const TilePlan& plan, bool stream_v,
                                bool stream_w) {
  if (!d_v || !d_w || !takes_one_gather(sh_f, K, N, d, plan.stride)) return false;
  const OneGatherKernels og = one_gather_kernels();
  const long per = K * (N + 16);                                  // scratch floats per element
  const long chunk = std::max(1L, std::min(B, (1L << 20) / per));  // 4 MiB
  const bool parallel = B * N * d * (K + 1) >= kParallelMin;
  const long threads = parallel ? omp_get_max_threads() : 1;
  // Whole elements per thread while there are enough to go round: a thread then runs an
  // element's rows and its move back to back, and nothing waits on another thread until the
  // end. Split by rows, every chunk costs two barriers (16 chunks per factor at N = 32768),
  // and on a loaded host each barrier can wait out a time slice of a descheduled thread: two
  // threads took 3.8 s against 0.56 s for one at load 3.4 (CHORD backward, bench_mixing). The
  // remainder (B mod threads elements, or all when B < threads) is split by rows as before.
  // Either way every row runs the same code on the same tiles, so the bits do not change.
  const long whole = threads > 1 ? B / threads * threads : 0;
  size_t granted = 0;
  float* dwt = nullptr;
  try {
    dwt = static_cast<float*>(CachingAllocator::instance().allocate(
        size_t(std::max(chunk, whole > 0 ? threads : 1L) * per) * sizeof(float), &granted));
  } catch (const std::bad_alloc&) {
    return false;  // the two-pass backward needs no scratch
  }
  const long tiles = plan.per_batch;  // row order: tiles of plan.tile rows, a multiple of 16
  if (whole > 0) {
#pragma omp parallel num_threads(int(threads))
    {
      float* scratch = dwt + omp_get_thread_num() * per;
#pragma omp for schedule(static)
      for (long b = 0; b < whole; ++b) {
        for (long t = 0; t < tiles; ++t) {
          const long i0 = t * plan.tile, i1 = std::min(N, i0 + plan.tile);
          og.rows(d_v + b * N * d, scratch, d_out + b * N * d, v + b * N * d, w + b * N * K, sh_b, K, N, d, i0,
                  i1, stream_v);
        }
        if (stream_v) _mm_sfence();
        for (long t = 0; t < tiles; ++t) {
          const long i0 = t * plan.tile, i1 = std::min(N, i0 + plan.tile);
          og.move(d_w + b * N * K, scratch, sh_f, K, N, i0, i1, stream_w);
        }
        if (stream_w) _mm_sfence();
      }
    }
  }
  for (long b0 = whole; b0 < B; b0 += chunk) {
    const long units = std::min(chunk, B - b0) * tiles;
    // Unit u: rows [i0, i1) of batch element b0 + u / tiles, whose scratch is the (u / tiles)-th.
    struct Unit {
      long b, i0, i1;
      float* scratch;
    };
    auto unit = [&](long u) {
      const long i0 = (u % tiles) * plan.tile;
      return Unit{b0 + u / tiles, i0, std::min(N, i0 + plan.tile), dwt + (u / tiles) * per};
    };
#pragma omp parallel if (parallel)
    {
#pragma omp for schedule(static)
      for (long u = 0; u < units; ++u) {
        const Unit t = unit(u);
        og.rows(d_v + t.b * N * d, t.scratch, d_out + t.b * N * d, v + t.b * N * d,
                w + t.b * N * K, sh_b, K, N, d, t.i0, t.i1, stream_v);
        if (stream_v) _mm_sfence();
      }
      // (the loop's barrier: every dot of the chunk is in the scratch before any moves)
#pragma omp for schedule(static)
      for (long u = 0; u < units; ++u) {
        const Unit t = unit(u);
        og.move(d_w + t.b * N * K, t.scratch, sh_f, K, N, t.i0, t.i1, stream_w);
        if (stream_w) _mm_sfence();
      }
    }
  }
  CachingAllocator::instance().release(dwt, granted);
  return true;
}

// sh[k] = offsets[k] reduced to [0, N) (offsets may be negative or >= N).
void reduce_offsets(const long* offsets, long K, long N, long* sh) {
  for (long k = 0; k < K; ++k) sh[k] = ((offsets[k] % N) + N) % N;
}

}  // namespace

void set_mix_order(MixOrder order) { g_order = order; }
void set_mix_backward(MixBackward how) { g_backward = how; }

bool mix_backward_one_gather(const long* offsets, long K, long N, long d) {
  if (N <= 0 || K <= 0 || K > kMaxK) return false;
  long sh[kMaxK];
  reduce_offsets(offsets, K, N, sh);
  return takes_one_gather(sh, K, N, d, chain_stride(sh, K, N, d));
}

long mix_chain_stride(const long* offsets, long K, long N, long d) {
  if (N <= 0 || K <= 0 || K > kMaxK) return 0;
  long sh[kMaxK];
  reduce_offsets(offsets, K, N, sh);
  return chain_stride(sh, K, N, d);
}

template <class T>
void mix_forward(T* out, const T* v, const T* w, const long* offsets, long K, long B, long N,
                 long d) {
  if (B <= 0 || N <= 0 || d <= 0) return;
  if (K > kMaxK) return mix_forward_naive(out, v, w, offsets, K, B, N, d);
  long sh[kMaxK];  // offsets reduced to [0, N)
  reduce_offsets(offsets, K, N, sh);
  const RowKernels<T> rk = pick_kernels<T>();
  const TilePlan plan(sh, K, B, N, d, omp_get_max_threads());
  RowHints hints;
  hints.stream = line_rows(out, d) && size_t(B * N * d) * sizeof(T) >= kStreamBytes;
  hints.chain = plan.stride;
#pragma omp parallel for schedule(static) if (B * N * d * (K + 1) >= kParallelMin)
  for (long u = 0; u < plan.units(B); ++u) {
    plan.for_each_tile(u, [&](long b, long i0, long i1) {
      const T* vb = v + b * N * d;  // (N, d)
      rk.gather(out + b * N * d, vb, vb, w + b * N * K, sh, K, N, d, i0, i1, false, hints);
    });
    if (hints.stream) _mm_sfence();  // this thread's non-temporal stores land before the barrier
  }
}

template <class T>
void mix_backward(T* d_v, T* d_w, const T* d_out, const T* v, const T* w, const long* offsets,
                  long K, long B, long N, long d) {
  if (B <= 0 || N <= 0 || (!d_v && !d_w)) return;
  if (K > kMaxK) return mix_backward_naive(d_v, d_w, d_out, v, w, offsets, K, B, N, d);
  long sh_f[kMaxK], sh_b[kMaxK];  // o_k and -o_k, reduced to [0, N)
  reduce_offsets(offsets, K, N, sh_f);
  for (long k = 0; k < K; ++k) sh_b[k] = (N - sh_f[k]) % N;
  const RowKernels<T> rk = pick_kernels<T>();
  // Stream the outputs when together they exceed the cache.
  const size_t out_bytes = size_t(B * N) * ((d_v ? d : 0) + (d_w ? K : 0)) * sizeof(T);
  const TilePlan plan(sh_f, K, B, N, d, omp_get_max_threads());  // -o_k has the same stride as o_k
  RowHints hints_v, hints_w;
  hints_v.stream = out_bytes >= kStreamBytes && line_rows(d_v, d);
  hints_w.stream = out_bytes >= kStreamBytes && line_rows(d_w, K);
  hints_v.chain = hints_w.chain = plan.stride;
  if (backward_one_gather(d_v, d_w, d_out, v, w, sh_f, sh_b, K, B, N, d, plan, hints_v.stream,
                          hints_w.stream))
    return;
#pragma omp parallel for schedule(static) if (B * N * d * (K + 1) >= kParallelMin)
  for (long u = 0; u < plan.units(B); ++u) {
    auto tile = [&](long b, long i0, long i1, bool do_w, bool do_v) {
      const T* gb = d_out + b * N * d;  // (N, d)
      const T* wb = w + b * N * K;      // (N, K)
      if (d_w && do_w) {
        if (d > 0) {
          rk.dots(d_w + b * N * K, gb, v + b * N * d, sh_f, K, N, d, i0, i1, hints_w);
        } else {
          std::fill(d_w + (b * N + i0) * K, d_w + (b * N + i1) * K, T(0));
        }
      }
      if (d_v && d > 0 && do_v)
        rk.gather(d_v + b * N * d, gb, gb, wb, sh_b, K, N, d, i0, i1, true, hints_v);
    };
    // In chain order a step's dW and dV together touch 27 tiles (V, dOut and W around it), more
    // than L1 holds, so the stretch is walked twice: dW, then dV. (CDIL's 7 chain-order factors
    // at N = 32768, B = 16, 1 thread: 87-93 ms against 133-137 ms fused.) In row order the
    // tiles stay fused: dV re-reads the dOut rows dW just brought in.
    if (plan.stride > 0) {
      plan.for_each_tile(u, [&](long b, long i0, long i1) { tile(b, i0, i1, true, false); });
      plan.for_each_tile(u, [&](long b, long i0, long i1) { tile(b, i0, i1, false, true); });
    } else {
      plan.for_each_tile(u, [&](long b, long i0, long i1) { tile(b, i0, i1, true, true); });
    }
    if (hints_v.stream || hints_w.stream) _mm_sfence();
  }
}

#define PMX_INSTANTIATE(T)                                                                     \
  template void mix_forward<T>(T*, const T*, const T*, const long*, long, long, long, long);  \
  template void mix_backward<T>(T*, T*, const T*, const T*, const T*, const long*, long, long, \
                                long, long);
PMX_INSTANTIATE(float)
PMX_INSTANTIATE(double)
#undef PMX_INSTANTIATE

}  // namespace kernels
}  // namespace pmx
