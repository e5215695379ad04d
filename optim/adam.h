// Adam (torch.optim.Adam) and AdamW (torch.optim.AdamW). With t = step_count() after the
// increment (one counter per optimizer, advanced once per step(), not once per tensor), for each
// parameter p with gradient g:
//   Adam:  g = g + weight_decay * p                      (L2, coupled into the moments)
//   AdamW: p = p - lr * weight_decay * p                 (decoupled, before the update)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// State: "exp_avg" (m), "exp_avg_sq" (v), both p's shape, zero before the first step.
// One fused pass per parameter (OpenMP-parallel for large tensors), float32 and float64.
//
//   pmx::optim::Adam opt(model.parameters(), /*lr=*/1e-3);
//   pmx::optim::AdamW optw(model.parameters(), 1e-3, 0.9, 0.999, 1e-8, /*weight_decay=*/1e-2);
#pragma once
#include "optim/optimizer.h"

namespace pmx::optim {

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       double weight_decay = 0);
  std::string type_name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  void step() override;

  double beta1() const { return beta1_; }
  double beta2() const { return beta2_; }
  double eps() const { return eps_; }
  double weight_decay() const { return weight_decay_; }

 protected:
  Adam(std::vector<Tensor> params, double lr, double beta1, double beta2, double eps, double weight_decay,
       bool decoupled);
  std::vector<std::string> state_names() const override { return {"exp_avg", "exp_avg_sq"}; }

 private:
  double beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 1e-2)
      : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, /*decoupled=*/true) {}
};

}  // namespace pmx::optim
