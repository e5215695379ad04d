// Reductions with their gradients.
//
//   sum(x)                      -> 0-d tensor
//   sum(x, dim, keepdim)        -> x's shape without (or with size 1 at) dim
//   mean(x, dim, keepdim), max(x, dim, keepdim): the gradient of max goes to the first
//   maximal element of each slice; argmax returns int64 indices and has no gradient.
//
//   Tensor y = sum(x, /*dim=*/1, /*keepdim=*/true);   // (64, 4) -> (64, 1)
#pragma once
#include <vector>

#include "core/tensor.h"

namespace pmx {

Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);

}  // namespace pmx
