// Shapes and strides: row-major (C order), counted in elements, PyTorch conventions.
//
//   Shape s = {2, 3, 4};
//   numel(s);                 // 24
//   contiguous_strides(s);    // {12, 4, 1}
//   broadcast_shapes({3, 1}, {4});   // {3, 4}
//   shape_str(s);             // "(2, 3, 4)"
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pmx {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);

// NumPy broadcasting of two shapes; throws Error naming `op` and both shapes if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast");

// "(i0, i1, ...)": the multi-index of flat position `flat` in a row-major `shape`, for
// error messages that point at one element.
std::string index_str(int64_t flat, const Shape& shape);

// Maps a possibly negative dim into [0, ndim); throws Error naming `op` when out of range. A 0-d
// tensor counts as one dim there (0 and -1 both map to 0), as in PyTorch.
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace pmx
