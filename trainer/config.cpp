#include "trainer/config.h"

#include "common/error.h"
#include "common/suggest.h"
#include "data/filters.h"
#include "data/registry.h"
#include "models/registry.h"
#include "optim/registry.h"
#include "optim/schedule.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

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
  require(std::find(models.begin(), models.end(), c.model) != models.end() || models::is_model_file(c.model),
          "--model " + c.model + ": unknown model (built-in: " + listed(models) + "; or a TorchScript file, ./" +
              c.model + ")" + did_you_mean(c.model, models));
  std::vector<std::string> datasets;
  for (const auto& d : data::dataset_names()) datasets.push_back(d.name);
  require(data::is_dataset_name(c.data.dataset),
          "--dataset " + c.data.dataset + ": unknown data set (known: " + listed(datasets) + ")" +
              did_you_mean(c.data.dataset, datasets));
  const auto optimizers = optim::optimizer_names();
  require(std::find(optimizers.begin(), optimizers.end(), c.optimizer.name) != optimizers.end(),
          "--optimizer " + c.optimizer.name + ": unknown optimizer (known: " + listed(optimizers) + ")" +
              did_you_mean(c.optimizer.name, optimizers));
  std::vector<std::string> schedules;
  for (const auto& s : optim::schedule_names()) schedules.push_back(s.name);
  require(optim::is_schedule_name(c.schedule.name),
          "--lr-schedule " + c.schedule.name + ": unknown schedule (known: " + listed(schedules) + ")" +
              did_you_mean(c.schedule.name, schedules));
}

// The ranges: wide enough for any real run, narrow enough that no product of them overflows
// (batch x accumulation x ranks, samples x shape) and no duration overflows a clock.
constexpr std::int64_t kMostSamples = std::int64_t{1} << 40;
constexpr std::int64_t kMostBatch = std::int64_t{1} << 24;
constexpr std::int64_t kMostClasses = 1000000;
constexpr double kMostSeconds = 1e7;  // about 115 days
constexpr std::int64_t kMostCount = std::int64_t{1} << 40;

void require_range(std::int64_t value, std::int64_t least, std::int64_t most, const std::string& option) {
  require(value >= least && value <= most, option + " " + std::to_string(value) + ": must be between " +
                                               std::to_string(least) + " and " + std::to_string(most));
}

void require_seconds(double value, const std::string& option) {
  require(std::isfinite(value) && value >= 0 && value <= kMostSeconds,
          option + " must be a number of seconds, 0 or more (at most 1e7)");
}

void validate_images(const data::DataConfig& d) {
  const data::ImagePipeline& p = d.images;
  require(d.dataset != "image-folder" || !d.normalize,
          "--normalize is one mean for one channel; image folders take --mean R,G,B --std R,G,B");
  require_range(d.workers, 0, 256, "--workers");
  require_range(d.prefetch, 1, 4096, "--prefetch");
  require_range(p.image_size, 1, 8192, "--image-size");
  require_range(p.resize, 0, 16384, "--resize");
  const auto [scale_min, scale_max] = p.crop_scale;
  require(scale_min > 0 && scale_min <= scale_max && scale_max <= 1, "--crop-scale: expected 0 < MIN <= MAX <= 1");
  const auto [ratio_min, ratio_max] = p.crop_ratio;
  require(ratio_min > 0 && ratio_min <= ratio_max && std::isfinite(ratio_max),
          "--crop-ratio: expected 0 < MIN <= MAX");
  require(p.hflip >= 0 && p.hflip <= 1, "--hflip: a probability, between 0 and 1");
  require(p.mean.size() == 3 && p.std.size() == 3, "--mean and --std take three values, R,G,B");
  for (double m : p.mean) require(std::isfinite(m), "--mean: values must be finite numbers");
  for (double s : p.std) require(s > 0 && std::isfinite(s), "--std: values must be positive");
}

void validate_data(const data::DataConfig& d) {
  require(d.dataset != "hdf5" || !d.data_file.empty(), "--dataset hdf5 needs --data FILE");
  require(d.limit_train >= 0, "--limit-train must not be negative");
  require(d.limit_test >= 0, "--limit-test must not be negative");
  if (!d.classes.empty())
    if (auto problem = data::class_list_problem(d.classes)) throw ConfigError(*problem);
  for (std::int64_t c : d.classes) require_range(c, 0, kMostClasses - 1, "--classes: class");
  if (d.normalize) {
    require(std::isfinite(d.normalize->first), "--normalize: MEAN must be a finite number");
    require(d.normalize->second > 0 && std::isfinite(d.normalize->second), "--normalize: STD must be positive");
  }
  validate_images(d);
  require(d.synthetic_shape.size() == 3, "--synthetic-shape expects C,H,W");
  for (std::int64_t size : d.synthetic_shape) require(size >= 1, "--synthetic-shape: sizes must be positive");
  for (std::int64_t size : d.synthetic_shape) require_range(size, 1, 1 << 16, "--synthetic-shape: a size");
  require(d.synthetic_train_size >= 1, "--synthetic-size must be at least 1");
  require(d.synthetic_test_size >= 0, "--synthetic-test-size must not be negative");
  require(d.synthetic_classes >= 2, "--synthetic-classes must be at least 2");
  require_range(d.synthetic_classes, 2, kMostClasses, "--synthetic-classes");
  // Synthetic data lives in memory: at most 2^32 floats (16 GiB) per split.
  const std::int64_t floats = d.synthetic_shape[0] * d.synthetic_shape[1] * d.synthetic_shape[2];
  for (const auto& [size, option] : {std::pair{d.synthetic_train_size, "--synthetic-size"},
                                     std::pair{d.synthetic_test_size, "--synthetic-test-size"}})
    require(size <= (std::int64_t{1} << 32) / floats,
            std::string(option) + " " + std::to_string(size) + ": more than 2^32 values of --synthetic-shape in memory");
}

// Options that belong to some values of `choice` (an optimizer's, a schedule's): given for another
// value, they would be ignored.
using Owners = std::vector<std::pair<const char*, std::set<std::string>>>;
void require_owned(const TrainConfig& c, const Owners& owners, const std::string& choice, const std::string& value) {
  for (const auto& [option, values] : owners)
    require(!c.explicit_options.count(option) || values.count(value),
            "--" + std::string(option) + " does not apply to " + choice + " " + value);
}

// Each schedule's own options, and none of another schedule's: an option that would be ignored is
// an error, not a surprise at the end of a long run.
void validate_schedule(const TrainConfig& c) {
  const optim::ScheduleConfig& s = c.schedule;
  require(s.step >= 0, "--lr-step must not be negative");
  require_range(s.step, 0, kMostCount, "--lr-step");
  require(s.gamma > 0 && s.gamma <= 1, "--lr-gamma must be in (0, 1]");
  const Owners owners = {
      {"lr-step", {"step"}},
      {"lr-gamma", {"step", "multistep", "exponential"}},
      {"lr-milestones", {"multistep"}},
      {"lr-min", {"cosine"}},
      {"pct-start", {"onecycle"}},
      {"div-factor", {"onecycle"}},
      {"final-div-factor", {"onecycle"}}};
  require_owned(c, owners, "--lr-schedule", s.name);
  require(s.name != "multistep" || !s.milestones.empty(), "--lr-schedule multistep needs --lr-milestones E1,E2,...");
  for (std::size_t i = 0; i < s.milestones.size(); ++i)
    require(s.milestones[i] >= 1 && (i == 0 || s.milestones[i] > s.milestones[i - 1]),
            "--lr-milestones must be increasing epochs, each at least 1");
  require(std::isfinite(s.lr_min) && s.lr_min >= 0 && s.lr_min < c.optimizer.lr,
          "--lr-min must be at least 0 and below --lr");
  require(s.pct_start > 0 && s.pct_start < 1, "--pct-start must be in (0, 1)");
  require(std::isfinite(s.div_factor) && s.div_factor >= 1, "--div-factor must be at least 1");
  require(std::isfinite(s.final_div_factor) && s.final_div_factor >= 1, "--final-div-factor must be at least 1");
  require(s.warmup_steps == 0 || s.warmup_epochs == 0, "--warmup-steps and --warmup-epochs exclude each other");
  require_range(s.warmup_steps, 0, kMostCount, "--warmup-steps");
  require_range(s.warmup_epochs, 0, 1 << 30, "--warmup-epochs");
  require(s.warmup_start_factor > 0 && s.warmup_start_factor <= 1, "--warmup-start-factor must be in (0, 1]");
}

// The options of the chosen optimizer, and none of another's.
void validate_optimizer(const TrainConfig& c) {
  const optim::OptimizerConfig& o = c.optimizer;
  const Owners owners = {
      {"momentum", {"sgd", "rmsprop"}},      {"nesterov", {"sgd"}},  {"betas", {"adam", "adamw"}},
      {"eps", {"adam", "adamw", "rmsprop"}}, {"alpha", {"rmsprop"}}, {"centered", {"rmsprop"}}};
  require_owned(c, owners, "--optimizer", o.name);
  require(std::isfinite(c.optimizer.lr) && c.optimizer.lr > 0, "--lr must be a positive number");
  char lr[32];
  std::snprintf(lr, sizeof lr, "%g", c.optimizer.lr);
  require(c.optimizer.lr <= 1000, "--lr " + std::string(lr) + ": more than 1000 is not a learning rate");
  require(o.momentum >= 0 && o.momentum < 1, "--momentum must be in [0, 1)");
  require(!o.nesterov || o.momentum > 0, "--nesterov needs a --momentum above 0");
  require(o.weight_decay >= 0, "--weight-decay must not be negative");
  require(std::isfinite(o.weight_decay) && o.weight_decay <= 1000,
          "--weight-decay must be a finite number, at most 1000");
  require(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "--betas must be in [0, 1)");
  require(std::isfinite(o.eps) && o.eps > 0 && o.eps <= 1, "--eps must be in (0, 1]");
  require(o.alpha >= 0 && o.alpha < 1, "--alpha must be in [0, 1)");
  for (const auto& group : c.lr_groups)
    require(!group.momentum || o.name == "sgd" || o.name == "rmsprop",
            "--lr-group " + group.prefix + ": momentum does not apply to --optimizer " + o.name);
}

void validate_optimization(const TrainConfig& c) {
  require(c.epochs >= 1, "--epochs must be at least 1");
  require_range(c.epochs, 1, std::int64_t{1} << 31, "--epochs");
  require(c.batch_size >= 1, "--batch-size must be at least 1");
  require_range(c.batch_size, 1, kMostBatch, "--batch-size");
  require(c.accumulate_steps >= 1, "--accumulate-steps must be at least 1");
  require_range(c.accumulate_steps, 1, 1 << 16, "--accumulate-steps");
  require_range(c.virtual_ranks, 0, 1 << 16, "--virtual-ranks");
  require(c.virtual_ranks == 0 || c.precision != "fp16",
          "--virtual-ranks with --precision fp16 is not supported yet (its loss scaler skips steps per process)");
  require(c.test_batch_size >= 1, "--test-batch-size must be at least 1");
  require_range(c.test_batch_size, 1, kMostBatch, "--test-batch-size");
  if (c.data.dataset == "image-folder") {  // batches of 3 x size x size floats, made before any model sees them
    constexpr double kMostBatchBytes = 2.0 * (1 << 30);
    const double image = 3.0 * c.data.images.image_size * c.data.images.image_size * 4;
    for (const auto& [option, batch] : {std::pair<const char*, std::int64_t>{"--batch-size", c.batch_size},
                                        {"--test-batch-size", c.test_batch_size}}) {
      char text[200];
      std::snprintf(text, sizeof text,
                    "%s %lld with --image-size %lld: a batch of %.3g GB of float images, more than the 2 GiB "
                    "allowed (a smaller batch, or --accumulate-steps)",
                    option, static_cast<long long>(batch), static_cast<long long>(c.data.images.image_size),
                    batch * image / 1e9);
      require(batch * image <= kMostBatchBytes, text);
    }
  }
  validate_optimizer(c);
  require(std::isfinite(c.clip_grad_norm) && c.clip_grad_norm >= 0,
          "--clip-grad-norm must be a finite number, at least 0");
  require(std::isfinite(c.clip_grad_value) && c.clip_grad_value >= 0,
          "--clip-grad-value must be a finite number, at least 0");
  require(c.clip_grad_norm == 0 || c.clip_grad_value == 0, "--clip-grad-norm and --clip-grad-value exclude each other");
  require(c.label_smoothing >= 0 && c.label_smoothing <= 1, "--label-smoothing must be in [0, 1]");
  require(c.precision == "fp32" || c.precision == "bf16" || c.precision == "fp16",
          "--precision " + c.precision + ": expected fp32, bf16 or fp16");
  validate_schedule(c);
  for (const auto& group : c.lr_groups) {
    require(std::isfinite(group.lr) && group.lr >= 0 && group.lr <= 1000, "--lr-group " + group.prefix + ": LR out of range");
    require(!group.weight_decay || (std::isfinite(*group.weight_decay) && *group.weight_decay <= 1000),
            "--lr-group " + group.prefix + ": weight_decay out of range");
  }
  for (const auto& prefix : c.freeze) require(!prefix.empty(), "--freeze needs a non-empty prefix");
  for (const auto& prefix : c.train_only) require(!prefix.empty(), "--train-only needs a non-empty prefix");
}

void validate_run(const TrainConfig& c) {
  require(c.num_classes == 0 || c.num_classes >= 2, "--num-classes must be 0 (from data) or at least 2");
  require_range(c.num_classes, 0, kMostClasses, "--num-classes");
  require(c.threads >= 1, "--threads must be at least 1");
  require(c.threads <= 4096, "--threads " + std::to_string(c.threads) + ": must be at most 4096");
  require(c.progress_seconds >= 0, "--progress-seconds must not be negative");
  require_seconds(c.progress_seconds, "--progress-seconds");
  require_seconds(c.comm_timeout, "--comm-timeout");
  require_seconds(c.signal_lead, "--signal-lead");
  require(c.checkpoint_every >= 0, "--checkpoint-every must not be negative");
  require_range(c.checkpoint_every, 0, kMostCount, "--checkpoint-every");
  require(c.checkpoint_every_steps >= 0, "--checkpoint-every-steps must not be negative");
  require_range(c.checkpoint_every_steps, 0, kMostCount, "--checkpoint-every-steps");
  require(c.keep_last >= 0, "--keep-last must not be negative");
  require_range(c.keep_last, 0, 1000000, "--keep-last");
  require_range(c.keep_best, 0, 1000000, "--keep-best");
  require(c.monitor == "test_accuracy" || c.monitor == "test_loss",
          "--monitor " + c.monitor + ": expected test_accuracy or test_loss");
  require(!c.explicit_options.count("monitor") || c.keep_best > 0 || c.resume == "best",
          "--monitor applies to --keep-best and --resume best");
  require_range(c.data.limit_train, 0, kMostSamples, "--limit-train");
  require_range(c.data.limit_test, 0, kMostSamples, "--limit-test");
  require(!c.resume.empty(), "--resume expects auto, none or a checkpoint path");
  require(!c.checkpoint_dir.empty(), "--checkpoint-dir is empty (to train without checkpoints: --checkpoint-dir none)");
  require(!c.explicitly("run-dir") || !c.run_dir.empty(), "--run-dir is empty");
  require(c.run_name.find('/') == std::string::npos && c.run_name != "." && c.run_name != "..",
          "--name " + c.run_name + ": a run name is one folder name under runs/ (for another place: --run-dir DIR)");
  require(!c.explicitly("name") || !c.run_name.empty(), "--name is empty");
  require(!(c.explicitly("run-dir") && c.explicitly("name")), "--run-dir and --name exclude each other");
}

}  // namespace

void validate(const TrainConfig& config) {
  validate_run(config);
  validate_names(config);
  validate_optimization(config);
  validate_data(config.data);
}

std::string config_json(const TrainConfig& c) {
  nlohmann::json j = {{"model", c.model},
                      {"num_classes", c.num_classes},
                      {"dataset", c.data.dataset},
                      {"data_dir", c.data.data_dir},
                      {"data", c.data.data_file},
                      {"classes", c.data.classes},
                      {"limit_train", c.data.limit_train},
                      {"limit_test", c.data.limit_test},
                      {"epochs", c.epochs},
                      {"batch_size", c.batch_size},
                      {"accumulate_steps", c.accumulate_steps},
                      {"virtual_ranks", c.virtual_ranks},
                      {"seed", c.seed},
                      {"deterministic", c.deterministic},
                      {"optimizer", c.optimizer.name},
                      {"lr", c.optimizer.lr},
                      {"momentum", c.optimizer.momentum},
                      {"weight_decay", c.optimizer.weight_decay},
                      {"nesterov", c.optimizer.nesterov},
                      {"betas", {c.optimizer.beta1, c.optimizer.beta2}},
                      {"eps", c.optimizer.eps},
                      {"alpha", c.optimizer.alpha},
                      {"centered", c.optimizer.centered},
                      {"clip_grad_norm", c.clip_grad_norm},
                      {"clip_grad_value", c.clip_grad_value},
                      {"label_smoothing", c.label_smoothing},
                      {"precision", c.precision},
                      {"lr_schedule", c.schedule.name},
                      {"lr_step", c.schedule.step},
                      {"lr_gamma", c.schedule.gamma},
                      {"lr_milestones", c.schedule.milestones},
                      {"lr_min", c.schedule.lr_min},
                      {"warmup_steps", c.schedule.warmup_steps},
                      {"warmup_epochs", c.schedule.warmup_epochs},
                      {"warmup_start_factor", c.schedule.warmup_start_factor}};
  // What `trainer eval` reads back: where the data was and how each image became a tensor.
  const data::DataConfig& d = c.data;
  j["test_data"] = d.test_data_file;
  j["train_dir"] = d.train_dir;
  j["val_dir"] = d.val_dir;
  j["normalize"] = d.normalize ? nlohmann::json::array({d.normalize->first, d.normalize->second}) : nlohmann::json();
  j["synthetic_shape"] = d.synthetic_shape;
  j["synthetic_test_size"] = d.synthetic_test_size;
  j["synthetic_classes"] = d.synthetic_classes;
  j["skip_bad_images"] = d.skip_bad_images;
  j["image_size"] = d.images.image_size;
  j["resize"] = d.images.resize;
  j["crop_scale"] = {d.images.crop_scale.first, d.images.crop_scale.second};
  j["crop_ratio"] = {d.images.crop_ratio.first, d.images.crop_ratio.second};
  j["hflip"] = d.images.hflip;
  j["mean"] = d.images.mean;
  j["std"] = d.images.std;
  j["train_only"] = c.train_only;
  j["freeze"] = c.freeze;
  return j.dump();
}

}  // namespace trainer
