// The small-head attention kernel (kernels/attention_small_head_avx512.cpp says what it computes
// and why) on AVX2: 8 keys per vector, for CPUs without AVX-512F. Chosen by kernels/attention.cpp
// for float heads of up to 16 channels; its bits differ from the AVX-512 build's (sums run over
// 8 lanes instead of 16). Compiled with the library's baseline flags (AVX2 + FMA).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/exp_avx2.h"

#ifdef PMX_EXP_AVX2  // the library is built with AVX2 + FMA (CMakeLists.txt); kept honest here

namespace pmx::kernels::detail {
namespace {

// Lane masks for the last, partial vector: first_lanes(n) loads 8 entries from kMaskTable + 8 - n.
alignas(64) constexpr int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// The 8-lane vector for attention_small_head.h. A mask is a vector whose lanes are all ones or 0.
struct Vec256 {
  using Reg = __m256;
  using Mask = __m256;
  static constexpr int64_t kLanes = 8;
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
    n = std::clamp<int64_t>(n, 0, kLanes);
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

#include "kernels/attention_small_head.h"

namespace pmx::kernels::detail {

void attention_forward_small_head_avx2(float* out, int64_t ld_out, float* stats, const float* q, const float* k,
                                       const float* v, int64_t ld, int64_t N, int64_t dh, float scale,
                                       float* scratch) {
  Dispatch<Vec256, kSmallHead>::forward(dh, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
}

void attention_backward_small_head_avx2(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out,
                                        int64_t ld_out, const float* stats, const float* q, const float* k,
                                        const float* v, int64_t ld, int64_t N, int64_t dh, float scale,
                                        float* scratch) {
  Dispatch<Vec256, kSmallHead>::backward(dh, d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale,
                                         scratch);
}

}  // namespace pmx::kernels::detail

#endif  // PMX_EXP_AVX2
