#pragma once
// A world of one rank, in-process: every collective is the identity (the sum, mean, maximum or
// broadcast of one rank's tensors is those tensors). It lets the training loop, resume and the
// checkpoint saver run inside a unit test, under the sanitizers, without MPI. Tensors of any device.

#include "comm/communicator.h"

namespace trainer::comm {

class LoopbackCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string backend() const override { return "loopback"; }

  void allreduce(std::vector<torch::Tensor>& tensors, const AllreduceOptions& options = {}) override;
  void broadcast(std::vector<torch::Tensor>& tensors, const BroadcastOptions& options = {}) override;
  void barrier() override {}
  std::vector<std::int64_t> allgather(std::int64_t value) override { return {value}; }
};

}  // namespace trainer::comm
