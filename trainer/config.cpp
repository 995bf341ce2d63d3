#include "trainer/config.h"

#include "common/error.h"
#include "data/filters.h"
#include "data/registry.h"
#include "models/registry.h"
#include "optim/registry.h"
#include "optim/schedule.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace trainer {
namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw ConfigError(message);
}

template <typename Names>
std::string listed(const Names& names) {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

void validate_names(const TrainConfig& c) {
  const auto models = models::model_names();
  require(std::find(models.begin(), models.end(), c.model) != models.end(),
          "--model " + c.model + ": unknown model (known: " + listed(models) + ")");
  std::vector<std::string> datasets;
  for (const auto& d : data::dataset_names()) datasets.push_back(d.name);
  require(data::is_dataset_name(c.data.dataset),
          "--dataset " + c.data.dataset + ": unknown data set (known: " + listed(datasets) + ")");
  const auto optimizers = optim::optimizer_names();
  require(std::find(optimizers.begin(), optimizers.end(), c.optimizer.name) != optimizers.end(),
          "--optimizer " + c.optimizer.name + ": unknown optimizer (known: " + listed(optimizers) + ")");
  std::vector<std::string> schedules;
  for (const auto& s : optim::schedule_names()) schedules.push_back(s.name);
  require(optim::is_schedule_name(c.schedule.name),
          "--lr-schedule " + c.schedule.name + ": unknown schedule (known: " + listed(schedules) + ")");
}

void validate_data(const data::DataConfig& d) {
  require(d.dataset != "hdf5" || !d.data_file.empty(), "--dataset hdf5 needs --data FILE");
  require(d.limit_train >= 0, "--limit-train must not be negative");
  require(d.limit_test >= 0, "--limit-test must not be negative");
  if (!d.classes.empty())
    if (auto problem = data::class_list_problem(d.classes)) throw ConfigError(*problem);
  if (d.normalize) require(std::isfinite(d.normalize->first) && d.normalize->second > 0 && std::isfinite(d.normalize->second),
                           "--normalize: STD must be positive");
  require(d.synthetic_shape.size() == 3, "--synthetic-shape expects C,H,W");
  for (std::int64_t size : d.synthetic_shape) require(size >= 1, "--synthetic-shape: sizes must be positive");
  require(d.synthetic_train_size >= 1, "--synthetic-size must be at least 1");
  require(d.synthetic_test_size >= 0, "--synthetic-test-size must not be negative");
  require(d.synthetic_classes >= 2, "--synthetic-classes must be at least 2");
}

void validate_optimization(const TrainConfig& c) {
  require(c.epochs >= 1, "--epochs must be at least 1");
  require(c.batch_size >= 1, "--batch-size must be at least 1");
  require(c.accumulate_steps >= 1, "--accumulate-steps must be at least 1");
  require(c.test_batch_size >= 1, "--test-batch-size must be at least 1");
  require(std::isfinite(c.optimizer.lr) && c.optimizer.lr > 0, "--lr must be a positive number");
  require(c.optimizer.momentum >= 0 && c.optimizer.momentum < 1, "--momentum must be in [0, 1)");
  require(c.optimizer.weight_decay >= 0, "--weight-decay must not be negative");
  require(c.schedule.step >= 0, "--lr-step must not be negative");
  require(c.schedule.gamma > 0 && c.schedule.gamma <= 1, "--lr-gamma must be in (0, 1]");
  for (const auto& prefix : c.freeze) require(!prefix.empty(), "--freeze needs a non-empty prefix");
}

void validate_run(const TrainConfig& c) {
  require(c.num_classes == 0 || c.num_classes >= 2, "--num-classes must be 0 (from data) or at least 2");
  require(c.threads >= 1, "--threads must be at least 1");
  require(c.progress_seconds >= 0, "--progress-seconds must not be negative");
  require(std::isfinite(c.comm_timeout) && c.comm_timeout >= 0, "--comm-timeout must be a number of seconds, 0 or more");
  require(std::isfinite(c.signal_lead) && c.signal_lead >= 0, "--signal-lead must be a number of seconds, 0 or more");
  require(c.checkpoint_every >= 0, "--checkpoint-every must not be negative");
  require(c.checkpoint_every_steps >= 0, "--checkpoint-every-steps must not be negative");
  require(c.keep_last >= 0, "--keep-last must not be negative");
  require(!c.resume.empty(), "--resume expects auto, none or a checkpoint path");
}

}  // namespace

void validate(const TrainConfig& config) {
  validate_run(config);
  validate_names(config);
  validate_optimization(config);
  validate_data(config.data);
}

std::string config_json(const TrainConfig& c) {
  nlohmann::json j = {
      {"model", c.model}, {"num_classes", c.num_classes}, {"dataset", c.data.dataset},
      {"data_dir", c.data.data_dir}, {"data", c.data.data_file}, {"classes", c.data.classes},
      {"limit_train", c.data.limit_train}, {"limit_test", c.data.limit_test}, {"epochs", c.epochs},
      {"batch_size", c.batch_size}, {"accumulate_steps", c.accumulate_steps}, {"seed", c.seed},
      {"optimizer", c.optimizer.name}, {"lr", c.optimizer.lr}, {"momentum", c.optimizer.momentum},
      {"weight_decay", c.optimizer.weight_decay}, {"lr_step", c.schedule.step},
      {"lr_gamma", c.schedule.gamma}};
  return j.dump();
}

}  // namespace trainer
