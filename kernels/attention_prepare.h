// The scalar set-up both attention kernel bodies (kernels/attention_small_head.h,
// kernels/attention_tiled.h) do before their vector loops: K and V copied transposed, Q scaled,
// and the backward's D_i = dO_i . O_i. Included after each kernel file's vector type, so it is
// compiled for that file's instruction set; internal linkage, so each file keeps its own copy.
// No standard-library templates (see kernels/attention_tiled.h).
#pragma once

#include <cstdint>

namespace pmx::kernels::detail {
namespace {

// t[c][j] = x[j][c] for the N rows of x (ld apart) and dh channels, zero from N to lt: channel c
// of consecutive keys is then one vector.
inline void copy_transposed(float* t, const float* x, int64_t ld, int64_t N, int64_t lt, int64_t dh) {
  for (int64_t c = 0; c < dh; ++c)
    for (int64_t j = 0; j < lt; ++j) t[c * lt + j] = j < N ? x[j * ld + c] : 0.f;
}

// qs[i][c] = scale q[i][c], rows dh apart.
inline void copy_scaled(float* qs, const float* q, int64_t ld, int64_t N, int64_t dh, float scale) {
  for (int64_t i = 0; i < N; ++i)
    for (int64_t c = 0; c < dh; ++c) qs[i * dh + c] = scale * q[i * ld + c];
}

// d[i] = dO_i . O_i, channels in order (rows ld_out apart).
inline void output_dots(float* d, const float* d_out, const float* out, int64_t ld_out, int64_t N, int64_t dh) {
  for (int64_t i = 0; i < N; ++i) {
    float dot = 0;
    for (int64_t c = 0; c < dh; ++c) dot += d_out[i * ld_out + c] * out[i * ld_out + c];
    d[i] = dot;
  }
}

}  // namespace
}  // namespace pmx::kernels::detail
