#include "optim/exponential_lr.h"

#include <cmath>

namespace trainer::optim {

double ExponentialLr::lr(double base_lr, SchedulePosition at) const {
  return base_lr * std::pow(gamma_, static_cast<double>(at.epoch));
}

Attributes ExponentialLr::record() const { return {{"lr", reference_lr_}, {"lr_gamma", gamma_}}; }

}  // namespace trainer::optim
