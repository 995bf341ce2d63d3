#include "comm/communicator.h"

#include "common/error.h"

#include <unistd.h>

#include <cstring>

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

void Communicator::broadcast_from_each(std::vector<std::vector<torch::Tensor>>& tensors) {
  for (int rank = 0; rank < size() && rank < static_cast<int>(tensors.size()); ++rank)
    if (!tensors[static_cast<std::size_t>(rank)].empty()) broadcast(tensors[static_cast<std::size_t>(rank)], {rank});
}

void Communicator::barrier() { unsupported("barrier"); }

std::vector<std::int64_t> Communicator::allgather(std::int64_t) { unsupported("allgather"); }

std::unique_ptr<Work> Communicator::allreduce_async(torch::Tensor tensor, const AllreduceOptions& options) {
  std::vector<torch::Tensor> tensors{std::move(tensor)};
  allreduce(tensors, options);
  return std::make_unique<CompletedWork>();
}

void Communicator::check_chunks(const torch::Tensor& whole, const torch::Tensor& chunk, const char* collective) const {
  if (whole.scalar_type() != chunk.scalar_type() || whole.device() != chunk.device() || !whole.is_contiguous() ||
      !chunk.is_contiguous() || whole.numel() != chunk.numel() * size())
    throw CommError(std::string(collective) + ": expected contiguous tensors of one dtype and device, the whole " +
                    std::to_string(size()) + " times the chunk; got " + std::to_string(whole.numel()) + " " +
                    c10::toString(whole.scalar_type()) + " and " + std::to_string(chunk.numel()) + " " +
                    c10::toString(chunk.scalar_type()) + " (" + where() + ")");
}

std::unique_ptr<Work> Communicator::reduce_scatter_async(torch::Tensor input, torch::Tensor output,
                                                         const AllreduceOptions& options) {
  check_chunks(input, output, "reduce_scatter");
  if (size() != 1) unsupported("reduce_scatter");
  if (options.op == ReduceOp::kAverage && !input.is_floating_point())
    throw CommError("reduce_scatter: averaging needs a floating-point tensor (" + where() + ")");
  output.copy_(input);
  return std::make_unique<CompletedWork>();
}

void Communicator::reduce_scatter(torch::Tensor input, torch::Tensor output, const AllreduceOptions& options) {
  reduce_scatter_async(std::move(input), std::move(output), options)->wait();
}

void Communicator::allgather(torch::Tensor input, torch::Tensor output) {
  allgather_async(std::move(input), std::move(output))->wait();
}

std::unique_ptr<Work> Communicator::allgather_async(torch::Tensor input, torch::Tensor output) {
  check_chunks(output, input, "allgather");
  if (size() != 1) unsupported("allgather");
  output.copy_(input);
  return std::make_unique<CompletedWork>();
}

std::unique_ptr<Work> Communicator::alltoall_async(torch::Tensor input, torch::Tensor output) {
  check_alltoall(input, output);
  if (size() != 1) unsupported("alltoall");
  output.copy_(input);
  return std::make_unique<CompletedWork>();
}

void Communicator::check_alltoall(const torch::Tensor& input, const torch::Tensor& output) const {
  if (input.scalar_type() != output.scalar_type() || input.device() != output.device() || !input.is_contiguous() ||
      !output.is_contiguous() || input.numel() != output.numel() || input.numel() % size() != 0)
    throw CommError("alltoall: expected contiguous tensors of one dtype, device and size, a multiple of " +
                    std::to_string(size()) + " elements; got " + std::to_string(input.numel()) + " " +
                    c10::toString(input.scalar_type()) + " and " + std::to_string(output.numel()) + " " +
                    c10::toString(output.scalar_type()) + " (" + where() + ")");
}

std::string Communicator::where() const {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  return "rank " + std::to_string(rank()) + "/" + std::to_string(size()) + " on " + host;
}

std::string broadcast_string(const std::string& text, Communicator& comm, int root) {
  std::vector<torch::Tensor> length{torch::tensor({static_cast<std::int64_t>(text.size())}, torch::kInt64)};
  comm.broadcast(length, {root});
  torch::Tensor bytes = torch::zeros({length[0].item<std::int64_t>()}, torch::kUInt8);
  if (comm.rank() == root && !text.empty()) std::memcpy(bytes.data_ptr(), text.data(), text.size());
  std::vector<torch::Tensor> payload{bytes};
  if (bytes.numel() > 0) comm.broadcast(payload, {root});
  return std::string(static_cast<const char*>(bytes.data_ptr()), static_cast<std::size_t>(bytes.numel()));
}

}  // namespace trainer::comm
