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

#include "kernels/attention_vec256.h"
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
