// --virtual-ranks V: the run behaves as V ranks of --batch-size each on any process count N that
// divides V. Each process runs the forward and backward of its V/N virtual ranks one after another;
// virtual rank v always gets the same samples (its own DistributedSampler of a world of V) and the
// same random draws (the CPU generator seeded by (seed, step, v) before its forward); its gradient
// is kept, and the step's gradient is the average of all V, each element's values added in
// virtual-rank order (comm/virtual_reducer.h), which does not depend on N. BatchNorm's running
// statistics are virtual rank 0's (process 0 restores them after its other virtual ranks), the
// loss sums are fixed point, exact in any order, and the evaluation is cut into V shares: every
// value a checkpoint holds is the same on any N.

#include "comm/virtual_reducer.h"
#include "common/error.h"
#include "trainer/evaluation.h"
#include "trainer/training_loop.h"


#include <cmath>
#include <string>

namespace trainer {

namespace {

// SplitMix64's finalizer over (seed, step, virtual rank): well-mixed seeds for neighbouring steps.
std::uint64_t virtual_seed(std::uint64_t seed, std::int64_t step, std::int64_t rank) {
  std::uint64_t x = seed ^ (static_cast<std::uint64_t>(step) * 0x9E3779B97F4A7C15ull) ^
                    (static_cast<std::uint64_t>(rank + 1) * 0xD1B54A32D192ED03ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::vector<torch::Tensor> buffers_of(torch::nn::Module& model) {
  std::vector<torch::Tensor> copies;
  for (const auto& buffer : model.buffers()) copies.push_back(buffer.detach().clone());
  return copies;
}

void restore_buffers(torch::nn::Module& model, const std::vector<torch::Tensor>& copies) {
  torch::NoGradGuard no_grad;
  const auto buffers = model.buffers();
  for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(copies[i]);
}

}  // namespace

void TrainingLoop::train_virtual_step(data::BatchLoader& loader, std::int64_t count, EpochSums& sums) {
  TimePoint mark = timeline_now();
  timeline_step_ = progress_.global_step + 1;
  optim::apply_schedule(*state_.optimizer.optimizer, state_.optimizer.base_lrs, *state_.schedule,
                        {progress_.global_step, progress_.completed_epochs});
  StepReport report;
  std::vector<torch::Tensor> first_buffers;
  const std::size_t local = samplers_.size();
  for (std::size_t k = 0; k < local; ++k) {
    const std::int64_t v = first_virtual_rank_ + static_cast<std::int64_t>(k);
    torch::manual_seed(virtual_seed(config_.seed, progress_.global_step, v));
    state_.optimizer.optimizer->zero_grad();
    for (std::int64_t begin = 0; begin < count; begin += config_.batch_size) {
      const std::int64_t size = std::min(config_.batch_size, count - begin);
      const auto [logits, labels, loss] = forward_batch(loader.next(), mark);
      // The last virtual rank's gradients leave from backward's hooks, bucket by bucket.
      if (k + 1 == local && begin + config_.batch_size >= count) virtual_reducer_->prepare_last(/*accumulated=*/begin != 0);
      (loss * (static_cast<double>(size) / static_cast<double>(count))).backward();
      phase("backward", mark);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) diverged(value);
      sums.loss_fixed += fixed_point_loss(value * static_cast<double>(size));
      report.loss += value * static_cast<double>(size) / static_cast<double>(count * local);
      sums.correct += static_cast<double>(logits.argmax(1).eq(labels).sum().item<std::int64_t>());
    }
    // Running statistics: the first virtual rank's (on process 0, virtual rank 0's, which every
    // checkpoint and evaluation takes).
    if (k == 0 && local > 1) first_buffers = buffers_of(*model_);
    if (k + 1 < local || !virtual_reducer_->overlapping()) virtual_reducer_->keep(static_cast<std::int64_t>(k));
  }
  if (!first_buffers.empty()) restore_buffers(*model_, first_buffers);
  // The generator a checkpoint records: the same on any N, whichever virtual rank drew last here.
  torch::manual_seed(virtual_seed(config_.seed, progress_.global_step, -1));
  if (!virtual_reducer_->average())
    throw Error("training diverged: the averaged gradient is not finite at global step " +
                std::to_string(progress_.global_step + 1) + " (" + context_.comm.where() +
                "); no checkpoint of these weights was written (a lower --lr may help)");
  phase("waiting", mark);
  report.grad_norm = clip_gradients(sums);
  if (state_.shards) {
    // --shard-optimizer: this rank steps its chunk of the clipped average, then the parameters
    // are allgathered as in the plain sharded step.
    bucketer_->chunks_from_gradients();
    state_.shards->step();
  } else {
    state_.optimizer.optimizer->step();
  }
  phase("optimizer", mark);
  sums.count += count * static_cast<std::int64_t>(local);
  record_step(report);
}

std::array<double, 3> TrainingLoop::all_sums(const EpochSums& sums) const {
  if (config_.virtual_ranks == 0)
    return reduce_sums(sums.loss_sum, sums.correct, static_cast<double>(sums.count), context_.device, context_.comm);
  return reduce_exact_sums(sums.loss_fixed, static_cast<std::int64_t>(sums.correct), sums.count,
                           context_.device, context_.comm);
}

}  // namespace trainer
