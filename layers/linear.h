// Linear: an affine map of the last dimension, y = x W^T + b (torch.nn.Linear).
//
// Shapes: x (..., in) -> y (..., out). Parameters: "weight" (out, in), "bias" (out), the latter
// absent when bias = false. Init (PyTorch's default): both U(-1/sqrt(in), 1/sqrt(in)), drawn from
// the default generator, weight first. Forward is the fused pmx::linear; its backward gives
// dL/dx = g W, dL/dW = g^T x summed over leading dims, dL/db = sum of g, and *adds* into .grad.
//
//   pmx::nn::Linear fc(32, 64);
//   pmx::Tensor y = fc(pmx::randn({8, 100, 32}));     // (8, 100, 64)
//   fc.weight.shape();                                 // (64, 32)
#pragma once
#include "layers/module.h"

namespace pmx::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  std::string type_name() const override { return "Linear"; }
  Tensor forward(const Tensor& x) override;

  int64_t in_features, out_features;
  Tensor weight;  // (out, in)
  Tensor bias;    // (out), or undefined
};

}  // namespace pmx::nn
