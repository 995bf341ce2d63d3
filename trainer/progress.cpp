#include "trainer/progress.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace trainer {

std::string format_duration(double seconds) {
  auto total = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%lldh%02lldm", total / 3600, (total % 3600) / 60);
  else if (total >= 60)
    std::snprintf(text, sizeof text, "%lldm%02llds", total / 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%llds", total);
  return text;
}

Progress::Progress(std::ostream& out, double interval_seconds, std::int64_t epochs)
    : out_(out), interval_(interval_seconds), epochs_(epochs) {}

void Progress::start_epoch(std::int64_t epoch, std::int64_t steps_per_epoch) {
  epoch_ = epoch;
  steps_ = steps_per_epoch;
  epoch_start_ = last_print_ = Clock::now();
}

void Progress::step(std::int64_t step, double running_loss, std::int64_t samples_done, double data_wait_seconds) {
  if (interval_ <= 0) return;
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_print_).count() < interval_) return;
  last_print_ = now;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const double rate = elapsed > 0 ? samples_done / elapsed : 0.0;
  const double eta = step > 0 ? elapsed * static_cast<double>(steps_ - step) / step : 0.0;
  char line[160];
  std::snprintf(line, sizeof line, "epoch %lld/%lld step %lld/%lld loss %.4f %.0f samples/s, data wait %.0f%% ETA %s",
                static_cast<long long>(epoch_), static_cast<long long>(epochs_), static_cast<long long>(step),
                static_cast<long long>(steps_), running_loss, rate,
                elapsed > 0 ? 100 * data_wait_seconds / elapsed : 0.0, format_duration(eta).c_str());
  out_ << line << std::endl;
}

}  // namespace trainer
