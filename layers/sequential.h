// Sequential: runs its children in order, each one's output feeding the next
// (torch.nn.Sequential). Children are named "0", "1", ... in push order, so a Sequential
// registered as "net" has parameters "net.0.weight", "net.0.bias", "net.2.weight", ...
// Every child must define the single-input forward. An empty Sequential returns its input.
//
//   pmx::nn::Sequential net;
//   net.push_back(std::make_shared<pmx::nn::Linear>(4, 8));
//   net.push_back(std::make_shared<pmx::nn::ReLU>());
//   pmx::Tensor y = net(x);                      // x (B, 4) -> (B, 8)
#pragma once
#include <memory>

#include "layers/module.h"

namespace pmx::nn {

class Sequential : public Module {
 public:
  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) override;

  void push_back(std::shared_ptr<Module> module);
  size_t size() const { return named_children().size(); }
  // The i-th child (throws when out of range).
  Module& operator[](size_t i) const;
};

}  // namespace pmx::nn
