#pragma once
// The training loop: epochs of seeded, sampled mini-batches, one replica per rank with gradients
// averaged every optimizer step; evaluation on the test split (shared across ranks) after every
// epoch; metrics to the log and to --metrics-file from rank 0, the main device; checkpoints by the
// saver's policy. In phases (trainer/training_loop.h): set-up, train_epoch, end of epoch.

#include "comm/communicator.h"
#include "trainer/config.h"
#include "trainer/metrics.h"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace trainer {

// Where a run happens; the launcher builds it (MPI, device choice, which ranks print). A unit test
// builds it on a comm::LoopbackCommunicator.
struct RunContext {
  comm::Communicator& comm;     // moves tensors of `device` (NCCL on GPUs, else MPI)
  comm::Communicator& control;  // CPU tensors: metadata, the step agreement, checkpoint commits
  torch::Device device;
  std::ostream& log;            // rank 0: standard output; other ranks: silent unless --verbose
  // Whether a stop signal arrived on this rank; polled at every step boundary, where the ranks
  // agree on it with a collective. Empty: never stop early.
  std::function<bool()> stop_requested = {};
};

struct TrainResult {
  std::vector<EpochMetrics> epochs;  // the epochs this run trained (not those before a resume)
  std::uint64_t replica_fingerprint = 0;
  std::string resumed_from;          // checkpoint directory, or empty
};

// Runs a whole training run. Throws InputError subclasses for bad configuration or data, and
// StopRequested after the checkpoint a stop signal asked for.
TrainResult run_training(const TrainConfig& config, const RunContext& context);

}  // namespace trainer
