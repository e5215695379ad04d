// MLP: Linear -> activation -> Linear -> ... -> Linear, a Sequential with PyTorch's layout.
//
// sizes = [in, hidden_sizes..., out]; layer i maps sizes[i] -> sizes[i+1]; an activation follows
// every Linear except the last. Children are "0" (Linear), "1" (activation), "2" (Linear), ...,
// so parameter names are "0.weight", "0.bias", "2.weight", ... as in an nn.Sequential, and
// "network.0.weight" once a parent registers the MLP as "network". Shapes: (..., in) -> (..., out).
// Init: each Linear's own (U(+-1/sqrt(fan_in))), drawn in layer order.
//
//   pmx::nn::MLP f(32, {64}, 32, pmx::nn::Activation::Gelu);   // Paramixer's g: d -> h -> d
//   pmx::Tensor y = f(x);                                       // (B, N, 32)
#pragma once
#include <vector>

#include "layers/activation.h"
#include "layers/linear.h"  // its children; users cast mlp[0] to Linear
#include "layers/sequential.h"

namespace pmx::nn {

class MLP : public Sequential {
 public:
  MLP(int64_t in_features, const std::vector<int64_t>& hidden_sizes, int64_t out_features,
      Activation activation = Activation::Gelu);
  std::string type_name() const override { return "MLP"; }
};

}  // namespace pmx::nn
