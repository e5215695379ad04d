// Tests of the sparse-factor mixing kernels (kernels/mixing.h): offset tables by hand, forward
// and gradients against an explicit dense (I + W) matrix, fast kernels against their naive twins
// at odd sizes on every code path the CPU has, bit-identical results at 1 and 2 threads, and a
// central-difference gradient check.
#include <doctest/doctest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/threads.h"
#include "kernels/mixing.h"

using namespace pmx::kernels;

namespace {

long wrap(long a, long n) { return ((a % n) + n) % n; }

// Columns that row i of a factor points to, slot by slot.
std::vector<long> row_columns(const std::vector<long>& o, long n, long i) {
  std::vector<long> cols;
  for (long x : o) cols.push_back(wrap(i + x, n));
  return cols;
}

template <class T>
std::vector<T> uniform(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> x(n);
  for (auto& e : x) e = T(u(gen));
  return x;
}

// Code paths this CPU can run.
std::vector<MixIsa> available_isas() {
  std::vector<MixIsa> isas{MixIsa::Portable, MixIsa::Avx2};
  set_mix_isa(MixIsa::Auto);
  if (mix_isa() == MixIsa::Avx512) isas.push_back(MixIsa::Avx512);
  return isas;
}

// Sets the ISA and the thread count for one scope, restores both after.
struct Setup {
  int threads = pmx::get_num_threads();
  Setup(MixIsa isa, int n) {
    set_mix_isa(isa);
    pmx::set_num_threads(n);
  }
  ~Setup() {
    set_mix_isa(MixIsa::Auto);
    pmx::set_num_threads(threads);
  }
};

// Every (offsets) list a test should cover for length n: CHORD, and CDIL at the first, a
// middle, the last and a too-large dilation (offsets beyond n, colliding slots).
std::vector<std::vector<long>> offset_sets(long n) {
  long m = num_factors(n);
  std::vector<std::vector<long>> sets{chord_offsets(n, m), cdil_offsets(0), cdil_offsets(m / 2),
                                      cdil_offsets(m - 1), cdil_offsets(m + 2)};
  return sets;
}

}  // namespace

TEST_CASE("mixing: num_factors and offset tables") {
  CHECK(num_factors(2) == 1);
  CHECK(num_factors(3) == 2);
  CHECK(num_factors(3, true) == 1);
  CHECK(num_factors(8) == 3);
  CHECK(num_factors(16) == 4);
  CHECK(num_factors(1000) == 10);
  CHECK(num_factors(1000, true) == 9);
  CHECK(num_factors(32768) == 15);

  // CHORD, N = 8, M = 3: every row by hand.
  auto o8 = chord_offsets(8, 3);
  CHECK(o8 == std::vector<long>{0, 1, 2, 4});
  const long chord8[8][4] = {{0, 1, 2, 4}, {1, 2, 3, 5}, {2, 3, 4, 6}, {3, 4, 5, 7},
                             {4, 5, 6, 0}, {5, 6, 7, 1}, {6, 7, 0, 2}, {7, 0, 1, 3}};
  for (long i = 0; i < 8; ++i)
    CHECK(row_columns(o8, 8, i) == std::vector<long>(chord8[i], chord8[i] + 4));
  // CHORD, N = 16 and N = 1000.
  auto o16 = chord_offsets(16, 4);
  CHECK(row_columns(o16, 16, 0) == std::vector<long>{0, 1, 2, 4, 8});
  CHECK(row_columns(o16, 16, 15) == std::vector<long>{15, 0, 1, 3, 7});
  CHECK(row_columns(o16, 16, 9) == std::vector<long>{9, 10, 11, 13, 1});
  auto o1000 = chord_offsets(1000, num_factors(1000));
  CHECK(o1000.size() == 11);
  CHECK(row_columns(o1000, 1000, 999) ==
        std::vector<long>{999, 0, 1, 3, 7, 15, 31, 63, 127, 255, 511});
  CHECK(row_columns(o1000, 1000, 500) ==
        std::vector<long>{500, 501, 502, 504, 508, 516, 532, 564, 628, 756, 12});

  // CDIL: slot order [0, s, 2s, 3s, 4s, -s, -2s, -3s, -4s]; collisions kept.
  CHECK(cdil_offsets(0) == std::vector<long>{0, 1, 2, 3, 4, -1, -2, -3, -4});
  CHECK(row_columns(cdil_offsets(0), 8, 0) == std::vector<long>{0, 1, 2, 3, 4, 7, 6, 5, 4});
  CHECK(row_columns(cdil_offsets(1), 8, 3) == std::vector<long>{3, 5, 7, 1, 3, 1, 7, 5, 3});
  CHECK(row_columns(cdil_offsets(2), 8, 0) == std::vector<long>{0, 4, 0, 4, 0, 4, 0, 4, 0});
  CHECK(row_columns(cdil_offsets(3), 16, 0) == std::vector<long>{0, 8, 0, 8, 0, 8, 0, 8, 0});
  CHECK(row_columns(cdil_offsets(0), 16, 15) ==
        std::vector<long>{15, 0, 1, 2, 3, 14, 13, 12, 11});
  CHECK(row_columns(cdil_offsets(9), 1000, 0) ==
        std::vector<long>{0, 512, 24, 536, 48, 488, 976, 464, 952});
  CHECK(protocol_offsets(Protocol::Chord, 8, 2, 3) == o8);
  CHECK(protocol_offsets(Protocol::Cdil, 16, 3, 4) == cdil_offsets(3));
}

TEST_CASE("mixing: num_factors handles n up to 2^62 and names a larger n instead of looping forever") {
  const long max_n = 1L << 62;
  CHECK(num_factors(max_n) == 62);
  CHECK(num_factors(max_n, true) == 62);
  CHECK(num_factors(max_n - 1) == 62);
  CHECK(num_factors(max_n - 1, true) == 61);
  CHECK(num_factors((1L << 61) + 1) == 62);
  CHECK(num_factors((1L << 61) + 1, true) == 61);
  CHECK(chord_offsets(max_n, num_factors(max_n)).size() == 63);
  CHECK_THROWS_WITH_AS(num_factors(max_n + 1), doctest::Contains("4611686018427387905"), pmx::Error);
  CHECK_THROWS_WITH_AS(num_factors(LONG_MAX, true), doctest::Contains("9223372036854775807"), pmx::Error);
  CHECK_THROWS_WITH_AS(num_factors(-5), doctest::Contains("-5"), pmx::Error);
}

TEST_CASE("mixing: helpers reject bad arguments") {
  CHECK_THROWS_AS(num_factors(1), pmx::Error);
  CHECK_THROWS_AS(chord_offsets(1, 1), pmx::Error);
  CHECK_THROWS_AS(chord_offsets(8, 0), pmx::Error);
  CHECK_THROWS_AS(cdil_offsets(-1), pmx::Error);
  CHECK_THROWS_AS(protocol_offsets(Protocol::Cdil, 8, 3, 3), pmx::Error);
  CHECK_THROWS_AS(protocol_offsets(Protocol::Chord, 0, 0, 3), pmx::Error);
}

TEST_CASE("mixing: the kernel's pattern is the table, collisions add") {
  // V = I (d = N) makes out = I + W_dense, so the kernel itself shows which columns it reads.
  for (MixIsa isa : available_isas()) {
    Setup s(isa, 1);
    const long n = 16;
    std::vector<float> v(n * n, 0.f), w(n * 9, 1.f), out(n * n);
    for (long i = 0; i < n; ++i) v[i * n + i] = 1.f;
    auto o = cdil_offsets(3);  // row 0 -> [0,8,0,8,0,8,0,8,0]
    mix_forward(out.data(), v.data(), w.data(), o.data(), 9, 1, n, n);
    CHECK(out[0] == 6.f);  // identity + 5 slots on column 0
    CHECK(out[8] == 4.f);  // 4 slots on column 8
    float rest = 0.f;
    for (long c = 0; c < n; ++c)
      if (c != 0 && c != 8) rest += std::fabs(out[c]);
    CHECK(rest == 0.f);
    auto o8 = chord_offsets(8, 3);
    std::vector<float> v8(64, 0.f), w8(8 * 4, 1.f), out8(64);
    for (long i = 0; i < 8; ++i) v8[i * 8 + i] = 1.f;
    mix_forward(out8.data(), v8.data(), w8.data(), o8.data(), 4, 1, 8, 8);
    const float row7[8] = {1, 1, 0, 1, 0, 0, 0, 2};  // row 7 -> [7, 0, 1, 3], plus identity
    for (long c = 0; c < 8; ++c) CHECK(out8[7 * 8 + c] == row7[c]);
  }
}

TEST_CASE("mixing: forward and gradients match the dense (I + W) matrix") {
  const long B = 2, d = 3;
  for (long n : {5L, 8L, 13L, 64L})
    for (const auto& o : offset_sets(n)) {
      const long K = (long)o.size();
      auto v = uniform<double>(B * n * d, 1), w = uniform<double>(B * n * K, 2);
      auto g = uniform<double>(B * n * d, 3);  // dOut
      std::vector<double> out(B * n * d), dv(B * n * d), dw(B * n * K);
      std::vector<double> out_n(B * n * d), dv_n(B * n * d), dw_n(B * n * K);
      mix_forward(out.data(), v.data(), w.data(), o.data(), K, B, n, d);
      mix_backward(dv.data(), dw.data(), g.data(), v.data(), w.data(), o.data(), K, B, n, d);
      mix_forward_naive(out_n.data(), v.data(), w.data(), o.data(), K, B, n, d);
      mix_backward_naive(dv_n.data(), dw_n.data(), g.data(), v.data(), w.data(), o.data(), K, B,
                         n, d);
      for (long b = 0; b < B; ++b) {
        std::vector<double> A(n * n, 0.0);  // A = I + W as an explicit N x N matrix
        for (long i = 0; i < n; ++i) {
          A[i * n + i] += 1.0;
          for (long k = 0; k < K; ++k) A[i * n + wrap(i + o[k], n)] += w[(b * n + i) * K + k];
        }
        const double* vb = &v[b * n * d];
        const double* gb = &g[b * n * d];
        for (long i = 0; i < n; ++i)
          for (long c = 0; c < d; ++c) {
            double ref = 0, ref_dv = 0;  // (A V)[i,c] and (A^T dOut)[i,c]
            for (long j = 0; j < n; ++j) {
              ref += A[i * n + j] * vb[j * d + c];
              ref_dv += A[j * n + i] * gb[j * d + c];
            }
            const long at = (b * n + i) * d + c;
            CHECK(out[at] == doctest::Approx(ref).epsilon(1e-12));
            CHECK(out_n[at] == doctest::Approx(ref).epsilon(1e-12));
            CHECK(dv[at] == doctest::Approx(ref_dv).epsilon(1e-12));
            CHECK(dv_n[at] == doctest::Approx(ref_dv).epsilon(1e-12));
          }
        for (long i = 0; i < n; ++i)
          for (long k = 0; k < K; ++k) {
            double ref = 0;
            for (long c = 0; c < d; ++c) ref += gb[i * d + c] * vb[wrap(i + o[k], n) * d + c];
            CHECK(dw[(b * n + i) * K + k] == doctest::Approx(ref).epsilon(1e-12));
            CHECK(dw_n[(b * n + i) * K + k] == doctest::Approx(ref).epsilon(1e-12));
          }
      }
    }
}

TEST_CASE("mixing: fast float kernels match the naive twins at odd sizes") {
  const long B = 2;
  auto close = [](const std::vector<float>& a, const std::vector<float>& b) {
    for (size_t i = 0; i < a.size(); ++i)
      if (!(std::fabs(a[i] - b[i]) <= 1e-5f * (1.f + std::fabs(b[i])) * 8.f)) return false;
    return true;
  };
  struct Case {
    long n;
    std::vector<std::vector<long>> sets;
    std::vector<long> dims;
  };
  std::vector<Case> cases;
  for (long n : {2L, 3L, 7L, 33L, 100L}) {
    Case c{n, offset_sets(n), {1, 3, 16, 17, 32, 33, 64, 70, 128}};  // 16, 32, 64, 128: AVX-512 compile-time d
    c.sets.push_back(chord_offsets(n, 20));  // K = 21: more than one 16-slot group, offsets > N
    cases.push_back(c);
  }
  // The AVX-512 gather fixes K = 9 .. 16 at compile time for d = 32: each of them, and around.
  Case fixed_k{301, {}, {32}};
  for (long K = 8; K <= 17; ++K) fixed_k.sets.push_back(chord_offsets(301, K - 1));
  cases.push_back(fixed_k);
  for (MixIsa isa : available_isas()) {
    Setup s(isa, 2);
    for (const Case& c : cases) {
      const long n = c.n;
      for (const auto& o : c.sets)
        for (long d : c.dims) {
          CAPTURE(static_cast<int>(isa));
          CAPTURE(n);
          CAPTURE(d);
          CAPTURE(o.size());
          const long K = (long)o.size();
          auto v = uniform<float>(B * n * d, 4), w = uniform<float>(B * n * K, 5);
          auto g = uniform<float>(B * n * d, 6);
          // Outputs start as NaN: the kernels must overwrite every element.
          std::vector<float> out(B * n * d, NAN), dv(B * n * d, NAN), dw(B * n * K, NAN);
          std::vector<float> out_n(B * n * d), dv_n(B * n * d), dw_n(B * n * K);
          mix_forward(out.data(), v.data(), w.data(), o.data(), K, B, n, d);
          mix_backward(dv.data(), dw.data(), g.data(), v.data(), w.data(), o.data(), K, B, n, d);
          mix_forward_naive(out_n.data(), v.data(), w.data(), o.data(), K, B, n, d);
          mix_backward_naive(dv_n.data(), dw_n.data(), g.data(), v.data(), w.data(), o.data(), K,
                             B, n, d);
          CHECK(close(out, out_n));
          CHECK(close(dv, dv_n));
          CHECK(close(dw, dw_n));
          // Either gradient alone gives the same bits as both together.
          std::vector<float> dv_only(B * n * d, NAN), dw_only(B * n * K, NAN);
          mix_backward(dv_only.data(), (float*)nullptr, g.data(), v.data(), w.data(), o.data(),
                       K, B, n, d);
          mix_backward((float*)nullptr, dw_only.data(), g.data(), v.data(), w.data(), o.data(),
                       K, B, n, d);
          CHECK(std::memcmp(dv_only.data(), dv.data(), dv.size() * sizeof(float)) == 0);
          CHECK(std::memcmp(dw_only.data(), dw.data(), dw.size() * sizeof(float)) == 0);
        }
    }
  }
}

TEST_CASE("mixing: 1 and 2 threads give identical bits") {
  const long B = 3, n = 1000, d = 33;
  for (MixIsa isa : available_isas())
    for (const auto& o : offset_sets(n)) {
      const long K = (long)o.size();
      auto v = uniform<float>(B * n * d, 7), w = uniform<float>(B * n * K, 8);
      auto g = uniform<float>(B * n * d, 9);
      std::vector<float> out[2], dv[2], dw[2];
      for (int t = 0; t < 2; ++t) {
        Setup s(isa, t + 1);
        out[t].assign(B * n * d, 0.f);
        dv[t].assign(B * n * d, 0.f);
        dw[t].assign(B * n * K, 0.f);
        mix_forward(out[t].data(), v.data(), w.data(), o.data(), K, B, n, d);
        mix_backward(dv[t].data(), dw[t].data(), g.data(), v.data(), w.data(), o.data(), K, B,
                     n, d);
      }
      CHECK(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(float)) == 0);
      CHECK(std::memcmp(dv[0].data(), dv[1].data(), dv[0].size() * sizeof(float)) == 0);
      CHECK(std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)) == 0);
    }
  // double (portable path) too.
  auto o = chord_offsets(n, num_factors(n));
  const long K = (long)o.size();
  auto v = uniform<double>(B * n * d, 10), w = uniform<double>(B * n * K, 11);
  auto g = uniform<double>(B * n * d, 12);
  std::vector<double> out[2], dv[2], dw[2];
  for (int t = 0; t < 2; ++t) {
    Setup s(MixIsa::Auto, t + 1);
    out[t].assign(B * n * d, 0.0);
    dv[t].assign(B * n * d, 0.0);
    dw[t].assign(B * n * K, 0.0);
    mix_forward(out[t].data(), v.data(), w.data(), o.data(), K, B, n, d);
    mix_backward(dv[t].data(), dw[t].data(), g.data(), v.data(), w.data(), o.data(), K, B, n, d);
  }
  CHECK(std::memcmp(out[0].data(), out[1].data(), out[0].size() * sizeof(double)) == 0);
  CHECK(std::memcmp(dv[0].data(), dv[1].data(), dv[0].size() * sizeof(double)) == 0);
  CHECK(std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(double)) == 0);
}

TEST_CASE("mixing: the one-gather backward gives the bits of the two-pass one") {
  // With AVX-512 or AVX2 (d = 16, 32, 64) the backward can get dV and dW from one gather of
  // dOut rows (the dots stored by source row, then moved); it must give that ISA's
  // two-pass bits at any N >= 16 (wrap-around, partial row groups), every protocol, 1 and 2
  // threads, and when the batch is split into chunks (N = 32768, K = 16: one element per chunk).
  for (MixIsa isa : available_isas()) {
    if (isa == MixIsa::Portable) continue;  // float only: the portable path has no such kernel
    struct Case { long B, n, d; };
    // N = 20001 at d = 32: CHORD's K = 16, the benchmark's compile-time K, with partial groups.
    for (Case c : {Case{3, 16, 16}, Case{2, 17, 32}, Case{3, 100, 64}, Case{1, 1000, 32},
                   Case{2, 1023, 16}, Case{1, 20001, 32}, Case{2, 32768, 16}})
      for (const auto& o : offset_sets(c.n)) {
        const long K = (long)o.size(), B = c.B, n = c.n, d = c.d;
        if (n > 16384 && K != 16) continue;  // the large cases: CHORD only, to keep it short
        auto v = uniform<float>(B * n * d, 21), w = uniform<float>(B * n * K, 22);
        auto g = uniform<float>(B * n * d, 23);
        for (int threads = 1; threads <= 2; ++threads) {
          Setup s(isa, threads);
          std::vector<float> dv[2], dw[2];
          for (int one = 0; one < 2; ++one) {
            set_mix_backward(one ? MixBackward::OneGather : MixBackward::TwoPass);
            CHECK(mix_backward_one_gather(o.data(), K, n, d) ==
                  (one == 1 && mix_chain_stride(o.data(), K, n, d) == 0));
            dv[one].assign(B * n * d, 0.f);
            dw[one].assign(B * n * K, 0.f);
            mix_backward(dv[one].data(), dw[one].data(), g.data(), v.data(), w.data(), o.data(),
                         K, B, n, d);
          }
          set_mix_backward(MixBackward::Auto);
          CHECK(std::memcmp(dv[0].data(), dv[1].data(), dv[0].size() * sizeof(float)) == 0);
          CHECK(std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)) == 0);
        }
      }
  }
  // Auto takes it where a slot reaches 64 KiB or more away: CHORD at N = 1024, d = 32, not
  // CDIL's first dilations, nor d = 33 (no such row kernel) or N < 16.
  const auto chord = chord_offsets(1024, 10), cdil = cdil_offsets(2);
  CHECK(mix_backward_one_gather(chord.data(), 11, 1024, 32));
  CHECK_FALSE(mix_backward_one_gather(chord.data(), 11, 1024, 33));
  CHECK_FALSE(mix_backward_one_gather(cdil.data(), 9, 1024, 32));
  const auto tiny = chord_offsets(8, 3);
  CHECK_FALSE(mix_backward_one_gather(tiny.data(), 4, 8, 32));
}

TEST_CASE("mixing: walking down CDIL's chains gives the bits of row order") {
  // Large dilations are walked chain by chain (rows r, r + s, r + 2s, ...); the result must be
  // bit for bit the row-order one and match the naive twin. Cases: chains of 2-3 rows (wrap
  // collisions), N not a power of two, d not a multiple of 16, a batch of 1 with wide rows
  // (few chain groups: the chains are cut into stretches for the threads).
  struct Case { long B, n, d; };
  for (const Case c : {Case{2, 1024, 32}, Case{2, 1536, 33}, Case{1, 4096, 8}, Case{1, 64, 1024}}) {
    long walked = 0;
    for (long m = 0; (1L << m) < c.n; ++m) {
      const auto o = cdil_offsets(m);
      const long K = (long)o.size(), B = c.B, n = c.n, d = c.d;
      const long stride = mix_chain_stride(o.data(), K, n, d);
      if (stride == 0) continue;
      ++walked;
      CHECK(stride == std::gcd(n, 1L << m));
      auto v = uniform<float>(B * n * d, 30), w = uniform<float>(B * n * K, 31);
      auto g = uniform<float>(B * n * d, 32);
      std::vector<float> out_n(B * n * d), dv_n(B * n * d), dw_n(B * n * K);
      mix_forward_naive(out_n.data(), v.data(), w.data(), o.data(), K, B, n, d);
      mix_backward_naive(dv_n.data(), dw_n.data(), g.data(), v.data(), w.data(), o.data(), K, B,
                         n, d);
      for (MixIsa isa : available_isas()) {
        std::vector<float> out[3], dv[3], dw[3];  // rows 2 threads, chains 1 and 2 threads
        for (int r = 0; r < 3; ++r) {
          Setup s(isa, r == 1 ? 1 : 2);
          set_mix_order(r == 0 ? MixOrder::Rows : MixOrder::Auto);
          out[r].assign(B * n * d, NAN);
          dv[r].assign(B * n * d, NAN);
          dw[r].assign(B * n * K, NAN);
          mix_forward(out[r].data(), v.data(), w.data(), o.data(), K, B, n, d);
          mix_backward(dv[r].data(), dw[r].data(), g.data(), v.data(), w.data(), o.data(), K, B,
                       n, d);
          set_mix_order(MixOrder::Auto);
        }
        CAPTURE(static_cast<int>(isa));
        CAPTURE(n);
        CAPTURE(d);
        CAPTURE(m);
        for (int r = 1; r < 3; ++r) {
          CHECK(std::memcmp(out[0].data(), out[r].data(), out[0].size() * sizeof(float)) == 0);
          CHECK(std::memcmp(dv[0].data(), dv[r].data(), dv[0].size() * sizeof(float)) == 0);
          CHECK(std::memcmp(dw[0].data(), dw[r].data(), dw[0].size() * sizeof(float)) == 0);
        }
        float worst = 0.f;
        for (size_t i = 0; i < out_n.size(); ++i)
          worst = std::max({worst, std::fabs(out[1][i] - out_n[i]), std::fabs(dv[1][i] - dv_n[i])});
        for (size_t i = 0; i < dw_n.size(); ++i)
          worst = std::max(worst, std::fabs(dw[1][i] - dw_n[i]) / std::sqrt(float(d)));
        CHECK(worst < 1e-4f);
      }
    }
    CAPTURE(c.n);
    CHECK(walked >= 1);  // the case reaches the chain walk at all
  }
  // Row order for CHORD (no common stride) and for small dilations.
  const auto chord = chord_offsets(1024, 10);
  CHECK(mix_chain_stride(chord.data(), (long)chord.size(), 1024, 32) == 0);
  const auto small = cdil_offsets(2);
  CHECK(mix_chain_stride(small.data(), (long)small.size(), 1024, 32) == 0);
}

TEST_CASE("mixing: backward matches central differences of sum(out * R)") {
  const long B = 2, n = 7, d = 3;
  const double eps = 1e-6;
  for (const auto& o : {chord_offsets(n, num_factors(n)), cdil_offsets(1)}) {
    const long K = (long)o.size();
    auto v = uniform<double>(B * n * d, 13), w = uniform<double>(B * n * K, 14);
    auto r = uniform<double>(B * n * d, 15);  // L = sum(out * R), so dOut = R
    std::vector<double> out(B * n * d), dv(B * n * d), dw(B * n * K);
    auto loss = [&]() {
      mix_forward(out.data(), v.data(), w.data(), o.data(), K, B, n, d);
      double l = 0;
      for (size_t i = 0; i < out.size(); ++i) l += out[i] * r[i];
      return l;
    };
    mix_backward(dv.data(), dw.data(), r.data(), v.data(), w.data(), o.data(), K, B, n, d);
    for (size_t i = 0; i < v.size(); ++i) {
      const double keep = v[i];
      v[i] = keep + eps;
      const double lp = loss();
      v[i] = keep - eps;
      const double lm = loss();
      v[i] = keep;
      CHECK(dv[i] == doctest::Approx((lp - lm) / (2 * eps)).epsilon(1e-7));
    }
    for (size_t i = 0; i < w.size(); ++i) {
      const double keep = w[i];
      w[i] = keep + eps;
      const double lp = loss();
      w[i] = keep - eps;
      const double lm = loss();
      w[i] = keep;
      CHECK(dw[i] == doctest::Approx((lp - lm) / (2 * eps)).epsilon(1e-7));
    }
  }
}

TEST_CASE("mixing: large outputs (non-temporal stores) give the same bits") {
  // Outputs of >= 32 MiB with 64-byte aligned rows take the streaming-store path; the same data
  // one float off alignment take the regular path. Both must agree bit for bit.
  const long B = 16, n = 16384, d = 32, K = 16;
  const auto o = chord_offsets(n, K - 1);
  const size_t nv = B * n * d, nw = B * n * K;
  auto v = uniform<float>(nv, 16), w = uniform<float>(nw, 17), g = uniform<float>(nv, 18);
  // One buffer per output, 64-byte aligned, with one spare float for the misaligned copy.
  auto make = [](size_t count) {
    return std::unique_ptr<float, void (*)(void*)>(
        static_cast<float*>(std::aligned_alloc(64, ((count + 1) * sizeof(float) + 63) / 64 * 64)),
        std::free);
  };
  auto out_a = make(nv), out_u = make(nv), dv_a = make(nv), dv_u = make(nv);
  auto dw_a = make(nw), dw_u = make(nw);
  for (MixIsa isa : available_isas()) {
    Setup s(isa, 2);
    mix_forward(out_a.get(), v.data(), w.data(), o.data(), K, B, n, d);
    mix_forward(out_u.get() + 1, v.data(), w.data(), o.data(), K, B, n, d);
    mix_backward(dv_a.get(), dw_a.get(), g.data(), v.data(), w.data(), o.data(), K, B, n, d);
    mix_backward(dv_u.get() + 1, dw_u.get() + 1, g.data(), v.data(), w.data(), o.data(), K, B,
                 n, d);
    CHECK(std::memcmp(out_a.get(), out_u.get() + 1, nv * sizeof(float)) == 0);
    CHECK(std::memcmp(dv_a.get(), dv_u.get() + 1, nv * sizeof(float)) == 0);
    CHECK(std::memcmp(dw_a.get(), dw_u.get() + 1, nw * sizeof(float)) == 0);
    // CHORD at this size takes the one-gather backward; the two-pass one streams its own dots
    // and dV rows, and must give the same bits too.
    if (isa != MixIsa::Portable) {
      set_mix_backward(MixBackward::TwoPass);
      mix_backward(dv_a.get(), dw_a.get(), g.data(), v.data(), w.data(), o.data(), K, B, n, d);
      set_mix_backward(MixBackward::Auto);
      CHECK(std::memcmp(dv_a.get(), dv_u.get() + 1, nv * sizeof(float)) == 0);
      CHECK(std::memcmp(dw_a.get(), dw_u.get() + 1, nw * sizeof(float)) == 0);
    }
  }
  // Spot check against the naive twin on the first batch element.
  std::vector<float> ref(n * d);
  mix_forward_naive(ref.data(), v.data(), w.data(), o.data(), K, 1, n, d);
  float worst = 0.f;
  for (long i = 0; i < n * d; ++i) worst = std::max(worst, std::fabs(ref[i] - out_a.get()[i]));
  CHECK(worst < 1e-4f);
}
