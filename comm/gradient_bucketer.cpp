#include "comm/gradient_bucketer.h"

namespace trainer::comm {

GradientBucketer::GradientBucketer(const std::vector<torch::Tensor>& parameters,
                                   const BucketLimits& limits) {
  std::vector<torch::Tensor> trainable;
  for (auto it = parameters.rbegin(); it != parameters.rend(); ++it)
    if (it->requires_grad()) trainable.push_back(*it);

  std::vector<TensorSlot> slots;
  for (const auto& p : trainable)
    slots.push_back({static_cast<std::size_t>(p.numel()) * p.element_size(),
                     static_cast<int>(p.scalar_type())});
  for (const auto& positions : plan_buckets(slots, limits)) {
    Bucket bucket;
    std::int64_t elements = 0;
    for (std::size_t position : positions) {
      bucket.parameters.push_back(trainable[position]);
      bucket.offsets.push_back(elements);
      elements += trainable[position].numel();
    }
    bucket.buffer = torch::empty({elements}, trainable[positions.front()].options().requires_grad(false));
    buckets_.push_back(std::move(bucket));
  }
}

void GradientBucketer::average_gradients(Communicator& comm) {
  if (comm.size() == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      const torch::Tensor& grad = bucket.parameters[i].grad();
      torch::Tensor slice = bucket.buffer.narrow(0, bucket.offsets[i], bucket.parameters[i].numel());
      if (grad.defined()) slice.copy_(grad.reshape({-1}));
      else slice.zero_();
    }
    std::vector<torch::Tensor> tensors{bucket.buffer};
    comm.allreduce(tensors, {ReduceOp::kSum});
    // Divide by the world size after the reduction has completed, never before, in the same pass
    // that copies the average back into each gradient.
    const torch::Tensor inverse = torch::scalar_tensor(1.0 / comm.size(), bucket.buffer.options());
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      torch::Tensor& param = bucket.parameters[i];
      torch::Tensor summed = bucket.buffer.narrow(0, bucket.offsets[i], param.numel()).view(param.sizes());
      if (param.grad().defined()) torch::mul_out(param.mutable_grad(), summed, inverse);
      else param.mutable_grad() = summed * inverse;
    }
  }
}

std::size_t GradientBucketer::parameter_count() const {
  std::size_t count = 0;
  for (const auto& bucket : buckets_) count += bucket.parameters.size();
  return count;
}

std::size_t GradientBucketer::bytes() const {
  std::size_t total = 0;
  for (const auto& bucket : buckets_) total += static_cast<std::size_t>(bucket.buffer.numel()) * bucket.buffer.element_size();
  return total;
}

}  // namespace trainer::comm
