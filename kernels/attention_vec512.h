// The 16-lane float vector that the attention kernels' bodies (kernels/attention_small_head.h,
// kernels/attention_tiled.h) are written against, on AVX-512F. For the AVX-512 kernel files only:
// include it AFTER their `#pragma GCC target("avx512f")` and kernels/exp_avx512.h. Internal
// linkage, so each file has its own copy, compiled for AVX-512.
#pragma once

namespace pmx::kernels::detail {
namespace {

struct Vec512 {
  using Reg = __m512;
  using Mask = __mmask16;
  static constexpr int64_t kLanes = 16;
  static constexpr int kRegisters = 32;
  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg set1(float x) { return _mm512_set1_ps(x); }
  static Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Reg a) { _mm512_storeu_ps(p, a); }
  static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg fmadd(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  [[gnu::always_inline]] static Reg exp(Reg a) { return avx512::exp16(a); }
  static Mask first_lanes(int64_t n) { return n >= kLanes ? Mask(0xFFFF) : n <= 0 ? Mask(0) : Mask((1u << n) - 1); }
  static Reg select(Mask m, Reg a, Reg b) { return _mm512_mask_blend_ps(m, b, a); }
  static Reg keep(Mask m, Reg a) { return _mm512_maskz_mov_ps(m, a); }
  static float reduce_add(Reg a) { return _mm512_reduce_add_ps(a); }
  static float reduce_max(Reg a) { return _mm512_reduce_max_ps(a); }
  static float first(Reg a) { return _mm512_cvtss_f32(a); }
};

}  // namespace
}  // namespace pmx::kernels::detail
