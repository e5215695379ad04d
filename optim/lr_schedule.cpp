#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace pmx::optim {

ConstantLR::ConstantLR(double base_lr) : base_lr_(base_lr) {
  PMX_CHECK(base_lr >= 0, "[ConstantLR] base_lr must be non-negative, got ", base_lr);
}

double ConstantLR::lr_at(int64_t step) const {
  PMX_CHECK(step >= 0, "[ConstantLR] step must be non-negative, got ", step);
  return base_lr_;
}

WarmupCosine::WarmupCosine(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr_ratio)
    : base_lr_(base_lr), warmup_steps_(warmup_steps), total_steps_(total_steps), min_lr_ratio_(min_lr_ratio) {
  PMX_CHECK(base_lr >= 0, "[WarmupCosine] base_lr must be non-negative, got ", base_lr);
  PMX_CHECK(warmup_steps >= 0 && total_steps > warmup_steps, "[WarmupCosine] need 0 <= warmup_steps < total_steps, got ",
            warmup_steps, " and ", total_steps);
  PMX_CHECK(min_lr_ratio >= 0 && min_lr_ratio <= 1, "[WarmupCosine] min_lr_ratio must be in [0, 1], got ", min_lr_ratio);
}

double WarmupCosine::lr_at(int64_t step) const {
  PMX_CHECK(step >= 0, "[WarmupCosine] step must be non-negative, got ", step);
  if (step < warmup_steps_) return base_lr_ * double(step + 1) / double(warmup_steps_);
  double progress = double(step - warmup_steps_) / double(total_steps_ - warmup_steps_);
  progress = std::min(1.0, progress);
  double cosine = 0.5 * (1 + std::cos(M_PI * progress));
  return base_lr_ * (min_lr_ratio_ + (1 - min_lr_ratio_) * cosine);
}

}  // namespace pmx::optim
