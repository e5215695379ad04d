// SGD with optional momentum, Nesterov momentum and L2 weight decay (torch.optim.SGD, no
// dampening). Per parameter p with gradient g, each step():
//   g = g + weight_decay * p
//   if momentum != 0:  buf = g on the parameter's first step, else buf = momentum * buf + g
//                      g = nesterov ? g + momentum * buf : buf
//   p = p - lr * g
// State: "momentum_buffer" (p's shape), only when momentum != 0. One fused pass per parameter.
//
//   pmx::optim::SGD opt(model.parameters(), /*lr=*/0.1, /*momentum=*/0.9);
//   opt.zero_grad();  loss.backward();  opt.step();
#pragma once
#include "optim/optimizer.h"

namespace pmx::optim {

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, double lr, double momentum = 0, double weight_decay = 0, bool nesterov = false);
  std::string type_name() const override { return "SGD"; }
  void step() override;

  double momentum() const { return momentum_; }
  double weight_decay() const { return weight_decay_; }
  bool nesterov() const { return nesterov_; }

 protected:
  std::vector<std::string> state_names() const override;

 private:
  double momentum_, weight_decay_;
  bool nesterov_;
};

}  // namespace pmx::optim
