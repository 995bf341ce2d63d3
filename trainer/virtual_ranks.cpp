// --virtual-ranks V: the run behaves as V ranks of --batch-size each on any process count N that
// divides V. Each process runs the forward and backward of its V/N virtual ranks one after another;
// virtual rank v always gets the same samples (its own DistributedSampler of a world of V) and the
// same random draws (the CPU generator seeded by (seed, step, v) before its forward); its gradient
// is kept, and the step's gradient is the average of all V, summed in fixed point
// (comm/exact_sum.h), whose integer sums give the same bits in any grouping. BatchNorm's running
// statistics are virtual rank 0's (process 0 restores them after its other virtual ranks), the
// loss sums are fixed point too, and the evaluation is cut into V shares: every value a checkpoint
// holds is the same on any N.

#include "comm/exact_sum.h"
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
  std::vector<torch::Tensor> gradients;  // one flat float32 gradient per virtual rank of this process
  std::vector<torch::Tensor> first_buffers;
  for (std::size_t k = 0; k < samplers_.size(); ++k) {
    const std::int64_t v = first_virtual_rank_ + static_cast<std::int64_t>(k);
    torch::manual_seed(virtual_seed(config_.seed, progress_.global_step, v));
    state_.optimizer.optimizer->zero_grad();
    for (std::int64_t begin = 0; begin < count; begin += config_.batch_size) {
      const std::int64_t size = std::min(config_.batch_size, count - begin);
      const auto [logits, labels, loss] = forward_batch(loader.next(), mark);
      (loss * (static_cast<double>(size) / static_cast<double>(count))).backward();
      phase("backward", mark);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) diverged(value);
      sums.loss_fixed += fixed_point_loss(value * static_cast<double>(size));
      report.loss += value * static_cast<double>(size) / static_cast<double>(count * samplers_.size());
      sums.correct += static_cast<double>(logits.argmax(1).eq(labels).sum().item<std::int64_t>());
    }
    // Running statistics: the first virtual rank's (on process 0, virtual rank 0's, which every
    // checkpoint and evaluation takes).
    if (k == 0 && samplers_.size() > 1) first_buffers = buffers_of(*model_);
    std::vector<torch::Tensor> flat;
    for (const auto& parameter : trainable_)
      flat.push_back(parameter.grad().defined() ? parameter.grad().detach().reshape(-1).to(torch::kCPU, torch::kFloat32)
                                                : torch::zeros({parameter.numel()}, torch::kFloat32));
    gradients.push_back(torch::cat(flat));
  }
  if (!first_buffers.empty()) restore_buffers(*model_, first_buffers);
  // The generator a checkpoint records: the same on any N, whichever virtual rank drew last here.
  torch::manual_seed(virtual_seed(config_.seed, progress_.global_step, -1));
  average_virtual_gradients(gradients);
  phase("waiting", mark);
  report.grad_norm = clip_gradients(sums);
  state_.optimizer.optimizer->step();
  phase("optimizer", mark);
  sums.count += count * static_cast<std::int64_t>(samplers_.size());
  record_step(report);
}

// The average of every virtual rank's gradient, the same bits on any N: per parameter tensor, the
// largest magnitude over all virtual ranks (an exact max-reduction) sets a shared fixed-point
// scale; the int64 sums of this process's virtual ranks are summed over the processes (MPI_SUM on
// integers: any order is exact) and divided by V once.
void TrainingLoop::average_virtual_gradients(const std::vector<torch::Tensor>& gradients) {
  torch::NoGradGuard no_grad;
  const std::size_t tensors = trainable_.size();
  std::vector<std::int64_t> offsets{0};
  for (const auto& parameter : trainable_) offsets.push_back(offsets.back() + parameter.numel());
  std::vector<double> maxima(tensors, 0.0);
  for (const auto& gradient : gradients)
    for (std::size_t t = 0; t < tensors; ++t) {
      const double max = comm::max_magnitude(gradient.data_ptr<float>() + offsets[t], static_cast<std::size_t>(offsets[t + 1] - offsets[t]));
      if (!std::isfinite(max))
        throw Error("training diverged: a gradient of " + std::to_string(trainable_[t].numel()) +
                    " elements is not finite at global step " + std::to_string(progress_.global_step + 1) +
                    "; no checkpoint of these weights was written (a lower --lr may help)");
      maxima[t] = std::max(maxima[t], max);
    }
  std::vector<torch::Tensor> reduce_max{torch::tensor(maxima, torch::kFloat64).to(context_.device)};
  context_.comm.allreduce(reduce_max, {comm::ReduceOp::kMax});
  const torch::Tensor all_maxima = reduce_max[0].to(torch::kCPU);
  std::vector<int> exponents;
  for (std::size_t t = 0; t < tensors; ++t)
    exponents.push_back(comm::fixed_point_exponent(all_maxima.data_ptr<double>()[t], config_.virtual_ranks));
  // Kept from step to step: a fresh 8-bytes-an-element buffer costs its page faults every time.
  if (!virtual_sums_.defined() || virtual_sums_.numel() != offsets.back())
    virtual_sums_ = torch::zeros({offsets.back()}, torch::kInt64);
  else
    virtual_sums_.zero_();
  torch::Tensor sums = virtual_sums_;
  for (const auto& gradient : gradients)
    for (std::size_t t = 0; t < tensors; ++t)
      comm::accumulate_fixed_point(gradient.data_ptr<float>() + offsets[t], static_cast<std::size_t>(offsets[t + 1] - offsets[t]),
                                   exponents[t], sums.data_ptr<std::int64_t>() + offsets[t]);
  std::vector<torch::Tensor> reduce_sum{sums.to(context_.device)};
  context_.comm.allreduce(reduce_sum, {comm::ReduceOp::kSum});
  sums = reduce_sum[0].to(torch::kCPU);
  for (std::size_t t = 0; t < tensors; ++t) {
    torch::Tensor& parameter = trainable_[t];
    // Straight into a contiguous fp32 CPU gradient (the CPU's case); elsewhere through a copy.
    torch::Tensor& grad = parameter.mutable_grad();
    const bool direct = grad.defined() && grad.is_cpu() && grad.scalar_type() == torch::kFloat32 && grad.is_contiguous();
    torch::Tensor average = direct ? grad : torch::empty({parameter.numel()}, torch::kFloat32);
    comm::fixed_point_to_float(sums.data_ptr<std::int64_t>() + offsets[t], static_cast<std::size_t>(offsets[t + 1] - offsets[t]),
                               exponents[t], static_cast<double>(config_.virtual_ranks), average.data_ptr<float>());
    if (direct) continue;
    const torch::Tensor value = average.view(parameter.sizes()).to(parameter.device(), parameter.scalar_type());
    if (grad.defined()) grad.copy_(value);
    else grad = value.clone();
  }
}

std::array<double, 3> TrainingLoop::all_sums(const EpochSums& sums) const {
  if (config_.virtual_ranks == 0)
    return reduce_sums(sums.loss_sum, sums.correct, static_cast<double>(sums.count), context_.device, context_.comm);
  return reduce_exact_sums(sums.loss_fixed, static_cast<std::int64_t>(sums.correct), sums.count,
                           context_.device, context_.comm);
}

}  // namespace trainer
