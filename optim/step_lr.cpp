#include "optim/step_lr.h"

#include <cmath>

namespace trainer::optim {

double StepLr::lr(double base_lr, SchedulePosition at) const {
  if (step_ <= 0) return base_lr;
  // A factor relative to --lr, rounded as the runs of format v1 computed it: a resumed run must
  // set the same LR to the last bit.
  const double factor = reference_lr_ * std::pow(gamma_, static_cast<double>(at.epoch / step_)) / reference_lr_;
  return base_lr * factor;
}

// The names format v1 gave these settings.
Attributes StepLr::record() const { return {{"lr", reference_lr_}, {"lr_step", step_}, {"lr_gamma", gamma_}}; }

}  // namespace trainer::optim
