#include "trainer/checkpointing.h"

#include "common/error.h"
#include "optim/state_map.h"
#include "checkpoint/directory.h"
#include "storage/fs.h"
#include "trainer/saved_model.h"
#include "trainer/weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <ctime>
#include <map>
#include <optional>
#include <set>

namespace trainer {
namespace {

std::string iso_time_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

std::string group_text(const std::vector<std::string>& names) {
  return names.empty() ? std::string("[]")
                       : "[" + names.front() + (names.size() > 1 ? ", ...]" : "]") + " (" + std::to_string(names.size()) + ")";
}

std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return "[" + text + "]";
}

void check_identity(const checkpoint::RunRecord& saved, const ModelIdentity& identity, const std::string& where) {
  // A model file is known by its contents: moved or renamed, it is the same model.
  if (saved.model_sha256 != identity.model_sha256 || (saved.model_sha256.empty() && saved.model != identity.model))
    throw CheckpointError(where + " was written for " + (saved.model_sha256.empty() ? "model " : "") +
                          describe_model(saved.model, saved.model_sha256) + ", this run trains " +
                          describe_model(identity.model, identity.model_sha256));
  if (saved.num_classes != identity.num_classes)
    throw CheckpointError(where + " has " + std::to_string(saved.num_classes) + " classes, this run's model has " +
                          std::to_string(identity.num_classes));
  if (!saved.class_names.empty() && !identity.class_names.empty() && saved.class_names != identity.class_names)
    throw CheckpointError(where + " was trained on the classes " + join_names(saved.class_names) + ", this run's are " +
                          join_names(identity.class_names));
  if (saved.in_channels > 0 && saved.in_channels != identity.in_channels)
    throw CheckpointError(where + " was written for images of " + std::to_string(saved.in_channels) +
                          " channel(s), this run's have " + std::to_string(identity.in_channels));
}

// The groups (--lr-group, --freeze) and their options must be the ones the checkpoint was trained
// with; "lr" is what the schedule set when it was written, and is recomputed instead.
void check_param_groups(const std::vector<checkpoint::ParamGroupRecord>& saved, const optim::OptimizerSetup& setup,
                        const std::string& where) {
  const auto& groups = setup.optimizer->param_groups();
  if (saved.size() != groups.size())
    throw CheckpointError(where + " has " + std::to_string(saved.size()) + " parameter group(s), this run has " +
                          std::to_string(groups.size()) + " (were --lr-group or --freeze changed?)");
  for (std::size_t g = 0; g < saved.size(); ++g) {
    if (saved[g].params != setup.group_members[g])
      throw CheckpointError(where + ": parameter group " + std::to_string(g) + " holds " + group_text(saved[g].params) +
                            ", this run's holds " + group_text(setup.group_members[g]) +
                            " (were --lr-group or --freeze changed?)");
    for (const auto& [key, value] : setup.adapter->record(groups[g].options())) {
      const auto it = saved[g].options.find(key);
      if (key == "lr" || it == saved[g].options.end() || it->second == value) continue;
      throw CheckpointError(where + ": parameter group " + std::to_string(g) + " was trained with " + key + " " +
                            checkpoint::attribute_text(it->second) + ", this run has " + checkpoint::attribute_text(value));
    }
  }
}

// Each state tensor is checked against its parameter (the shape, or a scalar such as a step count)
// before it is read, so that a checkpoint's claims cost no memory until they are checked.
void restore_optimizer_state(const checkpoint::CheckpointReader& checkpoint, TrainingState& state, const std::string& where) {
  std::map<std::string, torch::Tensor> parameters(state.model.begin(), state.model.end());
  std::map<std::string, std::map<std::string, torch::Tensor>> saved;
  for (const auto& entry : checkpoint.optimizer_state()) {
    const std::string parameter = entry.name.substr(0, entry.name.find('/'));
    const std::string key = entry.name.substr(entry.name.find('/') + 1);
    const auto found = parameters.find(parameter);
    if (found == parameters.end()) throw CheckpointError(where + ": optimizer state for unknown parameter " + parameter);
    if (!entry.shape.empty() && torch::IntArrayRef(entry.shape) != found->second.sizes())
      throw CheckpointError(where + ": optimizer state " + entry.name + " has shape " +
                            c10::str(torch::IntArrayRef(entry.shape)) + ", the parameter " + c10::str(found->second.sizes()));
    saved[parameter][key] = entry.read();
  }
  torch::optim::Optimizer& optimizer = *state.optimizer.optimizer;
  optim::clear_state(optimizer);
  for (const auto& [name, tensors] : saved) {
    const torch::Tensor& parameter = parameters.at(name);
    optim::set_state(optimizer, parameter,
                     state.optimizer.adapter->make_state(tensors, parameter, where + ": parameter " + name));
  }
}

// What else a step does that a bit-identical resume must do alike, stored beside the schedule
// where it is not the default (so that runs without them write format v1's attributes exactly).
Attributes step_settings(const TrainConfig& config) {
  Attributes settings;
  if (config.clip_grad_norm > 0) settings["clip_grad_norm"] = config.clip_grad_norm;
  if (config.clip_grad_value > 0) settings["clip_grad_value"] = config.clip_grad_value;
  if (config.label_smoothing > 0) settings["label_smoothing"] = config.label_smoothing;
  if (config.precision != "fp32") settings["precision"] = config.precision;
  return settings;
}

// The value a setting has where a record leaves it out.
const Attributes& setting_defaults() {
  static const Attributes defaults = {{"lr_schedule", std::string("step")},
                                      {"warmup_steps", std::int64_t{0}},
                                      {"clip_grad_norm", 0.0},
                                      {"clip_grad_value", 0.0},
                                      {"label_smoothing", 0.0},
                                      {"precision", std::string("fp32")}};
  return defaults;
}

std::optional<AttributeValue> setting(const Attributes& record, const std::string& key) {
  if (const auto it = record.find(key); it != record.end()) return it->second;
  if (const auto it = setting_defaults().find(key); it != setting_defaults().end()) return it->second;
  return std::nullopt;  // a key older checkpoints did not write: not checked
}

void check_settings(const checkpoint::EpochRecord& saved, const TrainConfig& config, const TrainingState& state,
                    const std::string& where) {
  const optim::LrSchedule& schedule = *state.schedule;
  if (optim::recorded_schedule_name(saved.schedule) != config.schedule.name)
    throw CheckpointError(where + " was trained with --lr-schedule " + optim::recorded_schedule_name(saved.schedule) +
                          ", this run has --lr-schedule " + config.schedule.name);
  Attributes ours = schedule.record();
  for (auto& [key, value] : step_settings(config)) ours[key] = value;
  std::set<std::string> keys;
  for (const auto& record : {ours, saved.schedule, setting_defaults()})
    for (const auto& entry : record) keys.insert(entry.first);
  for (const auto& key : keys) {
    const auto theirs = setting(saved.schedule, key), value = setting(ours, key);
    if (theirs && value && !(*theirs == *value))
      throw CheckpointError(where + " was trained with " + key + " " + checkpoint::attribute_text(*theirs) +
                            ", this run has " + checkpoint::attribute_text(*value) +
                            (key == "lr_total_steps"
                                 ? " (--epochs x optimizer steps per epoch: were --epochs, the batch "
                                   "size or the number of ranks changed?)"
                                 : ""));
  }
  if (saved.sampler_seed >= 0 && static_cast<std::uint64_t>(saved.sampler_seed) != config.seed)
    throw CheckpointError(where + " was trained with --seed " + std::to_string(saved.sampler_seed) + ", this run has --seed " +
                          std::to_string(config.seed));
  // Inside an epoch, the position is one in this data set's permutation: only the same data set
  // can go on from it.
  if (saved.progress.position_in_epoch > 0 && saved.train_samples > 0 && saved.train_samples != state.train_samples)
    throw CheckpointError(where + " stopped inside an epoch of " + std::to_string(saved.train_samples) +
                          " training samples, this run has " + std::to_string(state.train_samples) +
                          " (were --limit-train, --classes or the data changed?)");
}

// LibTorch's CPU generator state has one size per LibTorch; anything else is not one.
void restore_generator(const checkpoint::CheckpointReader& checkpoint, const std::string& where) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle to the global one
  const torch::Tensor saved = checkpoint.rng_state();
  const torch::Tensor current = generator.get_state();
  if (saved.scalar_type() != torch::kUInt8 || saved.sizes() != current.sizes())
    throw CheckpointError(where + ": /epoch/rng_state is not a CPU generator state of this LibTorch (" +
                          std::string(c10::toString(saved.scalar_type())) + " " + c10::str(saved.sizes()) + ", expected uint8 " +
                          c10::str(current.sizes()) + ")");
  try {
    generator.set_state(saved);
  } catch (const c10::Error&) {
    throw CheckpointError(where + ": /epoch/rng_state is not a valid CPU generator state");
  }
}

// The training GPU's generator (torch.cuda.get_rng_state()), as the CPU one. A checkpoint written
// on the CPU has none: a GPU run then keeps the generator --seed gave it; a CPU run has no use for a
// GPU's (map_location: the tensors land where this run trains, the GPU's generator stays behind).
void restore_device_generator(const checkpoint::CheckpointReader& checkpoint, const torch::Device& device,
                              const std::string& where, std::ostream& log) {
  const std::optional<torch::Tensor> saved = checkpoint.cuda_rng_state();
  if (!device.is_cuda()) return;
  if (!saved) {
    log << "note: " << where << " was written on the CPU; the GPU's generator keeps its --seed state" << std::endl;
    return;
  }
  at::Generator generator = at::globalContext().defaultGenerator(device);
  try {
    generator.set_state(*saved);
  } catch (const c10::Error&) {
    throw CheckpointError(where + ": /epoch/cuda_rng_state is not a CUDA generator state of this LibTorch (uint8 " +
                          c10::str(saved->sizes()) + ", expected " + c10::str(generator.get_state().sizes()) + ")");
  }
}

}  // namespace

std::string checkpoint_name(const TrainingProgress& p) {
  char name[64];
  if (p.step_in_epoch == 0)
    std::snprintf(name, sizeof name, "epoch-%04lld", static_cast<long long>(p.completed_epochs));
  else
    std::snprintf(name, sizeof name, "epoch-%04lld-step-%08lld", static_cast<long long>(p.completed_epochs),
                  static_cast<long long>(p.step_in_epoch));
  return name;
}

checkpoint::RunRecord run_record(const TrainConfig& config, const TrainingState& state) {
  return {state.identity.model,        state.identity.num_classes, state.identity.in_channels,
          state.identity.model_sha256, state.identity.class_names, TORCH_VERSION,
          iso_time_now(),              config_json(config)};
}

checkpoint::CheckpointContents capture_checkpoint(const TrainConfig& config, const TrainingState& state,
                                               const TrainingProgress& progress, int world_size) {
  checkpoint::CheckpointContents c;
  c.run = run_record(config, state);
  c.model = state.model;
  const optim::OptimizerSetup& setup = state.optimizer;
  const auto& groups = setup.optimizer->param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) {
    c.param_groups.push_back({setup.adapter->name(), setup.group_members[g], setup.adapter->record(groups[g].options())});
    if (state.shards) continue;
    for (std::size_t p = 0; p < groups[g].params().size(); ++p)
      if (const auto* param_state = optim::find_state(*setup.optimizer, groups[g].params()[p]))
        for (auto& [key, tensor] : setup.adapter->state_tensors(*param_state))
          c.optimizer_state.push_back({setup.group_members[g][p], key, tensor});
  }
  c.epoch.progress = progress;
  c.epoch.sampler_seed = static_cast<std::int64_t>(config.seed);
  c.epoch.global_batch = config.batch_size * config.accumulate_steps * config.sample_ranks(world_size);
  c.epoch.virtual_ranks = config.virtual_ranks;
  c.epoch.train_samples = state.train_samples;
  c.epoch.schedule = state.schedule->record();
  for (auto& [key, value] : step_settings(config)) c.epoch.schedule[key] = value;
  c.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  if (state.device.is_cuda()) c.cuda_rng_state = at::globalContext().defaultGenerator(state.device).get_state();
  if (state.scaler) {
    c.epoch.loss_scale = state.scaler->state().scale;
    c.epoch.loss_scale_growth_tracker = state.scaler->state().growth_tracker;
  }
  if (state.shards) c.optimizer_state = state.shards->checkpoint_state(c);  // last: it plans with the rest
  return c;
}

TrainingProgress restore_checkpoint(const checkpoint::CheckpointReader& checkpoint, const TrainConfig& config,
                                    TrainingState& state, int world_size, std::ostream& log) {
  const std::string where = "checkpoint " + checkpoint.directory();
  check_identity(checkpoint.run(), state.identity, where);
  // Strict, by name, through the loader every path shares: every missing, unexpected and
  // mis-shaped tensor is reported at once.
  WeightSource weights;
  weights.path = checkpoint.directory();
  weights.kind = "checkpoint";
  weights.tensors = checkpoint.model();
  load_weights(state.model, weights, /*strict=*/true);

  const std::vector<checkpoint::ParamGroupRecord> groups = checkpoint.param_groups();
  if (groups.empty()) throw CheckpointError(where + " has no optimizer state");
  if (groups.front().optimizer != config.optimizer.name)
    throw CheckpointError(where + " holds " + groups.front().optimizer + " state, this run uses --optimizer " +
                          config.optimizer.name);
  check_param_groups(groups, state.optimizer, where);
  const checkpoint::EpochRecord epoch = checkpoint.epoch();
  // Before the settings: another V changes the steps per epoch, which the schedule's check would
  // report without its cause.
  if (epoch.virtual_ranks != config.virtual_ranks)
    throw CheckpointError(where + (epoch.virtual_ranks > 0 ? " was trained with --virtual-ranks " + std::to_string(epoch.virtual_ranks)
                                                           : std::string(" was trained without --virtual-ranks")) +
                          (config.virtual_ranks > 0 ? ", this run has --virtual-ranks " + std::to_string(config.virtual_ranks)
                                                    : std::string(", this run has none")) +
                          " (a run continues as it started: give the same --virtual-ranks)");
  check_settings(epoch, config, state, where);
  restore_optimizer_state(checkpoint, state, where);
  restore_generator(checkpoint, where);
  restore_device_generator(checkpoint, state.device, where, log);
  if (state.scaler && epoch.loss_scale)
    state.scaler->restore({static_cast<float>(*epoch.loss_scale), epoch.loss_scale_growth_tracker});
  const std::int64_t global_batch = config.batch_size * config.accumulate_steps * config.sample_ranks(world_size);
  if (epoch.global_batch > 0 && epoch.global_batch != global_batch)
    log << "note: " << where << " was trained with a global batch of " << epoch.global_batch << ", this run's is "
        << global_batch << " (the LR is not rescaled)" << std::endl;
  return epoch.progress;
}

std::vector<std::string> rank_checkpoints(const std::string& root, const std::string& monitor) {
  const bool higher_is_better = monitor == "test_accuracy";
  std::vector<std::pair<double, std::size_t>> scored;  // (score, age order), higher first
  const std::vector<std::string> names = checkpoint::list_checkpoints(root);
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::optional<double> value;
    try {
      const checkpoint::EpochRecord epoch = checkpoint::CheckpointReader(storage::fs::join(root, names[i])).epoch();
      value = higher_is_better ? epoch.test_accuracy : epoch.test_loss;
    } catch (const StorageError&) {
      continue;  // a damaged checkpoint is nobody's best
    }
    if (value) scored.emplace_back(higher_is_better ? *value : -*value, i);
  }
  std::sort(scored.begin(), scored.end(), std::greater<>());
  std::vector<std::string> ranked;
  for (const auto& [score, i] : scored) ranked.push_back(names[i]);
  return ranked;
}

}  // namespace trainer
