#include "optim/one_cycle_lr.h"

#include "common/error.h"

#include <cmath>

namespace trainer::optim {
namespace {

// PyTorch's OneCycleLR._annealing_cos.
double annealing_cos(double start, double end, double pct) {
  const double cos_out = std::cos(M_PI * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

}  // namespace

OneCycleLr::OneCycleLr(const ScheduleConfig& config, double reference_lr, const RunLength& length)
    : pct_start_(config.pct_start),
      div_factor_(config.div_factor),
      final_div_factor_(config.final_div_factor),
      reference_lr_(reference_lr),
      total_steps_(length.total_steps()) {
  // PyTorch divides by the rising phase's length, pct_start * total_steps - 1 steps.
  if (pct_start_ * static_cast<double>(total_steps_) - 1 <= 0)
    throw ConfigError("--lr-schedule onecycle: --pct-start " + std::to_string(pct_start_) + " of the run's " +
                      std::to_string(total_steps_) + " steps leaves no rising phase");
}

double OneCycleLr::lr(double base_lr, SchedulePosition at) const {
  const double max_lr = base_lr;
  const double initial_lr = max_lr / div_factor_;
  const double min_lr = initial_lr / final_div_factor_;
  const double step = static_cast<double>(at.step);
  const double rise_end = pct_start_ * static_cast<double>(total_steps_) - 1;  // float, as PyTorch has it
  if (step <= rise_end) return annealing_cos(initial_lr, max_lr, step / rise_end);
  const double fall_end = static_cast<double>(total_steps_ - 1);
  return annealing_cos(max_lr, min_lr, (step - rise_end) / (fall_end - rise_end));
}

Attributes OneCycleLr::record() const {
  return {{"lr", reference_lr_},
          {"pct_start", pct_start_},
          {"div_factor", div_factor_},
          {"final_div_factor", final_div_factor_},
          {"lr_total_steps", total_steps_}};
}

}  // namespace trainer::optim
