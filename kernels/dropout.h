// Inverted dropout with a mask regenerated from the counter-based RNG.
//
//   keep_i = random_uniform(seed, start + i) >= p        (core/random.h)
//   out_i  = keep_i ? in_i / (1 - p) : 0
//
// The same call is the forward (in = x) and the backward (in = d_out): the mask is a pure
// function of (seed, start, i), so the backward regenerates it instead of storing a (B, N, d)
// mask, and it does not depend on the thread count or the split. The fast kernel compares the
// 53 random bits with the integer threshold ceil(p * 2^53), which is exactly the same test as
// the double comparison (p * 2^53 is exact in double); the naive twin uses random_uniform.
//
// Shapes: out, in: (n), any layout as long as both are dense and element i of one matches
// element i of the other. out may alias in. 0 <= p < 1.
//
//   uint64_t start = gen.advance(n);
//   pmx::kernels::dropout_apply(y, x, n, 0.1, gen.seed(), start);       // forward
//   pmx::kernels::dropout_apply(d_x, d_y, n, 0.1, gen.seed(), start);   // backward
//
// No validation, allocation or exceptions.
#pragma once
#include <cstdint>

namespace pmx {
namespace kernels {

// out: (n).  in: (n).
template <class T>
void dropout_apply(T* out, const T* in, long n, double p, uint64_t seed, uint64_t start);

template <class T>
void dropout_apply_naive(T* out, const T* in, long n, double p, uint64_t seed, uint64_t start);

}  // namespace kernels
}  // namespace pmx
