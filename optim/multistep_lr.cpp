#include "optim/multistep_lr.h"

#include <algorithm>
#include <cmath>

namespace trainer::optim {

double MultiStepLr::lr(double base_lr, SchedulePosition at) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), at.epoch) - milestones_.begin();
  return base_lr * std::pow(gamma_, static_cast<double>(passed));  // PyTorch: base_lr * gamma ** bisect_right
}

Attributes MultiStepLr::record() const {
  std::string milestones;
  for (const auto m : milestones_) milestones += (milestones.empty() ? "" : ",") + std::to_string(m);
  return {{"lr", reference_lr_}, {"lr_milestones", milestones}, {"lr_gamma", gamma_}};
}

}  // namespace trainer::optim
