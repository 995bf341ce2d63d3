#include "comm/loopback_communicator.h"

#include "common/error.h"

namespace trainer::comm {

void LoopbackCommunicator::allreduce(std::vector<torch::Tensor>& tensors, const AllreduceOptions& options) {
  // Nothing moves, but the contract is the other backends': averaging needs floating point.
  for (const auto& tensor : tensors)
    if (options.op == ReduceOp::kAverage && !tensor.is_floating_point())
      throw CommError("allreduce: averaging needs a floating-point tensor");
}

void LoopbackCommunicator::broadcast(std::vector<torch::Tensor>&, const BroadcastOptions& options) {
  if (options.root != 0) throw CommError("broadcast: root " + std::to_string(options.root) + " is not a rank of a world of one");
}

}  // namespace trainer::comm
