#include "optim/schedule.h"

#include "common/error.h"
#include "optim/cosine_lr.h"
#include "optim/exponential_lr.h"
#include "optim/linear_warmup.h"
#include "optim/multistep_lr.h"
#include "optim/one_cycle_lr.h"
#include "optim/step_lr.h"

#include <functional>

namespace trainer::optim {
namespace {

// A schedule from the settings, --lr, the run's length and the warmup's steps before it.
using Factory =
    std::function<std::unique_ptr<LrSchedule>(const ScheduleConfig&, double, const RunLength&, std::int64_t)>;

struct Entry {
  ScheduleName name;
  Factory make;
};

const std::vector<Entry>& schedules() {
  static const std::vector<Entry> entries = {
      {{"step", "StepLR per epoch: multiply by --lr-gamma every --lr-step epochs"},
       [](const ScheduleConfig& c, double lr, const RunLength&, std::int64_t) {
         return std::make_unique<StepLr>(c, lr);
       }},
      {{"multistep", "MultiStepLR per epoch: multiply by --lr-gamma at each of --lr-milestones"},
       [](const ScheduleConfig& c, double lr, const RunLength&, std::int64_t) {
         return std::make_unique<MultiStepLr>(c, lr);
       }},
      {{"exponential", "ExponentialLR per epoch: multiply by --lr-gamma every epoch"},
       [](const ScheduleConfig& c, double lr, const RunLength&, std::int64_t) {
         return std::make_unique<ExponentialLr>(c, lr);
       }},
      {{"cosine", "CosineAnnealingLR per step down to --lr-min at the end of the run (after the warmup)"},
       [](const ScheduleConfig& c, double lr, const RunLength& length, std::int64_t warmup) {
         return std::make_unique<CosineLr>(c, lr, length, warmup);
       }},
      {{"onecycle", "OneCycleLR per step: up to the LR over --pct-start of the run, then down (no warmup options)"},
       [](const ScheduleConfig& c, double lr, const RunLength& length, std::int64_t warmup) {
         if (warmup > 0)
           throw ConfigError(
               "--lr-schedule onecycle warms up by itself (--pct-start); drop --warmup-steps/--warmup-epochs");
         return std::make_unique<OneCycleLr>(c, lr, length);
       }},
  };
  return entries;
}

std::int64_t warmup_steps(const ScheduleConfig& config, const RunLength& length) {
  const std::int64_t steps =
      config.warmup_epochs > 0 ? config.warmup_epochs * length.steps_per_epoch : config.warmup_steps;
  if (steps > length.total_steps())
    throw ConfigError("the warmup's " + std::to_string(steps) + " steps are longer than the run's " +
                      std::to_string(length.total_steps()));
  return steps;
}

}  // namespace

const std::vector<ScheduleName>& schedule_names() {
  static const std::vector<ScheduleName> names = [] {
    std::vector<ScheduleName> out;
    for (const auto& entry : schedules()) out.push_back(entry.name);
    return out;
  }();
  return names;
}

bool is_schedule_name(const std::string& name) {
  for (const auto& entry : schedules())
    if (entry.name.name == name) return true;
  return false;
}

std::unique_ptr<LrSchedule> make_schedule(const ScheduleConfig& config, double reference_lr, const RunLength& length) {
  for (const auto& entry : schedules()) {
    if (entry.name.name != config.name) continue;
    const std::int64_t warmup = warmup_steps(config, length);
    return std::make_unique<LinearWarmup>(config.name, entry.make(config, reference_lr, length, warmup), warmup,
                                          config.warmup_start_factor);
  }
  throw ConfigError("unknown LR schedule '" + config.name + "'");
}

std::string recorded_schedule_name(const Attributes& record) {
  const auto it = record.find("lr_schedule");
  if (it == record.end()) return "step";
  const auto* name = std::get_if<std::string>(&it->second);
  return name ? *name : "?";
}

void apply_schedule(torch::optim::Optimizer& optimizer, const std::vector<double>& base_lrs, const LrSchedule& schedule,
                    SchedulePosition at) {
  auto& groups = optimizer.param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(schedule.lr(base_lrs[g], at));
}

}  // namespace trainer::optim
