#pragma once
// What a training run puts into a checkpoint and takes back out: the model's state dict, the
// optimizer's state keyed by parameter name, and the progress needed for a resume that is
// bit-identical to an uninterrupted run. The file format itself is storage/'s business.

#include "models/state_dict.h"
#include "storage/checkpoint.h"
#include "trainer/config.h"

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <string>

namespace trainer {

// Where training stands; saved under /epoch.
struct TrainingProgress {
  std::int64_t completed_epochs = 0;
  std::int64_t global_step = 0;
  std::int64_t samples_seen = 0;
  // Inside an unfinished epoch (mid-epoch checkpoints): optimizer steps taken, permutation
  // positions consumed by all ranks together, and the epoch's training sums so far (all ranks).
  std::int64_t step_in_epoch = 0;
  std::int64_t position_in_epoch = 0;
  double partial_loss_sum = 0;
  double partial_correct = 0;
  double partial_count = 0;
};

struct ModelIdentity {
  std::string model;
  std::int64_t num_classes = 0;
  std::int64_t in_channels = 0;
};

storage::CheckpointData capture_checkpoint(const TrainConfig& config, const ModelIdentity& identity,
                                           const models::StateDict& state,
                                           const torch::optim::Optimizer& optimizer,
                                           const TrainingProgress& progress, int world_size);

// Loads the checkpoint into `state` (in place) and `optimizer`, and returns the progress. Throws
// CheckpointError naming what does not fit (model, missing/unexpected/mis-shaped tensors,
// optimizer) and StorageError for unreadable data.
TrainingProgress restore_checkpoint(const storage::CheckpointReader& checkpoint, const TrainConfig& config,
                                    const ModelIdentity& identity, const models::StateDict& state,
                                    torch::optim::Optimizer& optimizer);

// "epoch-0003" after 3 whole epochs; "epoch-0003-step-00000120" 120 steps into the fourth.
std::string checkpoint_name(const TrainingProgress& progress);

}  // namespace trainer
