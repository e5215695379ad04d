// Learning-rate schedules: small objects mapping a step index (0-based: the step about to run)
// to a learning rate, and apply() to set it on an optimizer before its step().
//
//   ConstantLR(base_lr):  lr = base_lr
//   WarmupCosine(base_lr, warmup_steps, total_steps, min_lr_ratio):
//     step < warmup:  lr = base_lr * (step + 1) / warmup_steps   (linear, never 0 on step 0)
//     after:          progress = clamp((step - warmup) / (total - warmup), 0, 1)
//                     lr = base_lr * (r + (1 - r) * 0.5 * (1 + cos(pi * progress))),  r = min_lr_ratio
//     so it reaches base_lr * r at step total_steps and stays there.
//
//   pmx::optim::WarmupCosine schedule(1e-3, /*warmup_steps=*/100, /*total_steps=*/10000);
//   for (int64_t s = 0; s < 10000; ++s) { schedule.apply(opt, s); /* backward */ opt.step(); }
#pragma once
#include <cstdint>

#include "optim/optimizer.h"

namespace pmx::optim {

class LRSchedule {
 public:
  virtual ~LRSchedule() = default;
  virtual double lr_at(int64_t step) const = 0;
  // Sets opt's learning rate for `step`.
  void apply(Optimizer& opt, int64_t step) const { opt.set_lr(lr_at(step)); }
};

class ConstantLR : public LRSchedule {
 public:
  explicit ConstantLR(double base_lr);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_;
};

class WarmupCosine : public LRSchedule {
 public:
  WarmupCosine(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr_ratio = 0);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_;
  int64_t warmup_steps_, total_steps_;
  double min_lr_ratio_;
};

}  // namespace pmx::optim
