#pragma once
// PyTorch's LinearLR before another schedule, stepped per optimizer step: over the first
// `warmup_steps` steps the schedule's LR is scaled from start_factor up to 1. Chained with a
// per-epoch schedule (as two PyTorch schedulers on one optimizer), the factors multiply; before
// cosine, which starts where the warmup ends, it is SequentialLR.

#include "optim/schedule.h"

#include <memory>
#include <string>

namespace trainer::optim {

class LinearWarmup : public LrSchedule {
 public:
  LinearWarmup(std::string name, std::unique_ptr<LrSchedule> schedule, std::int64_t warmup_steps, double start_factor)
      : name_(std::move(name)),
        schedule_(std::move(schedule)),
        warmup_steps_(warmup_steps),
        start_factor_(start_factor) {}
  double lr(double base_lr, SchedulePosition at) const override;
  // The schedule's record with its name and the warmup's settings, each where not the default.
  Attributes record() const override;

 private:
  std::string name_;
  std::unique_ptr<LrSchedule> schedule_;
  std::int64_t warmup_steps_;
  double start_factor_;
};

}  // namespace trainer::optim
