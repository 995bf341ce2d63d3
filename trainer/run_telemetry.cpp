// What the training loop reports beside its log and metrics file: TensorBoard scalars (rank 0) and
// the step timeline (every rank's phases, gathered on rank 0 at each epoch's end).

#include "trainer/training_loop.h"

#include <torch/types.h>

namespace trainer {
namespace {

using SystemClock = std::chrono::system_clock;

std::int64_t to_microseconds(SystemClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

}  // namespace

// Rank 0's clock at the start is every rank's origin, so that the tracks line up.
void TrainingLoop::set_up_telemetry() {
  if (config_.timeline_file.empty()) return;
  comm::Communicator& control = context_.control;
  std::vector<torch::Tensor> origin{torch::tensor({to_microseconds(SystemClock::now())}, torch::kInt64)};
  control.broadcast(origin, {/*root=*/0});
  const auto microseconds = std::chrono::microseconds(origin[0].item<std::int64_t>());
  timeline_.emplace(control.rank(),
                    SystemClock::time_point(std::chrono::duration_cast<SystemClock::duration>(microseconds)));
  bucketer_->record_timings(true);
  if (control.rank() == 0)
    timeline_file_ = std::make_unique<telemetry::TimelineFile>(config_.timeline_file, control.size());
}

void TrainingLoop::open_tensorboard() {
  if (config_.tensorboard_dir.empty() || context_.comm.rank() != 0) return;
  tensorboard_ = std::make_unique<telemetry::TensorBoardWriter>(config_.tensorboard_dir, progress_.global_step);
  log_ << "TensorBoard events: " << tensorboard_->path() << std::endl;
}

void TrainingLoop::phase(const char* name, TimePoint& since, telemetry::Track track) {
  if (!timeline_) return;
  const TimePoint now = SystemClock::now();
  timeline_->span(name, track, since, now, timeline_step_);
  since = now;
}

void TrainingLoop::record_step(const StepReport& report) {
  if (timeline_) {
    const auto& timings = bucketer_->timings();
    for (std::size_t b = 0; b < timings.size(); ++b)
      if (timings[b].launched != TimePoint{})
        timeline_->span(state_.shards ? "reduce-scatter bucket" : "allreduce bucket", telemetry::Track::kAllreduce, timings[b].launched,
                        std::max(timings[b].launched, timings[b].completed), timeline_step_, static_cast<int>(b));
  }
  if (!tensorboard_) return;
  const std::int64_t step = timeline_step_;
  tensorboard_->scalar("train/step_loss", report.loss, step);
  if (report.grad_norm) tensorboard_->scalar("train/grad_norm", *report.grad_norm, step);
  const auto& groups = state_.optimizer.optimizer->param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g)
    tensorboard_->scalar("lr/" + state_.optimizer.group_names[g], groups[g].options().get_lr(), step);
}

void TrainingLoop::record_epoch(const EpochMetrics& m) {
  if (!tensorboard_) return;
  tensorboard_->scalar("train/loss", m.train_loss, m.global_step);
  tensorboard_->scalar("train/accuracy", m.train_accuracy, m.global_step);
  if (m.test_loss) tensorboard_->scalar("test/loss", *m.test_loss, m.global_step);
  if (m.test_accuracy) tensorboard_->scalar("test/accuracy", *m.test_accuracy, m.global_step);
  tensorboard_->scalar("throughput/samples_per_second", m.samples_per_second, m.global_step);
  tensorboard_->scalar("data/wait_share", m.data_wait_seconds / std::max(m.epoch_seconds, 1e-9), m.global_step);
  tensorboard_->scalar("train/epoch", static_cast<double>(m.epoch), m.global_step);
  tensorboard_->flush();
}

// Flushed with every checkpoint: a resumed run goes on from one, and the steps before it must be on
// disk already (those after it, the resumed run logs again).
void TrainingLoop::record_save(double seconds) {
  if (!tensorboard_) return;
  tensorboard_->scalar("checkpoint/save_seconds", seconds, progress_.global_step);
  tensorboard_->flush();
}

// Every rank's spans to rank 0, one rank after the other (a collective: every rank calls it at the
// same point). `last` closes the file; nothing is recorded after it.
void TrainingLoop::flush_timeline(bool last) {
  if (!timeline_) return;
  comm::Communicator& control = context_.control;
  const std::string events = timeline_->take();
  for (int rank = 0; rank < control.size(); ++rank) {
    const std::string received = comm::broadcast_string(events, control, rank);
    if (timeline_file_) timeline_file_->append(received);
  }
  if (!last) return;
  if (timeline_file_) {
    timeline_file_->close();
    log_ << "timeline written to " << config_.timeline_file << std::endl;
  }
  timeline_file_.reset();
  timeline_.reset();
}

}  // namespace trainer
