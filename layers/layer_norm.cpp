#include "layers/layer_norm.h"

#include "autograd/ops_nn.h"

namespace pmx::nn {

LayerNorm::LayerNorm(int64_t d, double epsilon, bool affine) : dim(d), eps(epsilon) {
  PMX_CHECK(d > 0, "[LayerNorm] dim must be positive, got ", d);
  PMX_CHECK(epsilon >= 0, "[LayerNorm] eps must be non-negative, got ", epsilon);
  if (affine) {
    weight = register_parameter("weight", ones({d}));
    bias = register_parameter("bias", zeros({d}));
  }
}

Tensor LayerNorm::forward(const Tensor& x) {
  PMX_CHECK(x.dim() >= 1 && x.size(-1) == dim, "[LayerNorm] expected input (..., ", dim, "), got ",
            shape_str(x.shape()));
  if (weight.defined()) return layer_norm(x, weight, bias, eps);
  // Non-affine: constant scale and shift in x's dtype (not parameters, so no gradient).
  return layer_norm(x, ones({dim}, x.dtype()), zeros({dim}, x.dtype()), eps);
}

}  // namespace pmx::nn
