#include "optim/linear_warmup.h"

#include <algorithm>

namespace trainer::optim {

double LinearWarmup::lr(double base_lr, SchedulePosition at) const {
  const double lr = schedule_->lr(base_lr, at);
  if (at.step >= warmup_steps_) return lr;  // unscaled, to the last bit
  // LinearLR's closed form with end_factor 1.
  const double factor = start_factor_ + (1 - start_factor_) * static_cast<double>(std::min(warmup_steps_, at.step)) /
                                            static_cast<double>(warmup_steps_);
  return lr * factor;
}

// What format v1 wrote stays as it was: the name only for another schedule than step, the warmup
// only when there is one (absent means "step" and no warmup; see setting_defaults()).
Attributes LinearWarmup::record() const {
  Attributes record = schedule_->record();
  if (name_ != "step") record["lr_schedule"] = name_;
  if (warmup_steps_ > 0) {
    record["warmup_steps"] = warmup_steps_;
    record["warmup_start_factor"] = start_factor_;
  }
  return record;
}

}  // namespace trainer::optim
