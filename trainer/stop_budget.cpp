#include "trainer/stop_budget.h"

#include <cstdio>

namespace trainer {

std::optional<std::string> StopBudget::after_save(double save_seconds, double slowest_step_seconds) {
  if (lead_ <= 0) return std::nullopt;
  const double estimate = save_seconds + slowest_step_seconds;
  if (estimate <= lead_) return std::nullopt;
  if (warned_estimate_ > 0 && estimate < 1.25 * warned_estimate_) return std::nullopt;
  warned_estimate_ = estimate;
  char line[320];
  std::snprintf(line, sizeof line,
                "warning: stopping on a signal would take about %.3g s (a save took %.3g s, the slowest step "
                "%.3g s), more than the %.3g s signal lead (--signal-lead); the job may be killed before its "
                "checkpoint is committed: raise the lead (#SBATCH --signal=B:USR1@SECONDS)",
                estimate, save_seconds, slowest_step_seconds, lead_);
  return std::string(line);
}

}  // namespace trainer
