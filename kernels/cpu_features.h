// Run-time CPU feature checks for the kernels that keep an AVX-512 twin of their AVX2 code
// (mixing, GELU, f-MLP). Include only from files compiled with the baseline flags, never after
// an AVX-512 target pragma.
#pragma once

namespace pmx::kernels {

// Whether this CPU runs AVX-512F (checked once, then cached).
inline bool cpu_has_avx512f() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}

}  // namespace pmx::kernels
