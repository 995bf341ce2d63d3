// Our LR schedules and optimizers against PyTorch's: the LR of every step of a run to 1e-12, and
// five optimizer steps from given parameters and gradients to 1e-6. The fixtures are written by
// tests/interop/make_optim_fixtures.py (CTest runs it first).

#include "optim/optimizer.h"
#include "optim/schedule.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdlib>
#include <fstream>

namespace {

using nlohmann::json;

json fixture(const std::string& name) {
  const char* dir = std::getenv("TRAINER_INTEROP_DIR");
  if (dir == nullptr) throw std::runtime_error("TRAINER_INTEROP_DIR is not set");
  std::ifstream in(std::string(dir) + "/" + name);
  if (!in) throw std::runtime_error("no fixture " + name);
  return json::parse(in);
}

trainer::optim::ScheduleConfig schedule_config(const json& c) {
  trainer::optim::ScheduleConfig s;
  s.name = c.at("lr_schedule").get<std::string>();
  s.step = c.value("lr_step", s.step);
  s.gamma = c.value("lr_gamma", s.gamma);
  s.milestones = c.value("lr_milestones", s.milestones);
  s.lr_min = c.value("lr_min", s.lr_min);
  s.pct_start = c.value("pct_start", s.pct_start);
  s.div_factor = c.value("div_factor", s.div_factor);
  s.final_div_factor = c.value("final_div_factor", s.final_div_factor);
  s.warmup_steps = c.value("warmup_steps", s.warmup_steps);
  s.warmup_epochs = c.value("warmup_epochs", s.warmup_epochs);
  s.warmup_start_factor = c.value("warmup_start_factor", s.warmup_start_factor);
  return s;
}

TEST(OptimParity, EveryLrOfEveryScheduleIsPyTorchs) {
  const json cases = fixture("schedules.json");
  ASSERT_GE(cases.size(), 5u);
  for (const auto& [name, c] : cases.items()) {
    const trainer::optim::RunLength length{c.at("epochs").get<std::int64_t>(),
                                           c.at("steps_per_epoch").get<std::int64_t>()};
    const auto base_lrs = c.at("base_lrs").get<std::vector<double>>();
    const auto schedule = trainer::optim::make_schedule(schedule_config(c), base_lrs[0], length);
    const auto& lrs = c.at("lrs");
    ASSERT_EQ(static_cast<std::int64_t>(lrs.size()), length.total_steps()) << name;
    double worst = 0;
    for (std::int64_t step = 0; step < length.total_steps(); ++step)
      for (std::size_t g = 0; g < base_lrs.size(); ++g) {
        const double ours = schedule->lr(base_lrs[g], {step, step / length.steps_per_epoch});
        const double theirs = lrs[static_cast<std::size_t>(step)][g].get<double>();
        worst = std::max(worst, std::abs(ours - theirs));
        ASSERT_NEAR(ours, theirs, 1e-12) << name << ": step " << step << ", group " << g;
      }
    std::cout << name << ": " << length.total_steps() << " steps, largest difference " << worst << std::endl;
  }
}

torch::Tensor tensor_of(const json& values, const std::vector<std::int64_t>& shape) {
  return torch::tensor(values.get<std::vector<float>>()).reshape(shape);
}

trainer::optim::OptimizerConfig optimizer_config(const json& o) {
  trainer::optim::OptimizerConfig c;
  c.name = o.at("optimizer").get<std::string>();
  c.lr = o.at("lr").get<double>();
  c.momentum = o.value("momentum", 0.0);
  c.weight_decay = o.value("weight_decay", 0.0);
  c.nesterov = o.value("nesterov", false);
  const auto betas = o.value("betas", std::vector<double>{0.9, 0.999});
  c.beta1 = betas[0];
  c.beta2 = betas[1];
  c.eps = o.value("eps", c.eps);
  c.alpha = o.value("alpha", c.alpha);
  c.centered = o.value("centered", false);
  return c;
}

TEST(OptimParity, FiveStepsOfEveryOptimizerArePyTorchs) {
  const json cases = fixture("optimizers.json");
  ASSERT_GE(cases.size(), 4u);
  for (const auto& [name, c] : cases.items()) {
    const json& options = c.at("options");
    trainer::optim::NamedParameters parameters;
    for (const auto& [param, shape] : c.at("shapes").items())
      parameters.emplace_back(
          param, tensor_of(c.at("initial").at(param), shape.get<std::vector<std::int64_t>>()).set_requires_grad(true));
    trainer::optim::LrGroup group{"a.", options.at("group_lr").get<double>(), std::nullopt, std::nullopt};
    if (options.contains("group_momentum")) group.momentum = options.at("group_momentum").get<double>();
    const auto setup = trainer::optim::make_optimizer(parameters, optimizer_config(options), {group});
    ASSERT_EQ(setup.adapter->name(), options.at("optimizer").get<std::string>());
    for (std::size_t step = 0; step < c.at("steps").size(); ++step) {
      const json& expected = c.at("steps")[step];
      for (auto& [param, tensor] : parameters)
        tensor.mutable_grad() = tensor_of(expected.at("grads").at(param), tensor.sizes().vec());
      setup.optimizer->step();
      for (const auto& [param, tensor] : parameters) {
        const torch::Tensor theirs = tensor_of(expected.at("params").at(param), tensor.sizes().vec());
        const double difference = (tensor.detach() - theirs).abs().max().item<double>();
        ASSERT_LE(difference, 1e-6) << name << ": " << param << " after step " << step + 1;
      }
    }
  }
}

}  // namespace
