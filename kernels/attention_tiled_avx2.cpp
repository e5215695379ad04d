// The tiled attention kernel (kernels/attention_tiled_avx512.cpp says what it computes and why) on
// AVX2: 8 lanes and 16 registers, so tiles of 6 query rows x 16 keys, 6 rows x 16 channels and
// 3 keys x 16 channels (x 2 for dV and dK). For CPUs without AVX-512F; chosen by
// kernels/attention.cpp for float heads of 32 to 64 channels in steps of 16 where
// AttentionKernel::kAuto says (attention.h: against OpenBLAS kernels without FMA). Its bits
// differ from the AVX-512 build's. Compiled with the library's baseline flags (AVX2 + FMA).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/exp_avx2.h"

#ifdef PMX_EXP_AVX2  // the library is built with AVX2 + FMA (CMakeLists.txt); kept honest here

#include "kernels/attention_vec256.h"
#include "kernels/attention_tiled.h"

namespace pmx::kernels::detail {

void attention_forward_tiled_avx2(float* out, int64_t ld_out, float* stats, const float* q, const float* k,
                                  const float* v, int64_t ld, int64_t N, int64_t dh, float scale, float* scratch) {
  tiled_forward<Vec256, kTiledHeadMaxAvx2>(dh, out, ld_out, stats, q, k, v, ld, N, scale, scratch);
}

void attention_backward_tiled_avx2(float* d_q, float* d_k, float* d_v, const float* d_out, const float* out,
                                   int64_t ld_out, const float* stats, const float* q, const float* k,
                                   const float* v, int64_t ld, int64_t N, int64_t dh, float scale,
                                   float* scratch) {
  tiled_backward<Vec256, kTiledHeadMaxAvx2>(dh, d_q, d_k, d_v, d_out, out, ld_out, stats, q, k, v, ld, N, scale,
                                           scratch);
}

}  // namespace pmx::kernels::detail

#endif  // PMX_EXP_AVX2
