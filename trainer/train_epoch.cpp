// One epoch of a training run: the sampled steps with their micro-batches, and what the ranks
// agree on at every step boundary (a stop, the commit of a background save), with the mid-epoch
// checkpoints the saver's policy or a stop asks for.

#include "common/clock.h"
#include "common/error.h"
#include "trainer/autocast.h"
#include "trainer/evaluation.h"
#include "trainer/training_loop.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <string>

namespace trainer {

namespace F = torch::nn::functional;

namespace {

// Seconds since this process started (exec by mpirun, srun or a shell), to 1/100 s: Linux's
// /proc/self/stat start time against /proc/uptime. Empty where the kernel does not say.
std::optional<double> seconds_since_process_start() {
  std::ifstream stat_file("/proc/self/stat"), uptime_file("/proc/uptime");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  double uptime = 0;
  const auto name_end = stat.rfind(')');
  if (!(uptime_file >> uptime) || name_end == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(name_end + 2));  // from field 3, the state
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i)
    if (i == 22) return uptime - std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return std::nullopt;
}

}  // namespace

EpochSums TrainingLoop::train_epoch(std::int64_t epoch) {
  model_->train();
  // A mid-epoch resume skips the positions already consumed; carried sums complete the metrics.
  std::vector<std::vector<std::int64_t>> orders;  // one per rank of the data this process trains
  for (const auto& sampler : samplers_) orders.push_back(sampler.indices(epoch, progress_.position_in_epoch));
  const std::int64_t per_step = config_.batch_size * config_.accumulate_steps;
  const std::int64_t samples = static_cast<std::int64_t>(orders.front().size());  // the same for each
  const std::int64_t steps = (samples + per_step - 1) / per_step;
  progress_lines_->start_epoch(epoch + 1, progress_.step_in_epoch + steps);

  // Every micro-batch of the epoch, in order: what the loader makes ahead of the steps (a step's
  // virtual ranks one after another).
  std::vector<data::BatchRequest> requests;
  for (std::int64_t begin = 0; begin < samples; begin += per_step)
    for (const auto& order : orders)
      for (std::int64_t first = begin; first < std::min(begin + per_step, samples); first += config_.batch_size)
        requests.push_back({order.data() + first, std::min({config_.batch_size, begin + per_step - first, samples - first})});
  data::BatchLoader loader(*train_, std::move(requests), epoch, config_.data.workers, config_.data.prefetch);

  EpochSums sums;
  for (std::int64_t step = 0; step < steps; ++step) {
    const auto step_start = Clock::now();
    if (!startup_reported_ && !startup_seconds_) startup_seconds_ = seconds_since_process_start();
    const std::int64_t begin = step * per_step;
    if (config_.virtual_ranks > 0) train_virtual_step(loader, std::min(per_step, samples - begin), sums);
    else train_step(loader, std::min(per_step, samples - begin), sums);
    sums.data_wait_seconds = loader.wait_seconds();
    ++progress_.global_step;
    ++progress_.step_in_epoch;
    const double loss_sum = config_.virtual_ranks > 0 ? std::ldexp(static_cast<double>(sums.loss_fixed), -kLossScale) : sums.loss_sum;
    progress_lines_->step(progress_.step_in_epoch, loss_sum / static_cast<double>(sums.count),
                          sums.count * context_.comm.size(), sums.data_wait_seconds);
    saver_->note_step_seconds(seconds_since(step_start));  // before a commit, which is not the step's

    const bool last_step = step + 1 == steps;
    TimePoint mark = timeline_now();
    const bool stop = agree_to_stop();
    phase("agree", mark, telemetry::Track::kAgree);
    if (stop && last_step) stop_after_epoch_ = true;
    if (!last_step && (stop || saver_->due_after_step(progress_.global_step))) save_mid_epoch(sums, stop);
    if (stop && !last_step) {
      flush_timeline(/*last=*/true);
      stop_now();
    }
  }
  return sums;
}

// A micro-batch's forward and loss (under autocast with --precision), timed as "data" and "forward".
TrainingLoop::Forward TrainingLoop::forward_batch(const data::Batch& batch, TimePoint& mark) {
  const torch::Tensor images = batch.images.to(context_.device);
  const torch::Tensor labels = batch.labels.to(context_.device);
  phase("data", mark);
  const bool autocast = config_.precision != "fp32";
  torch::Tensor logits;
  {
    AutocastRegion region(context_.device, autocast, config_.precision == "fp16" ? at::kHalf : at::kBFloat16);
    logits = model_->forward(images);
  }
  if (autocast) logits = logits.to(torch::kFloat32);  // the loss in fp32, as after torch.autocast
  const torch::Tensor loss =
      F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(config_.label_smoothing));
  phase("forward", mark);
  return {logits, labels, loss};
}

// One optimizer step over `count` samples in micro-batches of --batch-size; gradients are
// exchanged once, after the last micro-batch's backward (during it, with overlap).
void TrainingLoop::train_step(data::BatchLoader& loader, std::int64_t count, EpochSums& sums) {
  TimePoint mark = timeline_now();
  timeline_step_ = progress_.global_step + 1;
  state_.optimizer.optimizer->zero_grad();
  optim::apply_schedule(*state_.optimizer.optimizer, state_.optimizer.base_lrs, *state_.schedule,
                        {progress_.global_step, progress_.completed_epochs});
  StepReport report;
  for (std::int64_t begin = 0; begin < count; begin += config_.batch_size) {
    const std::int64_t size = std::min(config_.batch_size, count - begin);
    const auto [logits, labels, loss] = forward_batch(loader.next(), mark);
    if (begin + config_.batch_size >= count) bucketer_->prepare_backward(/*accumulated=*/begin != 0);
    // Weighting each micro-batch by its share makes K micro-batches one batch of K*B.
    const torch::Tensor share = loss * (static_cast<double>(size) / static_cast<double>(count));
    (state_.scaler ? state_.scaler->scale(share) : share).backward();
    phase("backward", mark);
    const double value = loss.item<double>();
    if (!std::isfinite(value)) diverged(value);
    report.loss += value * static_cast<double>(size) / static_cast<double>(count);
    sums.correct += static_cast<double>(logits.argmax(1).eq(labels).sum().item<std::int64_t>());
  }
  bucketer_->average_gradients();  // sharded: each rank's chunks of the average
  phase("waiting", mark);
  // fp16: unscaled before clipping; a step whose gradients overflowed is skipped (GradScaler.step),
  // alike on every rank, since every rank holds the same averaged gradients (sharded: its share of
  // them, and the ranks agree).
  bool overflowed = false;
  if (state_.scaler && state_.shards) overflowed = state_.shards->any_rank(state_.scaler->unscale(state_.shards->pieces()));
  else if (state_.scaler) overflowed = state_.scaler->unscale(trainable_);
  if (overflowed) {
    ++sums.skipped_steps;
  } else {
    report.grad_norm = clip_gradients(sums);
    if (state_.shards) state_.shards->step();
    else state_.optimizer.optimizer->step();
  }
  if (state_.scaler) state_.scaler->update(overflowed);
  phase("optimizer", mark);
  sums.loss_sum += report.loss * static_cast<double>(count);
  sums.count += count;
  record_step(report);
}

// After the average, so that every rank clips the same gradients alike (PyTorch: after DDP's
// backward, before optimizer.step()). The norm before clipping, when it was computed (clipping by
// norm, or TensorBoard).
std::optional<double> TrainingLoop::clip_gradients(EpochSums& sums) {
  // --virtual-ranks: every process holds the whole average, clipped whole (the same on any N).
  if (state_.shards && config_.virtual_ranks == 0) return clip_sharded_gradients(sums);
  if (config_.clip_grad_norm > 0) {
    const double norm = torch::nn::utils::clip_grad_norm_(trainable_, config_.clip_grad_norm);
    sums.grad_norm_sum += norm;
    ++sums.clipped_steps;
    return norm;
  }
  // An infinite bound scales by 1: the norm alone, computed as clip_grad_norm_ computes it.
  std::optional<double> norm;
  if (tensorboard_) norm = torch::nn::utils::clip_grad_norm_(trainable_, std::numeric_limits<double>::infinity());
  if (config_.clip_grad_value > 0) torch::nn::utils::clip_grad_value_(trainable_, config_.clip_grad_value);
  return norm;
}

// clip_gradients on this rank's share of the averaged gradients: the norm from every rank's share,
// the coefficient clip_grad_norm_'s (max / (norm + 1e-6), applied when below 1).
std::optional<double> TrainingLoop::clip_sharded_gradients(EpochSums& sums) {
  const std::vector<torch::Tensor>& share = state_.shards->pieces();
  std::optional<double> norm;
  // Collective: asked alike on every rank (only rank 0 has a TensorBoard writer).
  if (config_.clip_grad_norm > 0 || !config_.tensorboard_dir.empty()) norm = state_.shards->gradient_norm();
  if (config_.clip_grad_norm > 0) {
    sums.grad_norm_sum += *norm;
    ++sums.clipped_steps;
    const double coefficient = config_.clip_grad_norm / (*norm + 1e-6);
    torch::NoGradGuard no_grad;
    if (coefficient < 1)
      for (const auto& piece : share) piece.grad().mul_(coefficient);
    return norm;
  }
  if (config_.clip_grad_value > 0) torch::nn::utils::clip_grad_value_(share, config_.clip_grad_value);
  return norm;
}

// What the ranks agree on at a step boundary, in one small collective: whether any rank has
// received a stop signal (so that all stop at the same step and save the same state), and whether
// every rank's background checkpoint write has finished (so that all commit it at the same step).
bool TrainingLoop::agree_to_stop() {
  const bool pending = saver_->pending();  // the same on every rank
  if (!context_.stop_requested && !pending) return false;
  const std::int64_t stop = context_.stop_requested && context_.stop_requested() ? 1 : 0;
  const std::int64_t writing = pending && !saver_->written() ? 1 : 0;
  std::vector<torch::Tensor> flags{torch::tensor({stop, writing}, torch::kInt64)};
  context_.control.allreduce(flags, {comm::ReduceOp::kMax});
  if (pending && flags[0][1].item<std::int64_t>() == 0) saver_->commit_pending();
  return flags[0][0].item<std::int64_t>() != 0;
}

// A checkpoint inside the epoch: the progress so far, with the epoch's sums over all ranks.
void TrainingLoop::save_mid_epoch(const EpochSums& sums, bool stopping) {
  if (!saver_->enabled()) return;
  TrainingProgress snapshot = progress_;
  const auto all = all_sums(sums);
  snapshot.position_in_epoch = progress_.position_in_epoch + sums.count * context_.comm.size();
  snapshot.partial_loss_sum += all[0];
  snapshot.partial_correct += all[1];
  snapshot.partial_count += all[2];
  snapshot.samples_seen += static_cast<std::int64_t>(all[2]);
  save(snapshot, /*wait=*/stopping);
}

// A loss that is not finite: the weights are ruined, and nothing of them may reach a checkpoint
// (with --keep-last it could push good ones out). The step is not taken; the run ends with status 1.
void TrainingLoop::diverged(double loss) const {
  throw Error("training diverged: the loss is " + std::string(std::isnan(loss) ? "nan" : "infinite") + " at global step " +
              std::to_string(progress_.global_step + 1) + " (epoch " + std::to_string(progress_.completed_epochs + 1) +
              "); no checkpoint of these weights was written (a lower --lr may help)");
}

void TrainingLoop::stop_now() const {
  log_ << "stopping on a signal at global step " << progress_.global_step
       << (saver_->enabled() ? "; resume with --resume auto" : "; no checkpoint was written (--checkpoint-dir none)")
       << std::endl;
  throw StopRequested("stopped on a signal at global step " + std::to_string(progress_.global_step));
}

}  // namespace trainer
