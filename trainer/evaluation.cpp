#include "trainer/evaluation.h"

#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <cmath>

namespace trainer {

namespace F = torch::nn::functional;

void for_each_batch(models::Network& model, const data::Dataset& data, std::int64_t begin, std::int64_t end,
                    std::int64_t batch_size, const torch::Device& device,
                    const std::function<void(const torch::Tensor& logits, const torch::Tensor& labels)>& consume) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  for (std::int64_t first = begin; first < end; first += batch_size) {
    const data::Batch batch = data::batch_of_range(data, first, std::min(first + batch_size, end));
    consume(model.forward(batch.images.to(device)), batch.labels.to(device));
  }
  model.train(was_training);
}

std::array<double, 3> reduce_sums(double loss_sum, double correct, double count, const torch::Device& device,
                                  comm::Communicator& comm) {
  torch::Tensor sums = torch::tensor({loss_sum, correct, count}, torch::kFloat64).to(device);
  std::vector<torch::Tensor> tensors{sums};
  comm.allreduce(tensors, {comm::ReduceOp::kSum});
  sums = sums.to(torch::kCPU);
  return {sums[0].item<double>(), sums[1].item<double>(), sums[2].item<double>()};
}

std::int64_t fixed_point_loss(double value) { return std::llround(std::ldexp(value, kLossScale)); }

std::array<double, 3> reduce_exact_sums(std::int64_t loss_fixed, std::int64_t correct, std::int64_t count,
                                        const torch::Device& device, comm::Communicator& comm) {
  std::vector<torch::Tensor> tensors{torch::tensor({loss_fixed, correct, count}, torch::kInt64).to(device)};
  comm.allreduce(tensors, {comm::ReduceOp::kSum});
  const torch::Tensor sums = tensors[0].to(torch::kCPU);
  return {std::ldexp(static_cast<double>(sums[0].item<std::int64_t>()), -kLossScale),
          static_cast<double>(sums[1].item<std::int64_t>()), static_cast<double>(sums[2].item<std::int64_t>())};
}

namespace {

Evaluation evaluate_virtual(models::Network& model, const data::Dataset& data, std::int64_t batch_size,
                            const torch::Device& device, comm::Communicator& comm, std::int64_t virtual_ranks) {
  const std::int64_t local = virtual_ranks / comm.size();
  std::int64_t loss_fixed = 0, correct = 0, count = 0;
  for (std::int64_t v = comm.rank() * local; v < (comm.rank() + 1) * local; ++v) {
    const std::int64_t first = data.size() * v / virtual_ranks, last = data.size() * (v + 1) / virtual_ranks;
    for_each_batch(model, data, first, last, batch_size, device, [&](const torch::Tensor& logits, const torch::Tensor& labels) {
      const double batch_loss =
          F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
      loss_fixed += fixed_point_loss(batch_loss);
      correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
    });
    count += last - first;
  }
  const auto sums = reduce_exact_sums(loss_fixed, correct, count, device, comm);
  return {sums[0] / sums[2], sums[1] / sums[2], static_cast<std::int64_t>(sums[2])};
}

}  // namespace

Evaluation evaluate(models::Network& model, const data::Dataset& data, std::int64_t batch_size,
                    const torch::Device& device, comm::Communicator& comm, std::int64_t virtual_ranks) {
  Evaluation result;
  if (data.size() == 0) return result;
  if (virtual_ranks > 0) return evaluate_virtual(model, data, batch_size, device, comm, virtual_ranks);
  // Contiguous, disjoint shares without padding: every sample is counted exactly once.
  const std::int64_t ranks = comm.size(), rank = comm.rank();
  const std::int64_t first = data.size() * rank / ranks, last = data.size() * (rank + 1) / ranks;
  double loss_sum = 0, correct = 0;
  for_each_batch(model, data, first, last, batch_size, device, [&](const torch::Tensor& logits, const torch::Tensor& labels) {
    loss_sum += F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    correct += static_cast<double>(logits.argmax(1).eq(labels).sum().item<std::int64_t>());
  });
  const auto sums = reduce_sums(loss_sum, correct, static_cast<double>(last - first), device, comm);
  result.samples = static_cast<std::int64_t>(sums[2]);
  result.loss = sums[0] / sums[2];
  result.accuracy = sums[1] / sums[2];
  return result;
}

}  // namespace trainer
