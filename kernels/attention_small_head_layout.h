// The small-head attention kernel's scratch layout, in one place for the two that must agree on
// it: the kernel's body (kernels/attention_small_head.h) and attention_scratch_size
// (kernels/attention.cpp). Floats, per (batch, head) slice:
//   K^T, V^T, dV^T, dK^T   dh rows of transposed_stride(N) each (keys along a row, zero after N)
//   scale * Q              N rows of dh
//   row                    two rows of padded(N) scores (forward), or D_i for N rows (backward)
//   dS                     ds_block_rows(N) rows of padded(N) (backward)
// The kernel files include this before their target pragma, so these plain integer functions are
// compiled for the library's baseline in every file.
#pragma once
#include <cstdint>

namespace pmx::kernels::detail::small_head {

// Rows of keys are padded to a multiple of 16 whatever the vector width (16 or 8 lanes), so the
// layout is the same for both builds.
constexpr int64_t kPad = 16;

inline int64_t padded(int64_t N) { return (N + kPad - 1) / kPad * kPad; }

// Row stride of K^T, V^T, dV^T and dK^T: one line more than the padded length, so the dh rows of
// a chunk do not all fall into one L1 set (at N = 1024 they would be 4 KiB apart, and K^T's and
// V^T's 16 lines of a chunk would compete for 12 ways).
inline int64_t transposed_stride(int64_t N) { return padded(N) + kPad; }

// Rows of dS the backward keeps at a time for its dQ pass: ~512 KiB of them whatever N (2 to
// 64 rows, an even number).
inline int64_t ds_block_rows(int64_t N) {
  const int64_t rows = (int64_t(1) << 17) / padded(N);
  return rows < 2 ? 2 : rows > 64 ? 64 : rows / 2 * 2;
}

inline int64_t scratch_floats(int64_t N, int64_t dh) {
  return 4 * dh * transposed_stride(N) + dh * N + 2 * padded(N) + ds_block_rows(N) * padded(N);
}

}  // namespace pmx::kernels::detail::small_head
