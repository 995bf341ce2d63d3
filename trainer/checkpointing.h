#pragma once
// What a training run puts into a checkpoint and takes back out: the model's state dict, the
// optimizer's groups and state keyed by parameter name, the LR schedule's settings, and the
// progress needed for a resume that is bit-identical to an uninterrupted run. The layout is
// storage/'s (checkpoint/schema.h); what is optimizer-specific is optim/'s adapters'.

#include "models/state_dict.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "checkpoint/checkpoint.h"
#include "trainer/config.h"
#include "trainer/loss_scaler.h"
#include "trainer/optimizer_shards.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

namespace trainer {

using TrainingProgress = checkpoint::TrainingProgress;

struct ModelIdentity {
  std::string model;
  std::int64_t num_classes = 0;
  std::int64_t in_channels = 0;
  std::string model_sha256;  // a model file's; empty for a built-in network
  std::vector<std::string> class_names;  // the training data's, when it names its classes
};

// What a checkpoint holds of a run besides its progress.
struct TrainingState {
  ModelIdentity identity;
  std::int64_t train_samples = 0;  // the training set's size
  models::StateDict model;
  optim::OptimizerSetup optimizer;
  std::unique_ptr<optim::LrSchedule> schedule;
  std::optional<LossScaler> scaler;  // --precision fp16
  std::unique_ptr<OptimizerShards> shards;  // --shard-optimizer: steps instead of `optimizer`
  torch::Device device = torch::kCPU;  // where the model trains: its generator is checkpointed too
};

// What a checkpoint's /run says about the model and its training (also on --save-weights files).
checkpoint::RunRecord run_record(const TrainConfig& config, const TrainingState& state);

checkpoint::CheckpointContents capture_checkpoint(const TrainConfig& config, const TrainingState& state,
                                               const TrainingProgress& progress, int world_size);

// Loads the checkpoint into `state` (tensors in place, optimizer state replaced) and the global
// CPU generator, and returns the progress. Everything recorded that must match this run is
// checked first: model, classes, input channels, tensors, optimizer and its groups, schedule,
// seed; each mismatch is a CheckpointError naming the checkpoint and both values. Unreadable
// data is a StorageError. A changed global batch (other world size or batch) is only noted.
TrainingProgress restore_checkpoint(const checkpoint::CheckpointReader& checkpoint, const TrainConfig& config,
                                    TrainingState& state, int world_size, std::ostream& log);

// "epoch-0003" after 3 whole epochs; "epoch-0003-step-00000120" 120 steps into the fourth.
std::string checkpoint_name(const TrainingProgress& progress);

// The names of the committed checkpoints under `root` that hold `monitor` (test_accuracy: the
// higher the better; test_loss: the lower), best first, the newer first among equals. Those that
// cannot be read, and those without the metric (inside an epoch, without a test set), are left out.
std::vector<std::string> rank_checkpoints(const std::string& root, const std::string& monitor);

}  // namespace trainer
