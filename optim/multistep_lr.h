#pragma once
// PyTorch's MultiStepLR, stepped per epoch: lr * gamma^(number of milestones <= epoch).

#include "optim/schedule.h"

namespace trainer::optim {

class MultiStepLr : public LrSchedule {
 public:
  MultiStepLr(const ScheduleConfig& config, double reference_lr)
      : milestones_(config.milestones), gamma_(config.gamma), reference_lr_(reference_lr) {}
  double lr(double base_lr, SchedulePosition at) const override;
  Attributes record() const override;

 private:
  std::vector<std::int64_t> milestones_;  // increasing
  double gamma_;
  double reference_lr_;
};

}  // namespace trainer::optim
