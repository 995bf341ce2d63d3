#pragma once
// What a run says about its optimizer, its parameter groups and its LR schedule. Torch-free.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trainer::optim {

struct OptimizerConfig {
  std::string name = "sgd";  // a name of optim/registry.h
  double lr = 0.02;
  double momentum = 0.9;     // sgd only
  double weight_decay = 0.0;
};

// --lr-group PREFIX=LR[,momentum=M][,weight_decay=W]: parameters whose name starts with PREFIX
// form a parameter group of their own.
struct LrGroup {
  std::string prefix;
  double lr = 0;
  std::optional<double> momentum;
  std::optional<double> weight_decay;
};

struct ScheduleConfig {
  std::string name = "step";  // a name of optim/schedules.h
  std::int64_t step = 5;      // step: epochs between LR decays; 0: constant LR
  double gamma = 0.2;         // step: factor applied every `step` epochs
};

}  // namespace trainer::optim
