#pragma once
// Keeping data-parallel replicas identical: rank 0's state goes to everyone at the start, and a
// fingerprint of every replica's state is compared across ranks at the end.

#include "comm/communicator.h"
#include "models/state_dict.h"

#include <cstdint>

namespace trainer {

// Overwrites every rank's parameters and buffers with rank 0's.
void broadcast_state(const models::StateDict& state, comm::Communicator& comm);

// Rank 0's buffers (BatchNorm statistics) to everyone, as DDP does before a forward pass.
void broadcast_buffers(torch::nn::Module& model, comm::Communicator& comm);

// Mid-epoch each replica's buffers (BatchNorm statistics) are its own, made equal only at the end
// of an epoch; a checkpoint must hold rank 0's whichever rank writes them, or a resume would start
// rank 0 from another replica's statistics. Replaces the buffers among `tensors` (state-dict
// names) by copies of rank 0's; the model's own buffers are left as they are.
void use_rank0_buffers(models::StateDict& tensors, torch::nn::Module& model, comm::Communicator& comm);

// FNV-1a over the bytes of every tensor of the state, in order.
std::uint64_t fingerprint(const models::StateDict& state);

// Throws Error naming the ranks whose fingerprints differ from rank 0's; returns the fingerprint.
std::uint64_t check_replicas_identical(const models::StateDict& state, comm::Communicator& comm);

}  // namespace trainer
