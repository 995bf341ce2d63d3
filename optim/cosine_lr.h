#pragma once
// PyTorch's CosineAnnealingLR, stepped per optimizer step, over the steps the warmup leaves:
// lr_min + (lr - lr_min) * (1 + cos(pi * t / T)) / 2 with t counted from the warmup's end and T the
// run's remaining steps (SequentialLR([LinearLR, CosineAnnealingLR], milestones=[warmup])). During
// the warmup it gives the base LR, which the warmup scales.

#include "optim/schedule.h"

namespace trainer::optim {

class CosineLr : public LrSchedule {
 public:
  CosineLr(const ScheduleConfig& config, double reference_lr, const RunLength& length, std::int64_t warmup_steps);
  double lr(double base_lr, SchedulePosition at) const override;
  Attributes record() const override;

 private:
  double lr_min_;
  double reference_lr_;
  std::int64_t warmup_steps_;
  std::int64_t cosine_steps_;  // CosineAnnealingLR's T_max
};

}  // namespace trainer::optim
