#pragma once
// Whether a stop signal still leaves time to save: a scheduler that sends its warning signal
// `lead` seconds before the kill (Slurm's --signal=B:USR1@lead) gives the ranks that long to reach
// the next step boundary and commit a checkpoint. Torch-free so it can be unit-tested alone.

#include <optional>
#include <string>

namespace trainer {

class StopBudget {
 public:
  // lead_seconds <= 0: the lead is unknown and nothing is checked.
  explicit StopBudget(double lead_seconds) : lead_(lead_seconds) {}

  // Called after each save with its duration and the slowest optimizer step so far. Returns a
  // warning when a stop would not fit in the lead: the first time, and again only when the estimate
  // grew by a quarter since the last warning (so a run with frequent saves does not flood its log).
  std::optional<std::string> after_save(double save_seconds, double slowest_step_seconds);

 private:
  double lead_;
  double warned_estimate_ = 0;
};

}  // namespace trainer
