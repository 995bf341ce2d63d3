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
  double momentum = 0.9;      // sgd, rmsprop (the launcher makes rmsprop's default PyTorch's 0)
  double weight_decay = 0.0;  // adam, sgd, rmsprop: L2 penalty; adamw: decoupled (default 0.01 there)
  bool nesterov = false;      // sgd
  double beta1 = 0.9;         // adam, adamw
  double beta2 = 0.999;       // adam, adamw
  double eps = 1e-8;          // adam, adamw, rmsprop
  double alpha = 0.99;        // rmsprop: the smoothing constant of the squared gradients' average
  bool centered = false;      // rmsprop: normalize by the gradient's estimated variance
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
  std::string name = "step";             // a name of optim/schedule.h
  std::int64_t step = 5;                 // step: epochs between LR decays; 0: constant LR
  double gamma = 0.2;                    // step, multistep, exponential: the decay factor
  std::vector<std::int64_t> milestones;  // multistep: the epochs at which the LR decays
  double lr_min = 0;                     // cosine: the LR it anneals to (CosineAnnealingLR's eta_min)
  double pct_start = 0.3;                // onecycle: the share of the steps spent rising (OneCycleLR's)
  double div_factor = 25;                // onecycle: the first LR is the group's LR / div_factor
  double final_div_factor = 1e4;         // onecycle: the last LR is the first / final_div_factor
  // Linear warmup (LinearLR from warmup_start_factor to 1) over the first optimizer steps; at most
  // one of the two is set.
  std::int64_t warmup_steps = 0;
  std::int64_t warmup_epochs = 0;
  double warmup_start_factor = 0.001;
};

}  // namespace trainer::optim
