// Elementwise ops with NumPy broadcasting, and their gradients.
//
// Binary ops broadcast their inputs (shapes aligned from the right, size-1 dims stretch); the
// backward of each input sums the gradient over the dims it was broadcast along
// (reduce_to_shape), one helper shared by every binary op.
//
//   Tensor y = add(x, bias);          // (B, N, d) + (d) -> (B, N, d)
//   Tensor z = gelu(y) * 0.5;         // exact erf GELU, scalar multiply
//   Tensor m = where_mask(...)        // (not provided: use mul with a 0/1 tensor)
#pragma once
#include "core/tensor.h"

namespace pmx {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor neg(const Tensor& a);
// a ** exponent, elementwise.
Tensor pow(const Tensor& a, double exponent);

Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);
// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), as in PyTorch's default and the Paramixer code.
Tensor gelu(const Tensor& a);

// Sums `grad` over broadcast dims so it has `shape` (the backward of broadcasting).
Tensor reduce_to_shape(const Tensor& grad, const Shape& shape);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

}  // namespace pmx
