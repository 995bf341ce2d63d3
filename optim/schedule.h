#pragma once
// LR schedules: each group's LR follows the schedule from its own base LR, in closed form of the
// epoch (PyTorch's _get_closed_form_lr), so that a resumed run recomputes its LR instead of
// replaying history. Adding a schedule is one file pair in optim/ and one line in schedule.cpp.

#include "common/attributes.h"
#include "optim/config.h"

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trainer::optim {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  // The LR of a group whose base LR is `base_lr`, during `epoch` (0-based).
  virtual double lr(double base_lr, std::int64_t epoch) const = 0;
  // Its settings, saved in the checkpoint's /epoch group and checked on resume key by key.
  virtual Attributes record() const = 0;
};

// `reference_lr` is --lr: the LR the settings are expressed against.
std::unique_ptr<LrSchedule> make_schedule(const ScheduleConfig& config, double reference_lr);

struct ScheduleName {
  std::string name;
  std::string help;
};
const std::vector<ScheduleName>& schedule_names();
bool is_schedule_name(const std::string& name);

// Sets every group's LR for `epoch`.
void apply_schedule(torch::optim::Optimizer& optimizer, const std::vector<double>& base_lrs,
                    const LrSchedule& schedule, std::int64_t epoch);

}  // namespace trainer::optim
