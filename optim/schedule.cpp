#include "optim/schedule.h"

#include "common/error.h"
#include "optim/step_lr.h"

#include <functional>

namespace trainer::optim {
namespace {

using Factory = std::function<std::unique_ptr<LrSchedule>(const ScheduleConfig&, double)>;

struct Entry {
  ScheduleName name;
  Factory make;
};

const std::vector<Entry>& registry() {
  static const std::vector<Entry> entries = {
      {{"step", "StepLR: multiply by --lr-gamma every --lr-step epochs"},
       [](const ScheduleConfig& c, double lr) { return std::make_unique<StepLr>(c, lr); }},
  };
  return entries;
}

}  // namespace

const std::vector<ScheduleName>& schedule_names() {
  static const std::vector<ScheduleName> names = [] {
    std::vector<ScheduleName> out;
    for (const auto& entry : registry()) out.push_back(entry.name);
    return out;
  }();
  return names;
}

bool is_schedule_name(const std::string& name) {
  for (const auto& entry : registry())
    if (entry.name.name == name) return true;
  return false;
}

std::unique_ptr<LrSchedule> make_schedule(const ScheduleConfig& config, double reference_lr) {
  for (const auto& entry : registry())
    if (entry.name.name == config.name) return entry.make(config, reference_lr);
  throw ConfigError("unknown LR schedule '" + config.name + "'");
}

void apply_schedule(torch::optim::Optimizer& optimizer, const std::vector<double>& base_lrs,
                    const LrSchedule& schedule, std::int64_t epoch) {
  auto& groups = optimizer.param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].options().set_lr(schedule.lr(base_lrs[g], epoch));
}

}  // namespace trainer::optim
