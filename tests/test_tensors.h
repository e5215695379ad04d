// Tensor comparisons shared by the test files.
#pragma once
#include <cstring>
#include <vector>

#include "core/tensor.h"

namespace pmx_test {

// Same shape and the same bits in every element (float32 view; NaNs compare by their bits).
inline bool bit_equal(const pmx::Tensor& a, const pmx::Tensor& b) {
  if (a.shape() != b.shape()) return false;
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

}  // namespace pmx_test
