// Dropout: inverted dropout (torch.nn.Dropout). In training mode each element is zeroed with
// probability p and the survivors are scaled by 1 / (1 - p), so the expected value is unchanged;
// in eval mode (module.eval()) it returns its input. Any shape, same shape out; no parameters.
// The mask comes from the default counter-based generator (independent of the thread count).
//
//   pmx::nn::Dropout drop(0.1);
//   pmx::Tensor h = drop(x);        // training: random mask; after drop.eval(): h is x
#pragma once
#include "layers/module.h"

namespace pmx::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  std::string type_name() const override { return "Dropout"; }
  Tensor forward(const Tensor& x) override;

  double p;
};

}  // namespace pmx::nn
