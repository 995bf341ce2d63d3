#include "comm/communicator.h"

#include "common/error.h"

#include <unistd.h>

namespace trainer::comm {
namespace {

class CompletedWork : public Work {
 public:
  bool test() override { return true; }
  void wait() override {}
};

}  // namespace

void Communicator::unsupported(const std::string& collective) const {
  throw CommError("backend " + backend() + " does not support " + collective + " (" + where() + ")");
}

void Communicator::allreduce(std::vector<torch::Tensor>&, const AllreduceOptions&) { unsupported("allreduce"); }

void Communicator::broadcast(std::vector<torch::Tensor>&, const BroadcastOptions&) { unsupported("broadcast"); }

void Communicator::barrier() { unsupported("barrier"); }

std::vector<std::int64_t> Communicator::allgather(std::int64_t) { unsupported("allgather"); }

std::unique_ptr<Work> Communicator::allreduce_async(torch::Tensor tensor, const AllreduceOptions& options) {
  std::vector<torch::Tensor> tensors{std::move(tensor)};
  allreduce(tensors, options);
  return std::make_unique<CompletedWork>();
}

std::string Communicator::where() const {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  return "rank " + std::to_string(rank()) + "/" + std::to_string(size()) + " on " + host;
}

}  // namespace trainer::comm
