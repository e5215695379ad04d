// GELU, exact erf form (PyTorch's nn.GELU() default, approximate='none'), forward, backward and
// both at once. Raw loops on float and double: no autograd, no allocation, no exceptions.
// kernels::unary_forward / unary_backward with UnaryOp::Gelu (elementwise.h) call these.
//
//   gelu(x)  = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
//   gelu'(x) = Phi(x) + x phi(x),   phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
//
// Phi(x) = 0.5 (1 + erf(x / sqrt 2)) appears in both, so one erf per element serves forward and
// backward: gelu_forward_backward computes out and d_in from it, for a backward pass that
// recomputes its hidden layer (kernels/fmlp.cpp). It gives the bits of gelu_forward followed by
// gelu_backward, because all three run the same arithmetic on the same erf.
//
// The float path is vectorised: 16-lane AVX-512 when the CPU has AVX-512F (gelu_avx512.cpp),
// else 8-lane AVX2, with a rational erf and a polynomial exp (gelu.cpp). The two ISAs run the
// same operations in the same order, so they give the same bits. The double path uses std::erf
// and std::exp; the reference twins are unary_forward_naive / unary_backward_naive with
// UnaryOp::Gelu (elementwise.h).
//
// Float accuracy, measured against a long-double erfc reference on 4M points of [-20, 20]:
// gelu has relative error below 2e-7 for x > 0 and absolute error below 9e-7 everywhere; gelu'
// has absolute error below 3e-7. For x < 0, 1 + erf(x / sqrt 2) cancels: erf is close to -1 and
// its absolute error (~1e-7, the erf fit's relative error) stays while the result shrinks, so the
// relative error grows (8e-5 at x = -3, 0.5 at x = -4.5), and below x ~ -5.5, where |gelu| is
// under 1.4e-6, the result is mostly rounding. Every float GELU written as 0.5 x (1 + erf)
// cancels the same way; with glibc's erff (about 1 ulp) the absolute error there is ~8e-8, ten
// times smaller than with this erf, which trades that for no branch and no exp.
//
// Every element is computed by one thread from its own inputs, in fixed blocks, so the results
// are bit-identical at any thread count. out may alias in, d_in may alias d_out.
//
//   kernels::gelu_forward(y, x, n);                   // y: (n) = gelu(x)
//   kernels::gelu_backward(dx, dy, x, n);             // dx = dy * gelu'(x), OVERWRITTEN
//   kernels::gelu_forward_backward(y, dx, x, dy, n);  // both of the above, one erf
//   kernels::set_gelu_avx512(false);                  // tests: the AVX2 path must give the same bits
#pragma once

namespace pmx {
namespace kernels {

// out, in: (n). out = gelu(in).
template <class T>
void gelu_forward(T* out, const T* in, long n);

// d_in, d_out, in: (n). d_in = d_out * gelu'(in) (OVERWRITES d_in, does not accumulate).
template <class T>
void gelu_backward(T* d_in, const T* d_out, const T* in, long n);

// out, d_in, in, d_out: (n). Both of the above from one erf per element; out may alias in,
// d_in may alias d_out.
template <class T>
void gelu_forward_backward(T* out, T* d_in, const T* in, const T* d_out, long n);

// The float path runs 16-lane AVX-512 code when the CPU has AVX-512F, else 8-lane AVX2. Tests
// and benchmarks switch AVX-512 off to compare; gelu_avx512_active() says which one runs.
void set_gelu_avx512(bool allowed);
bool gelu_avx512_active();

}  // namespace kernels
}  // namespace pmx
