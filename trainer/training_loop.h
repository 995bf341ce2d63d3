#pragma once
// The phases of run_training, private to trainer/: the set-up (constructor: data, model, initial
// weights, frozen layers, optimizer, schedule, gradient exchange, checkpoint saver), one epoch of
// steps with the agreement at every step boundary (train_epoch.cpp), and the end of each epoch
// (metrics, evaluation, save).

#include "comm/gradient_bucketer.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "models/network.h"
#include "trainer/checkpoint_saver.h"
#include "trainer/checkpointing.h"
#include "trainer/metrics.h"
#include "trainer/progress.h"
#include "trainer/train.h"

#include <memory>
#include <optional>

namespace trainer {

// This rank's sums over the part of an epoch it trained.
struct EpochSums {
  double loss_sum = 0;
  double correct = 0;
  std::int64_t count = 0;
  double data_wait_seconds = 0;  // the step waited for batches (this rank)
};

class TrainingLoop {
 public:
  TrainingLoop(const TrainConfig& config, const RunContext& context);  // training_setup.cpp
  TrainResult run();

 private:
  // training_setup.cpp
  void set_up_data();
  void set_up_model();
  void set_up_optimizer();
  void log_run() const;
  // train_epoch.cpp
  EpochSums train_epoch(std::int64_t epoch);
  void train_step(data::BatchLoader& loader, std::int64_t count, EpochSums& sums);
  bool agree_to_stop();
  void save_mid_epoch(const EpochSums& sums, bool stopping);
  [[noreturn]] void stop_now() const;
  [[noreturn]] void diverged(double loss) const;
  // train.cpp
  EpochMetrics end_epoch(std::int64_t epoch, const EpochSums& sums, double seconds);
  void finish(TrainResult& result);

  const TrainConfig& config_;
  const RunContext& context_;
  std::ostream& log_;
  std::shared_ptr<const data::Dataset> train_, test_;  // test_: null without a test split
  std::shared_ptr<models::Network> model_;
  TrainingState state_;
  std::unique_ptr<comm::GradientBucketer> bucketer_;
  std::unique_ptr<CheckpointSaver> saver_;
  std::optional<data::DistributedSampler> sampler_;
  TrainingProgress progress_;
  std::optional<Progress> progress_lines_;
  bool stop_after_epoch_ = false;  // a stop agreed on at an epoch's last step
};

}  // namespace trainer
