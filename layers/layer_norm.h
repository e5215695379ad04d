// LayerNorm over the last dimension (torch.nn.LayerNorm(dim)):
//   y = (x - mean) / sqrt(var + eps) * weight + bias, mean and (biased) var over the last dim.
//
// Shapes: x (..., dim) -> (..., dim). Parameters (when affine): "weight" (dim) init ones,
// "bias" (dim) init zeros. Without affine there are no parameters (weight 1, bias 0 implied).
// Backward is pmx::layer_norm's fused rule.
//
//   pmx::nn::LayerNorm norm(32);
//   pmx::Tensor y = norm(x);            // x (B, N, 32)
#pragma once
#include "layers/module.h"

namespace pmx::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5, bool affine = true);
  std::string type_name() const override { return "LayerNorm"; }
  Tensor forward(const Tensor& x) override;

  int64_t dim;
  double eps;
  Tensor weight;  // (dim), or undefined without affine
  Tensor bias;    // (dim), or undefined without affine
};

}  // namespace pmx::nn
