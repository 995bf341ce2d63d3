#pragma once
// Which backend moves what, chosen at run time (c10d's way): the control communicator (MPI, CPU
// tensors) carries metadata, the per-step agreement and checkpoint commits; the device
// communicator carries the tensors of the training device (gradients, the initial broadcast).
// On CPUs, or with one rank, the control communicator does both. NCCL exists only in builds that
// found CUDA and NCCL; this file is the one place that knows whether this build has it.

#include "comm/communicator.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace trainer::comm {

// MPI over MPI_COMM_WORLD (initialized by the caller); `timeout` arms the collective watchdog
// (0: none); `local_rank_hint` < 0 asks MPI for the local rank.
std::unique_ptr<Communicator> make_control_communicator(std::chrono::milliseconds timeout, int local_rank_hint);

// The communicator for tensors on `device`, or nullptr when `control` serves (CPU tensors, or a
// world of one). Throws ConfigError when the device needs a backend this build lacks.
std::unique_ptr<Communicator> make_device_communicator(Communicator& control, const torch::Device& device,
                                                       std::chrono::milliseconds timeout);

// The backends compiled into this build ("mpi", "nccl", "loopback"), for --version and errors.
std::vector<std::string> available_backends();

// The libraries' own words, for `trainer info`: MPI_Get_library_version's first line; NCCL's version
// ("" in a build without NCCL).
std::string mpi_library_version();
std::string nccl_version_text();

}  // namespace trainer::comm
