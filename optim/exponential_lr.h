#pragma once
// PyTorch's ExponentialLR, stepped per epoch: lr * gamma^epoch.

#include "optim/schedule.h"

namespace trainer::optim {

class ExponentialLr : public LrSchedule {
 public:
  ExponentialLr(const ScheduleConfig& config, double reference_lr)
      : gamma_(config.gamma), reference_lr_(reference_lr) {}
  double lr(double base_lr, SchedulePosition at) const override;
  Attributes record() const override;

 private:
  double gamma_;
  double reference_lr_;
};

}  // namespace trainer::optim
