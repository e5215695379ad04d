// The tiled attention kernel's scratch layout, in one place for the two that must agree on it:
// the kernel's body (kernels/attention_tiled.h) and attention_scratch_size (kernels/attention.cpp).
// Floats, per (batch, head) slice:
//   K^T, V^T   dh rows of transposed_stride(N) each (keys along a row, zero after N)
//   scale * Q  N rows of dh
//   rows       the forward's score rows (up to kMaxTileRows of swept(N)), or the backward's D_i
//              (N of them) followed by P and dS of block_rows(N) rows of swept(N) each
// Plain integer code, the same for both builds of the kernel (AVX-512 and AVX2): the kernel files
// include this before their target pragma.
#pragma once
#include <cstdint>

namespace pmx::kernels::detail::tiled {

constexpr int64_t kSweep = 32;       // keys are swept in multiples of 32 (two AVX-512 vectors)
constexpr int64_t kMaxTileRows = 8;  // query rows per score tile: 8 with AVX-512, 4 with AVX2

// Keys a score tile sweeps: N rounded up to 32.
inline int64_t swept(int64_t N) { return (N + kSweep - 1) / kSweep * kSweep; }

// Row stride of K^T and V^T: one line more than swept(N), so the dh rows of a tile do not all fall
// into one L1 set when N is a multiple of 1024.
inline int64_t transposed_stride(int64_t N) { return swept(N) + 16; }

// Query rows per backward block: P and dS of a block take ~512 KiB (8 to 64 rows, a multiple of 8).
inline int64_t block_rows(int64_t N) {
  const int64_t rows = (int64_t(1) << 16) / swept(N) / kMaxTileRows * kMaxTileRows;
  return rows < kMaxTileRows ? kMaxTileRows : rows > 64 ? 64 : rows;
}

inline int64_t scratch_floats(int64_t N, int64_t dh) {
  const int64_t forward = kMaxTileRows * swept(N), backward = N + 2 * block_rows(N) * swept(N);
  return 2 * dh * transposed_stride(N) + N * dh + (forward > backward ? forward : backward);
}

}  // namespace pmx::kernels::detail::tiled
