#pragma once
// The phases of run_training, private to trainer/: the set-up (constructor: data, model, initial
// weights, frozen layers, optimizer, schedule, gradient exchange, checkpoint saver), one epoch of
// steps with the agreement at every step boundary (train_epoch.cpp), and the end of each epoch
// (metrics, evaluation, save).

#include "comm/gradient_bucketer.h"
#include "comm/virtual_reducer.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "models/network.h"
#include "telemetry/tensorboard_writer.h"
#include "telemetry/timeline.h"
#include "trainer/checkpoint_saver.h"
#include "trainer/checkpointing.h"
#include "trainer/metrics.h"
#include "trainer/progress.h"
#include "trainer/train.h"

#include <array>
#include <chrono>
#include <memory>
#include <optional>

namespace trainer {

// This rank's sums over the part of an epoch it trained.
struct EpochSums {
  double loss_sum = 0;             // --virtual-ranks: not used; loss_fixed instead
  std::int64_t loss_fixed = 0;     // --virtual-ranks: the loss sum in fixed point (fixed_point_loss), exact in any order
  double correct = 0;
  std::int64_t count = 0;
  double data_wait_seconds = 0;  // the step waited for batches (this rank)
  double grad_norm_sum = 0;      // total gradient norms before clipping (--clip-grad-norm)
  std::int64_t clipped_steps = 0;
  std::int64_t skipped_steps = 0;  // --precision fp16: steps skipped for inf/nan gradients
};

// What one optimizer step did, for TensorBoard.
struct StepReport {
  double loss = 0;                  // this rank's, over the step's micro-batches
  std::optional<double> grad_norm;  // the averaged gradients' total norm, before clipping
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
  struct Forward {
    torch::Tensor logits, labels, loss;
  };
  // virtual_ranks.cpp: --virtual-ranks' step; `count` samples for each of this process's virtual ranks.
  void train_virtual_step(data::BatchLoader& loader, std::int64_t count, EpochSums& sums);
  // The loss, correct and count sums of every rank: exactly, in any grouping, with --virtual-ranks.
  std::array<double, 3> all_sums(const EpochSums& sums) const;
  std::optional<double> clip_gradients(EpochSums& sums);
  std::optional<double> clip_sharded_gradients(EpochSums& sums);
  void log_memory();
  bool agree_to_stop();
  void save_mid_epoch(const EpochSums& sums, bool stopping);
  void save(const TrainingProgress& progress, bool wait);  // train.cpp
  [[noreturn]] void stop_now() const;
  [[noreturn]] void diverged(double loss) const;
  // run_telemetry.cpp: --tensorboard and --timeline
  using TimePoint = std::chrono::system_clock::time_point;
  void set_up_telemetry();
  void open_tensorboard();  // after a resume, which says where the run starts
  TimePoint timeline_now() const { return timeline_ ? std::chrono::system_clock::now() : TimePoint{}; }
  // Records the phase `name` from `since` to now and moves `since` to now; nothing when off.
  void phase(const char* name, TimePoint& since, telemetry::Track track = telemetry::Track::kStep);
  Forward forward_batch(const data::Batch& batch, TimePoint& since);  // train_epoch.cpp
  void record_step(const StepReport& report);
  void record_epoch(const EpochMetrics& m);
  void record_save(double seconds);
  void flush_timeline(bool last);
  // train.cpp
  EpochMetrics end_epoch(std::int64_t epoch, const EpochSums& sums, double seconds);
  void finish(TrainResult& result);
  void log_summary(const TrainResult& result, double seconds);

  const TrainConfig& config_;
  const RunContext& context_;
  std::ostream& log_;
  std::shared_ptr<const data::Dataset> train_, test_;  // test_: null without a test split
  std::shared_ptr<models::Network> model_;
  TrainingState state_;
  std::vector<torch::Tensor> trainable_;  // the optimizer's parameters, for clipping
  std::unique_ptr<comm::GradientBucketer> bucketer_;
  std::unique_ptr<CheckpointSaver> saver_;
  // One per rank of the data this process trains: itself, or its share of --virtual-ranks.
  std::vector<data::DistributedSampler> samplers_;
  std::int64_t first_virtual_rank_ = 0;
  std::unique_ptr<comm::VirtualRankReducer> virtual_reducer_;  // --virtual-ranks, instead of bucketer_'s exchange
  TrainingProgress progress_;
  std::optional<Progress> progress_lines_;
  bool stop_after_epoch_ = false;  // a stop agreed on at an epoch's last step
  std::optional<double> startup_seconds_;  // process start to the first step; reported once
  bool startup_reported_ = false;
  std::optional<telemetry::TimelineRecorder> timeline_;        // every rank, with --timeline
  std::unique_ptr<telemetry::TimelineFile> timeline_file_;     // rank 0
  std::unique_ptr<telemetry::TensorBoardWriter> tensorboard_;  // rank 0, with --tensorboard
  std::int64_t timeline_step_ = 0;  // the step being taken, or the last one taken
  EpochMetrics last_evaluation_;     // of the last epoch evaluated, for the checkpoint closing it
  std::int64_t evaluated_epochs_ = -1;
};

}  // namespace trainer
