// Shape ops: views and copies that move no arithmetic, with their gradient rules.
//
// reshape/flatten/squeeze/unsqueeze of a contiguous tensor, transpose, permute and slice are
// views (no copy); their backward puts the gradient back into the input's layout.
//
//   Tensor x = randn({2, 3, 4});
//   Tensor y = transpose(x, 1, 2);            // (2, 4, 3) view
//   Tensor z = reshape(y.contiguous(), {8, 3});
//   Tensor s = slice(x, /*dim=*/2, 1, 3);     // (2, 3, 2)
//   Tensor c = concat({x, x}, /*dim=*/0);     // (4, 3, 4)
#pragma once
#include <vector>

#include "core/tensor.h"

namespace pmx {

// One size may be -1 (inferred). Copies only when t is not contiguous.
Tensor reshape(const Tensor& t, const Shape& shape);
// Merges dims start..end (inclusive) into one.
Tensor flatten(const Tensor& t, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor unsqueeze(const Tensor& t, int64_t dim);
Tensor squeeze(const Tensor& t, int64_t dim);
Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& t, const Shape& dims);
// Elements start, start+step, ... < end along dim (negative start/end count from the end).
Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor concat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);
// A dense row-major copy (or t itself when already contiguous).
Tensor contiguous(const Tensor& t);
// Dense data for a kernel, without recording a node: for ops that record their own gradient
// rule against the original (possibly strided) input.
Tensor contiguous_untracked(const Tensor& t);
Tensor clone(const Tensor& t);
// Converts between float32 and float64 (gradient flows back converted); int64 -> float too.
Tensor to_dtype(const Tensor& t, DType dtype);

}  // namespace pmx
