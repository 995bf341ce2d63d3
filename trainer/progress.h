#pragma once
// Progress lines during an epoch: epoch, step, running loss, samples/s and ETA, printed as whole
// lines at a fixed interval so that they read the same in a terminal and in a Slurm log file.

#include <chrono>
#include <cstdint>
#include <ostream>

namespace trainer {

class Progress {
 public:
  // interval_seconds <= 0 disables the lines.
  Progress(std::ostream& out, double interval_seconds, std::int64_t epochs);

  void start_epoch(std::int64_t epoch, std::int64_t steps_per_epoch);
  // Called after every optimizer step with the running mean loss of the epoch so far and the
  // seconds this epoch's steps waited for data.
  void step(std::int64_t step, double running_loss, std::int64_t samples_done, double data_wait_seconds = 0);

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& out_;
  double interval_;
  std::int64_t epochs_;
  std::int64_t epoch_ = 0;
  std::int64_t steps_ = 0;
  Clock::time_point epoch_start_;
  Clock::time_point last_print_;
};

// "1h02m", "3m05s", "42s"
std::string format_duration(double seconds);

}  // namespace trainer
