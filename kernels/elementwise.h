// Elementwise kernels: binary arithmetic with broadcasting, unary math functions and their
// derivatives (strided copies live in kernels/copy.h, GELU's vector code in kernels/gelu.h).
// Raw loops on float and double: no autograd, no allocation, no exceptions;
// autograd/ops_elementwise.cpp validates.
//
// Binary: out[i] = a[i] (+ - * /) b[i] over the broadcast shape. Four layouts, fastest first:
//   binary_same     a, b, out: (n) all contiguous
//   binary_scalar   x: (n) op one value s (either side)
//   binary_row      x: (M, n) op row: (n), either side: the bias case
//   binary_strided  any shape; per-input strides with 0 on broadcast dims; out contiguous;
//                   inputs read across their fast dim (transposed views) go in 32 x 32 tiles
// Unary: out = f(in); backward d_in = d_out * f'(in) (OVERWRITES d_in, does not accumulate).
//   UnaryOp::Gelu is the exact erf GELU, computed by kernels/gelu.h (gelu_forward,
//   gelu_backward): the same bits as calling those directly.
//
// Every element is computed by one thread from its own inputs, so results are bit-identical at
// any thread count. Outputs may alias inputs of the same layout (in-place is safe).
//
//   kernels::binary_row(out, x, bias, M, n, kernels::BinaryOp::Add, /*row_on_left=*/false);
//   kernels::unary_forward(y, x, n, kernels::UnaryOp::Gelu, 0.f);
//   kernels::unary_backward(dx, dy, x, y, n, kernels::UnaryOp::Gelu, 0.f);
#pragma once
#include <cstdint>

namespace pmx {
namespace kernels {

enum class BinaryOp { Add, Sub, Mul, Div };

// out, a, b: (n).
template <class T>
void binary_same(T* out, const T* a, const T* b, long n, BinaryOp op);

// out, x: (n). out = x op s, or s op x when scalar_on_left.
template <class T>
void binary_scalar(T* out, const T* x, T s, long n, BinaryOp op, bool scalar_on_left);

// out, x: (M, n); row: (n). out[m, j] = x[m, j] op row[j], or row[j] op x[m, j] when row_on_left.
template <class T>
void binary_row(T* out, const T* x, const T* row, long M, long n, BinaryOp op, bool row_on_left);

// out: shape (ndim dims, contiguous). a, b: element (i0, ..., ik) at a[sum_d i_d a_strides[d]]
// (strides in elements, 0 on broadcast dims, any sign). ndim may be 0 (one element).
template <class T>
void binary_strided(T* out, const T* a, const int64_t* a_strides, const T* b,
                    const int64_t* b_strides, const int64_t* shape, int ndim, BinaryOp op);

// Reference twin of all four: the same contract as binary_strided, one element at a time.
template <class T>
void binary_naive(T* out, const T* a, const int64_t* a_strides, const T* b,
                  const int64_t* b_strides, const int64_t* shape, int ndim, BinaryOp op);

// Unary functions. `param` is the exponent of Pow, the addend of AddScalar, the factor of
// MulScalar, and unused otherwise.
enum class UnaryOp { Exp, Log, Sqrt, Tanh, Sigmoid, Relu, Gelu, Neg, Pow, AddScalar, MulScalar };

// out, in: (n).
template <class T>
void unary_forward(T* out, const T* in, long n, UnaryOp op, T param);

// d_in, d_out, in, out: (n); `in` is the forward input and `out` its output (each op reads the
// one its derivative is cheapest from: exp, sqrt, tanh, sigmoid read out; the rest read in).
template <class T>
void unary_backward(T* d_in, const T* d_out, const T* in, const T* out, long n, UnaryOp op,
                    T param);

// Reference twins: single-threaded, std:: math (std::erf for GELU).
template <class T>
void unary_forward_naive(T* out, const T* in, long n, UnaryOp op, T param);
template <class T>
void unary_backward_naive(T* d_in, const T* d_out, const T* in, const T* out, long n,
                          UnaryOp op, T param);

}  // namespace kernels
}  // namespace pmx
