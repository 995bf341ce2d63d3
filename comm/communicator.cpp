#include "comm/communicator.h"

#include <unistd.h>

namespace trainer::comm {
namespace {

class CompletedWork : public Work {
 public:
  bool test() override { return true; }
  void wait() override {}
};

}  // namespace

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
