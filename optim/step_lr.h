#pragma once
// PyTorch's StepLR, stepped per epoch: lr * gamma^floor(epoch / step); step 0 keeps the LR constant.

#include "optim/schedule.h"

namespace trainer::optim {

class StepLr : public LrSchedule {
 public:
  StepLr(const ScheduleConfig& config, double reference_lr)
      : step_(config.step), gamma_(config.gamma), reference_lr_(reference_lr) {}
  double lr(double base_lr, SchedulePosition at) const override;
  Attributes record() const override;

 private:
  std::int64_t step_;
  double gamma_;
  double reference_lr_;
};

}  // namespace trainer::optim
