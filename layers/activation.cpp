#include "layers/activation.h"

#include "autograd/ops_elementwise.h"

namespace pmx::nn {

Tensor GELU::forward(const Tensor& x) { return gelu(x); }
Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

std::shared_ptr<Module> make_activation(Activation activation) {
  switch (activation) {
    case Activation::Gelu: return std::make_shared<GELU>();
    case Activation::Relu: return std::make_shared<ReLU>();
    case Activation::Tanh: return std::make_shared<Tanh>();
    case Activation::Identity: return std::make_shared<Identity>();
  }
  throw Error("[make_activation] unknown activation");
}

}  // namespace pmx::nn
