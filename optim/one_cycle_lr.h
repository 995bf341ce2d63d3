#pragma once
// PyTorch's OneCycleLR (two phases, cosine annealing), stepped per optimizer step, with each
// group's LR as its max_lr: from max_lr / div_factor up to max_lr over pct_start of the run, then
// down to max_lr / div_factor / final_div_factor. Momentum is not cycled (cycle_momentum=False).

#include "optim/schedule.h"

namespace trainer::optim {

class OneCycleLr : public LrSchedule {
 public:
  OneCycleLr(const ScheduleConfig& config, double reference_lr, const RunLength& length);
  double lr(double base_lr, SchedulePosition at) const override;
  Attributes record() const override;

 private:
  double pct_start_;
  double div_factor_;
  double final_div_factor_;
  double reference_lr_;
  std::int64_t total_steps_;
};

}  // namespace trainer::optim
