#pragma once
// Evaluation in batches: the one loop over a data set's samples in eval mode and without
// gradients, shared by the evaluation after every epoch (sharded across ranks, sums reduced) and
// by `trainer eval` (one process, every logit kept).

#include "comm/communicator.h"
#include "data/dataset.h"
#include "models/network.h"

#include <cstdint>
#include <functional>

namespace trainer {

// Runs `model` over samples [begin, end) of `data` in batches of `batch_size` on `device`, and
// hands each batch's logits and labels (on `device`) to `consume`. Restores the model's mode.
void for_each_batch(models::Network& model, const data::Dataset& data, std::int64_t begin, std::int64_t end,
                    std::int64_t batch_size, const torch::Device& device,
                    const std::function<void(const torch::Tensor& logits, const torch::Tensor& labels)>& consume);

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  std::int64_t samples = 0;
};

// Mean cross-entropy and accuracy over the whole data set. Each rank of `comm` evaluates a
// contiguous share; the sums are reduced, so every rank gets the totals. With `virtual_ranks` V
// (--virtual-ranks), the data is cut into V shares whatever the process count, each process
// evaluates its V/N of them batch by batch, and the loss is summed in fixed point: the same
// batches and the same bits on any number of processes.
Evaluation evaluate(models::Network& model, const data::Dataset& data, std::int64_t batch_size,
                    const torch::Device& device, comm::Communicator& comm, std::int64_t virtual_ranks = 0);

// --virtual-ranks keeps loss sums in fixed point, value * 2^kLossScale rounded to an int64: sums
// that are the same in any order, to 2^-32.
inline constexpr int kLossScale = 32;
std::int64_t fixed_point_loss(double value);

// {loss, correct, count} of every rank, exactly: the loss in fixed point (fixed_point_loss), the
// counts as integers, summed as int64 in one collective, then converted.
std::array<double, 3> reduce_exact_sums(std::int64_t loss_fixed, std::int64_t correct, std::int64_t count,
                                        const torch::Device& device, comm::Communicator& comm);

// {loss_sum, correct, count} summed over the ranks in one collective.
std::array<double, 3> reduce_sums(double loss_sum, double correct, double count, const torch::Device& device,
                                  comm::Communicator& comm);

}  // namespace trainer
