// Parameter-free activation modules, so they can sit in a Sequential (and take an index in its
// parameter names exactly as in PyTorch), and the Activation choice used by MLP.
//
//   GELU:     y = 0.5 x (1 + erf(x / sqrt 2))   (exact form, torch.nn.GELU())
//   ReLU:     y = max(x, 0)
//   Tanh:     y = tanh(x)
//   Identity: y = x
// Any shape in, same shape out; the gradient is the ops' own (pmx::gelu, relu, tanh).
//
//   auto act = pmx::nn::make_activation(pmx::nn::Activation::Gelu);
//   pmx::Tensor y = (*act)(x);
#pragma once
#include <memory>

#include "layers/module.h"

namespace pmx::nn {

enum class Activation { Gelu, Relu, Tanh, Identity };

class GELU : public Module {
 public:
  std::string type_name() const override { return "GELU"; }
  Tensor forward(const Tensor& x) override;
};

class ReLU : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(const Tensor& x) override;
};

class Tanh : public Module {
 public:
  std::string type_name() const override { return "Tanh"; }
  Tensor forward(const Tensor& x) override;
};

class Identity : public Module {
 public:
  std::string type_name() const override { return "Identity"; }
  Tensor forward(const Tensor& x) override { return x; }
};

std::shared_ptr<Module> make_activation(Activation activation);

}  // namespace pmx::nn
