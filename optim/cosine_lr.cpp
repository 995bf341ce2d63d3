#include "optim/cosine_lr.h"

#include "common/error.h"

#include <cmath>

namespace trainer::optim {

CosineLr::CosineLr(const ScheduleConfig& config, double reference_lr, const RunLength& length,
                   std::int64_t warmup_steps)
    : lr_min_(config.lr_min),
      reference_lr_(reference_lr),
      warmup_steps_(warmup_steps),
      cosine_steps_(length.total_steps() - warmup_steps) {
  if (cosine_steps_ <= 0)
    throw ConfigError("--lr-schedule cosine: the warmup's " + std::to_string(warmup_steps) +
                      " steps leave none of the run's " + std::to_string(length.total_steps()) + " for the cosine");
}

double CosineLr::lr(double base_lr, SchedulePosition at) const {
  if (at.step < warmup_steps_) return base_lr;
  const double t = static_cast<double>(at.step - warmup_steps_);
  // PyTorch's _get_closed_form_lr, term for term.
  return lr_min_ + (base_lr - lr_min_) * (1 + std::cos(M_PI * t / static_cast<double>(cosine_steps_))) / 2;
}

Attributes CosineLr::record() const {
  return {{"lr", reference_lr_}, {"lr_min", lr_min_}, {"lr_total_steps", warmup_steps_ + cosine_steps_}};
}

}  // namespace trainer::optim
