#pragma once
// LR schedules: each group's LR follows the schedule from its own base LR, in closed form of the
// position in the run (PyTorch's _get_closed_form_lr), so that a resumed run recomputes its LR
// instead of replaying history. The LR is set before every optimizer step: schedules that PyTorch
// users step per epoch (step, multistep, exponential) read the epoch, those they step per batch
// (warmup, cosine, onecycle) read the step. Adding a schedule is one file pair in optim/ and one
// line in schedule.cpp.

#include "common/attributes.h"
#include "optim/config.h"

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trainer::optim {

// The optimizer step about to be taken: its index since the start of the run (0-based) and the
// epoch it belongs to (0-based).
struct SchedulePosition {
  std::int64_t step = 0;
  std::int64_t epoch = 0;
};

// How long the run is, for the schedules that span it (cosine, onecycle) and --warmup-epochs.
struct RunLength {
  std::int64_t epochs = 1;
  std::int64_t steps_per_epoch = 1;  // optimizer steps of a whole epoch
  std::int64_t total_steps() const { return epochs * steps_per_epoch; }
};

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  // The LR of a group whose base LR is `base_lr`, for the step at `at`.
  virtual double lr(double base_lr, SchedulePosition at) const = 0;
  // Its settings, saved in the checkpoint's /epoch group and checked on resume key by key.
  virtual Attributes record() const = 0;
};

// `reference_lr` is --lr: the LR the settings are expressed against. Throws ConfigError when the
// settings do not fit the run (a warmup as long as the run, a warmup before onecycle).
std::unique_ptr<LrSchedule> make_schedule(const ScheduleConfig& config, double reference_lr,
                                          const RunLength& length = {});

struct ScheduleName {
  std::string name;
  std::string help;
};
const std::vector<ScheduleName>& schedule_names();
bool is_schedule_name(const std::string& name);

// The schedule's name in a checkpoint's record ("step" for those written before there were others).
std::string recorded_schedule_name(const Attributes& record);

// Sets every group's LR for the step at `at`.
void apply_schedule(torch::optim::Optimizer& optimizer, const std::vector<double>& base_lrs, const LrSchedule& schedule,
                    SchedulePosition at);

}  // namespace trainer::optim
