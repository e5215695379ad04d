// machine_peaks.h: the machine's own limits, measured in-process, for benchmarks that report an
// achieved fraction of them. Header-only, shared by the bench programs.
//
//   stream_gbs(n)        best of copy (a = b) and triad (a = b + s c) over n floats per array,
//                        each with regular and with non-temporal stores (32- and, with AVX-512,
//                        64-byte), GB/s, at the current OpenMP thread count. Bytes counted: the
//                        arrays each pass reads or writes, once (copy 2, triad 3); a regular
//                        store's read-for-ownership is not counted, so every figure is useful
//                        bytes per second, the quantity a minimum-traffic byte count divides by
//   peak_fma_gflops()    fp32 FMA throughput with all current threads running independent FMA
//                        chains in registers (AVX-512 when the CPU has it, and AVX2; the better)
//   Both also take an optional double* that receives the best figure over the thread's CPU time
//   instead of wall time (meaningful at one OpenMP thread, where the calling thread does all the
//   work): on a loaded machine, the rate while the thread was running.
//   thread_cpu_seconds() CPU time of the calling thread
//   load_average()       the 1-minute load average: on a shared machine every number depends on it
//   peak_rss_mib()       this process's peak resident set so far
//
// Peak FLOP/s: 2 FLOP per FMA lane. Page faults (~15 us per 4 KiB page here) stay out of the timed
// loops: buffers are touched before they are timed.
//
//   pmx::set_num_threads(1);
//   double gbs = pmx::bench::stream_gbs(1 << 24), gf = pmx::bench::peak_fma_gflops();
#pragma once
#include <immintrin.h>
#include <omp.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/timer.h"

namespace pmx::bench {

// CPU time of the calling thread (with one OpenMP thread: all of a parallel region's work).
inline double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Copy and triad with non-temporal stores: no read-for-ownership of a's lines, which on some
// machines is half again as much useful traffic as regular stores (an Intel Xeon here: 17.8
// against 12.1 GB/s on one thread). The mixing kernels write their large outputs this way, so
// a bound that left these out would not be a lower bound. a must be 32-byte aligned.
inline void copy_streaming(float* a, const float* b, long n) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n / 8; ++i) _mm256_stream_ps(a + 8 * i, _mm256_loadu_ps(b + 8 * i));
  for (long i = n / 8 * 8; i < n; ++i) a[i] = b[i];
  _mm_sfence();
}

inline void triad_streaming(float* a, const float* b, const float* c, long n) {
  const __m256 s = _mm256_set1_ps(0.5f);
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n / 8; ++i)
    _mm256_stream_ps(a + 8 * i,
                     _mm256_fmadd_ps(s, _mm256_loadu_ps(c + 8 * i), _mm256_loadu_ps(b + 8 * i)));
  for (long i = n / 8 * 8; i < n; ++i) a[i] = b[i] + 0.5f * c[i];
  _mm_sfence();
}

// The same with 64-byte stores (whole lines), as the AVX-512 kernels write: 5-10 % more than
// the 32-byte ones on the Intel Xeon. a must be 64-byte aligned.
__attribute__((target("avx512f"))) inline void copy_streaming_avx512(float* a, const float* b,
                                                                     long n) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n / 16; ++i) _mm512_stream_ps(a + 16 * i, _mm512_loadu_ps(b + 16 * i));
  for (long i = n / 16 * 16; i < n; ++i) a[i] = b[i];
  _mm_sfence();
}

__attribute__((target("avx512f"))) inline void triad_streaming_avx512(float* a, const float* b,
                                                                      const float* c, long n) {
  const __m512 s = _mm512_set1_ps(0.5f);
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n / 16; ++i)
    _mm512_stream_ps(a + 16 * i,
                     _mm512_fmadd_ps(s, _mm512_loadu_ps(c + 16 * i), _mm512_loadu_ps(b + 16 * i)));
  for (long i = n / 16 * 16; i < n; ++i) a[i] = b[i] + 0.5f * c[i];
  _mm_sfence();
}

// On caller-owned arrays of n floats each (already touched, so no page faults are timed).
// best_cpu_gbs (if given) is raised to the best GB/s over the thread's CPU time.
inline double stream_gbs(float* a, const float* b, const float* c, long n, int reps = 4,
                         double* best_cpu_gbs = nullptr) {
  const bool aligned = reinterpret_cast<uintptr_t>(a) % 32 == 0;
  const bool wide = reinterpret_cast<uintptr_t>(a) % 64 == 0 && __builtin_cpu_supports("avx512f");
  const double copy_bytes = 2.0 * n * sizeof(float), triad_bytes = 3.0 * n * sizeof(float);
  double best = 0;
  auto timed = [&best, best_cpu_gbs](double bytes, auto&& pass) {  // one pass; keeps the best GB/s
    const double c0 = thread_cpu_seconds();
    pmx::Timer t;
    pass();
    // (CPU time can exceed wall time only by the clock reads' own cost: take the smaller.)
    const double wall = t.seconds(), cpu = std::min(wall, thread_cpu_seconds() - c0);
    best = std::max(best, bytes / wall * 1e-9);
    if (best_cpu_gbs && cpu > 0) *best_cpu_gbs = std::max(*best_cpu_gbs, bytes / cpu * 1e-9);
  };
  auto copy = [&] {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) a[i] = b[i];
  };
  auto triad = [&] {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) a[i] = b[i] + 0.5f * c[i];
  };
  for (int rep = 0; rep < reps; ++rep) {
    timed(copy_bytes, copy);
    timed(triad_bytes, triad);
    if (!aligned) continue;
    timed(copy_bytes, [&] { copy_streaming(a, b, n); });
    timed(triad_bytes, [&] { triad_streaming(a, b, c, n); });
    if (!wide) continue;
    timed(copy_bytes, [&] { copy_streaming_avx512(a, b, n); });
    timed(triad_bytes, [&] { triad_streaming_avx512(a, b, c, n); });
  }
  return best;
}

inline double stream_gbs(long n, int reps = 4) {
  // 64-byte aligned, touched here, outside the timing.
  const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  std::unique_ptr<float, decltype(&std::free)> a(
      static_cast<float*>(std::aligned_alloc(64, bytes)), &std::free);
  if (!a) {
    std::fprintf(stderr, "stream_gbs: cannot allocate %zu bytes\n", bytes);
    std::exit(1);
  }
  std::vector<float> b(n, 1.f), c(n, 2.f);
  std::fill(a.get(), a.get() + n, 0.f);
  return stream_gbs(a.get(), b.data(), c.data(), n, reps);
}

// 16 (AVX-512) or 12 (AVX2) independent chains cover FMA latency x issue width on current
// cores; acc = acc * x + y stays finite. Returns the FLOPs done.
__attribute__((target("avx512f"))) inline double fma_chains_avx512(long iters) {
  __m512 acc[16];
  for (int t = 0; t < 16; ++t) acc[t] = _mm512_set1_ps(float(t));
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i)
    for (int t = 0; t < 16; ++t) acc[t] = _mm512_fmadd_ps(acc[t], x, y);
  __m512 s = acc[0];
  for (int t = 1; t < 16; ++t) s = _mm512_add_ps(s, acc[t]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return iters * 16.0 * 16 * 2;
}

__attribute__((target("avx2,fma"))) inline double fma_chains_avx2(long iters) {
  __m256 acc[12];
  for (int t = 0; t < 12; ++t) acc[t] = _mm256_set1_ps(float(t));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; ++i)
    for (int t = 0; t < 12; ++t) acc[t] = _mm256_fmadd_ps(acc[t], x, y);
  __m256 s = acc[0];
  for (int t = 1; t < 12; ++t) s = _mm256_add_ps(s, acc[t]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  volatile float sink = out[0];
  (void)sink;
  return iters * 12.0 * 8 * 2;
}

// best_cpu_gflops (if given) is raised to the best GFLOP/s over the thread's CPU time.
inline double peak_fma_gflops(long iters = 10000000, int reps = 3,
                              double* best_cpu_gflops = nullptr) {
  const bool has512 = __builtin_cpu_supports("avx512f");
  double best = 0;
  for (int isa = 0; isa < (has512 ? 2 : 1); ++isa)
    for (int rep = 0; rep < reps; ++rep) {
      double flops = 0;
      const double c0 = thread_cpu_seconds();
      pmx::Timer t;
#pragma omp parallel reduction(+ : flops)
      flops += isa == 1 ? fma_chains_avx512(iters) : fma_chains_avx2(iters);
      const double wall = t.seconds(), cpu = std::min(wall, thread_cpu_seconds() - c0);
      best = std::max(best, flops / wall * 1e-9);
      if (best_cpu_gflops && cpu > 0)
        *best_cpu_gflops = std::max(*best_cpu_gflops, flops / cpu * 1e-9);
    }
  return best;
}

inline std::string load_average() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  char buf[64] = "?";
  if (f) {
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
    std::fclose(f);
  }
  std::string s = buf;
  return s.substr(0, s.find(' '));
}

inline double peak_rss_mib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

}  // namespace pmx::bench
