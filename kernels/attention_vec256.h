// The 8-lane float vector that the attention kernels' bodies (kernels/attention_small_head.h,
// kernels/attention_tiled.h) are written against, on AVX2 + FMA (the library's baseline). A mask
// is a vector whose lanes are all ones or 0. Internal linkage, so each file has its own copy.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/exp_avx2.h"

namespace pmx::kernels::detail {
namespace {

// Lane masks for the last, partial vector: first_lanes(n) loads 8 entries from kMaskTable + 8 - n.
alignas(64) constexpr int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

struct Vec256 {
  using Reg = __m256;
  using Mask = __m256;
  static constexpr int64_t kLanes = 8;
  static constexpr int kRegisters = 16;
  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg set1(float x) { return _mm256_set1_ps(x); }
  static Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Reg a) { _mm256_storeu_ps(p, a); }
  static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  [[gnu::always_inline]] static Reg exp(Reg a) { return exp_avx2(a); }
  static Mask first_lanes(int64_t n) {
    n = n < 0 ? 0 : n > kLanes ? kLanes : n;
    return _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + kLanes - n)));
  }
  static Reg select(Mask m, Reg a, Reg b) { return _mm256_blendv_ps(b, a, m); }
  static Reg keep(Mask m, Reg a) { return _mm256_and_ps(m, a); }
  static float reduce_add(Reg a) { return horizontal_sum8(a); }
  static float reduce_max(Reg a) { return horizontal_max8(a); }
  static float first(Reg a) { return _mm256_cvtss_f32(a); }
};

}  // namespace
}  // namespace pmx::kernels::detail
