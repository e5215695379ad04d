#include "layers/linear.h"

#include <cmath>

#include "autograd/ops_linalg.h"
#include "core/random.h"

namespace pmx::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  PMX_CHECK(in > 0 && out > 0, "[Linear] sizes must be positive, got in = ", in, ", out = ", out);
  double bound = 1.0 / std::sqrt(double(in));
  weight = register_parameter("weight", empty({out, in}));
  uniform_(weight, -bound, bound);
  if (with_bias) {
    bias = register_parameter("bias", empty({out}));
    uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  PMX_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "[Linear] expected input (..., ", in_features,
            "), got ", shape_str(x.shape()));
  return linear(x, weight, bias);
}

}  // namespace pmx::nn
