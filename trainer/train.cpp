#include "trainer/train.h"

#include "common/clock.h"
#include "common/error.h"
#include "optim/state_map.h"
#include "storage/tensor_file.h"
#include "trainer/checkpointing.h"
#include "trainer/evaluation.h"
#include "trainer/replicas.h"
#include "trainer/resume.h"
#include "trainer/training_loop.h"

#include <torch/utils.h>

#include <ATen/Context.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>

namespace trainer {
namespace {

std::string format_epoch_line(const EpochMetrics& m, std::int64_t epochs) {
  char line[256];
  int n = std::snprintf(line, sizeof line, "epoch %lld/%lld train loss %.4f acc %.4f", static_cast<long long>(m.epoch),
                        static_cast<long long>(epochs), m.train_loss, m.train_accuracy);
  if (m.test_loss)
    n += std::snprintf(line + n, sizeof line - n, " | test loss %.4f acc %.4f", *m.test_loss, *m.test_accuracy);
  n += std::snprintf(line + n, sizeof line - n, " | lr %.3g", m.lr);
  if (m.grad_norm) n += std::snprintf(line + n, sizeof line - n, " | grad norm %.3g", *m.grad_norm);
  if (m.skipped_steps) n += std::snprintf(line + n, sizeof line - n, " | %lld skipped (fp16 overflow)",
                                          static_cast<long long>(*m.skipped_steps));
  std::snprintf(line + n, sizeof line - n, " | %.1fs %.0f samples/s, data wait %.0f%%", m.epoch_seconds,
                m.samples_per_second, 100 * m.data_wait_seconds / std::max(m.epoch_seconds, 1e-9));
  return line;
}

std::string eta_text(double seconds) {
  if (seconds <= 0) return "";
  const auto whole = static_cast<long long>(seconds + 0.5);
  char text[48];
  std::snprintf(text, sizeof text, " | ETA %lld:%02lld:%02lld", whole / 3600, whole / 60 % 60, whole % 60);
  return text;
}

// torch.use_deterministic_algorithms(True), torch.backends.cudnn.deterministic = True and
// .benchmark = False; cuBLAS reads CUBLAS_WORKSPACE_CONFIG when it starts (a user's setting wins).
void use_deterministic_algorithms() {
  ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
  at::globalContext().setDeterministicCuDNN(true);
  at::globalContext().setBenchmarkCuDNN(false);
}

}  // namespace

TrainResult run_training(const TrainConfig& config, const RunContext& context) {
  validate(config);
  if (config.deterministic) use_deterministic_algorithms();
  torch::set_num_threads(config.threads);
  torch::manual_seed(config.seed);
  TrainingLoop loop(config, context);
  return loop.run();
}

TrainResult TrainingLoop::run() {
  TrainResult result;
  if (auto resumed = resume_training(config_, state_, context_.control, log_)) {
    result.resumed_from = resumed->directory;
    progress_ = resumed->progress;
    const std::int64_t epoch_positions = samplers_.front().per_rank() * config_.sample_ranks(context_.comm.size());
    if (progress_.position_in_epoch >= epoch_positions)
      throw CheckpointError("checkpoint " + resumed->directory + " stopped at position " +
                            std::to_string(progress_.position_in_epoch) + " of an epoch; this run's epoch has " +
                            std::to_string(epoch_positions) + " (were --limit-train or --classes changed?)");
  }
  std::unique_ptr<MetricsWriter> metrics;
  if (!config_.metrics_file.empty() && context_.comm.rank() == 0)
    metrics = std::make_unique<MetricsWriter>(config_.metrics_file, result.resumed_from.empty()
                                                                        ? std::nullopt
                                                                        : std::optional<std::int64_t>(progress_.completed_epochs));
  open_tensorboard();
  progress_lines_.emplace(log_, config_.progress_seconds, config_.epochs);
  if (progress_.completed_epochs >= config_.epochs)
    log_ << "nothing to train: the checkpoint has " << progress_.completed_epochs << " of " << config_.epochs
         << " epoch(s) done" << std::endl;

  const auto run_start = Clock::now();
  const std::int64_t first_epoch = progress_.completed_epochs;
  for (std::int64_t epoch = progress_.completed_epochs; epoch < config_.epochs; ++epoch) {
    const auto start = Clock::now();
    const EpochSums sums = train_epoch(epoch);
    const EpochMetrics m = end_epoch(epoch, sums, seconds_since(start));
    // The ETA of the whole run: this process's mean epoch (training and evaluation) so far.
    const double per_epoch = seconds_since(run_start) / static_cast<double>(epoch + 1 - first_epoch);
    log_ << format_epoch_line(m, config_.epochs) << eta_text(per_epoch * static_cast<double>(config_.epochs - epoch - 1))
         << std::endl;
    if (metrics) metrics->write(m);
    record_epoch(m);
    result.epochs.push_back(m);

    const bool final_epoch = epoch + 1 == config_.epochs;
    if (saver_->due_after_epoch(progress_.completed_epochs, config_.epochs) || (stop_after_epoch_ && saver_->enabled()))
      save(progress_, /*wait=*/final_epoch || stop_after_epoch_);
    flush_timeline(/*last=*/stop_after_epoch_ && !final_epoch);
    if (stop_after_epoch_ && !final_epoch) stop_now();
  }
  finish(result);
  log_summary(result, seconds_since(run_start));
  return result;
}

// The epoch's metrics over all ranks (with what a mid-epoch resume carried over), the evaluation,
// and the progress moved to the epoch's end.
EpochMetrics TrainingLoop::end_epoch(std::int64_t epoch, const EpochSums& sums, double seconds) {
  comm::Communicator& comm = context_.comm;
  const auto all = all_sums(sums);
  const double epoch_count = all[2] + progress_.partial_count;
  progress_.samples_seen += static_cast<std::int64_t>(all[2]);
  broadcast_buffers(*model_, comm);  // evaluate and compare rank 0's BatchNorm statistics

  EpochMetrics m;
  m.epoch = epoch + 1;
  m.global_step = progress_.global_step;
  m.samples_seen = progress_.samples_seen;
  const optim::SchedulePosition last_step{progress_.global_step - 1, epoch};
  // The default group's base: --lr, or what --resume FILE.pt took from the file.
  const auto& groups = state_.optimizer.group_names;
  const auto default_group = std::find(groups.begin(), groups.end(), "default");
  const double base_lr = default_group != groups.end()
                             ? state_.optimizer.base_lrs[static_cast<std::size_t>(default_group - groups.begin())]
                             : config_.optimizer.lr;
  m.lr = state_.schedule->lr(base_lr, last_step);
  for (const double base_lr : state_.optimizer.base_lrs) m.group_lrs.push_back(state_.schedule->lr(base_lr, last_step));
  if (sums.clipped_steps > 0) m.grad_norm = sums.grad_norm_sum / static_cast<double>(sums.clipped_steps);
  if (state_.scaler) m.skipped_steps = sums.skipped_steps;  // the same on every rank
  m.train_loss = (all[0] + progress_.partial_loss_sum) / epoch_count;
  m.train_accuracy = (all[1] + progress_.partial_correct) / epoch_count;
  m.epoch_seconds = seconds;  // training only; evaluation is not throughput
  m.samples_per_second = all[2] / seconds;
  m.data_wait_seconds = sums.data_wait_seconds;
  if (!startup_reported_) m.startup_seconds = startup_seconds_;
  startup_reported_ = true;
  if (test_ && test_->size() > 0) {
    const Evaluation eval = evaluate(*model_, *test_, config_.test_batch_size, context_.device, comm, config_.virtual_ranks);
    m.test_loss = eval.loss;
    m.test_accuracy = eval.accuracy;
  }
  last_evaluation_ = m;
  evaluated_epochs_ = epoch + 1;
  progress_.completed_epochs = epoch + 1;
  progress_.step_in_epoch = progress_.position_in_epoch = 0;
  progress_.partial_loss_sum = progress_.partial_correct = progress_.partial_count = 0;
  return m;
}

// A checkpoint, on the timeline and in TensorBoard.
void TrainingLoop::save(const TrainingProgress& progress, bool wait) {
  // The scalars of the steps this checkpoint covers reach the disk before it can commit: a kill
  // right after the commit must not lose them (the resumed run logs only the steps after it).
  if (tensorboard_) tensorboard_->flush();
  TimePoint mark = timeline_now();
  const auto start = Clock::now();
  saver_->save(progress, wait);
  phase("checkpoint", mark);
  record_save(seconds_since(start));
}

void TrainingLoop::finish(TrainResult& result) {
  comm::Communicator& comm = context_.comm;
  result.replica_fingerprint = check_replicas_identical(state_.model, comm);
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(result.replica_fingerprint));
  log_ << "replicas identical on " << comm.size() << " rank(s): fingerprint " << hex << std::endl;
  log_memory();
  flush_timeline(/*last=*/true);
  if (tensorboard_) tensorboard_->flush();
  if (!config_.save_weights.empty() && comm.rank() == 0) {
    // With the checkpoint's /run record as attributes: eval, inspect, export and --init-from know
    // the model, its classes and its data from the file alone.
    Attributes attributes = run_record(config_, state_).to_attributes();
    attributes["completed_epochs"] = progress_.completed_epochs;
    storage::write_tensors(config_.save_weights, "/model", state_.model, attributes);
    log_ << "weights written to " << config_.save_weights << std::endl;
  }
}

// Collective. What --shard-optimizer divides, per rank, and each rank's peak resident memory.
void TrainingLoop::log_memory() {
  std::int64_t state_bytes = 0;
  if (state_.shards) {
    state_bytes = state_.shards->state_bytes();
  } else {
    const optim::OptimizerSetup& setup = state_.optimizer;
    for (const auto& parameter : trainable_)
      if (const auto* state = optim::find_state(*setup.optimizer, parameter))
        for (const auto& [key, tensor] : setup.adapter->state_tensors(*state)) state_bytes += tensor.numel() * tensor.element_size();
  }
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const std::vector<std::int64_t> states = context_.comm.allgather(state_bytes);
  const std::vector<std::int64_t> peaks = context_.comm.allgather(static_cast<std::int64_t>(usage.ru_maxrss));  // KiB
  char line[256];
  std::snprintf(line, sizeof line,
                "memory: optimizer state %.3f MB on the fullest rank, %.3f MB on all %zu together (%s); peak resident "
                "%.1f MB on the largest rank",
                *std::max_element(states.begin(), states.end()) / 1e6,
                std::accumulate(states.begin(), states.end(), std::int64_t{0}) / 1e6, states.size(),
                state_.shards ? "sharded" : "every rank holds all of it",
                *std::max_element(peaks.begin(), peaks.end()) * 1024 / 1e6);
  log_ << line << std::endl;
}

// The end of the run in a few lines: the best and last test metrics, the time and throughput, and
// where every output went.
void TrainingLoop::log_summary(const TrainResult& result, double seconds) {
  if (context_.comm.rank() != 0) return;
  char line[256];
  log_ << "run summary:";
  if (result.epochs.empty()) log_ << " no epoch trained";
  const EpochMetrics* best = nullptr;
  double samples = 0, training_seconds = 0;
  for (const auto& m : result.epochs) {
    samples += m.samples_per_second * m.epoch_seconds;
    training_seconds += m.epoch_seconds;
    if (m.test_accuracy && (!best || *m.test_accuracy > *best->test_accuracy)) best = &m;
  }
  if (!result.epochs.empty()) {
    const EpochMetrics& last = result.epochs.back();
    if (best) {
      std::snprintf(line, sizeof line, " best test accuracy %.4f (epoch %lld); last: test accuracy %.4f, test loss %.4f;",
                    *best->test_accuracy, static_cast<long long>(best->epoch), *last.test_accuracy, *last.test_loss);
      log_ << line;
    }
    std::snprintf(line, sizeof line, " %lld epoch(s) in %.1f s, %.0f samples/s", static_cast<long long>(result.epochs.size()),
                  seconds, samples / std::max(training_seconds, 1e-9));
    log_ << line;
  }
  log_ << std::endl;
  const auto output = [&](const char* what, const std::string& path) {
    if (!path.empty() && path != "none") log_ << "  " << what << ": " << path << std::endl;
  };
  output("run directory", config_.run_dir);
  if (config_.checkpointing()) output("checkpoints", config_.checkpoint_dir);
  output("metrics", config_.metrics_file);
  output("final weights", config_.save_weights);
  output("tensorboard", config_.tensorboard_dir);
  output("timeline", config_.timeline_file);
}

}  // namespace trainer
