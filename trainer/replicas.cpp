#include "trainer/replicas.h"

#include "common/error.h"
#include "common/fnv1a.h"

#include <cstdio>
#include <set>
#include <string>

namespace trainer {

void broadcast_state(const models::StateDict& state, comm::Communicator& comm) {
  if (comm.size() == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> tensors;
  for (const auto& entry : state) tensors.push_back(entry.second);
  comm.broadcast(tensors, {/*root=*/0});
}

void broadcast_buffers(torch::nn::Module& model, comm::Communicator& comm) {
  if (comm.size() == 1) return;
  std::vector<torch::Tensor> buffers = model.buffers();
  if (!buffers.empty()) comm.broadcast(buffers, {/*root=*/0});
}

void use_rank0_buffers(models::StateDict& tensors, torch::nn::Module& model, comm::Communicator& comm) {
  if (comm.size() == 1) return;
  std::set<std::string> buffer_names;
  for (const auto& buffer : model.named_buffers()) buffer_names.insert(buffer.key());
  std::vector<torch::Tensor> copies;
  for (auto& entry : tensors)
    if (buffer_names.count(entry.first)) {
      entry.second = entry.second.detach().clone();
      copies.push_back(entry.second);
    }
  if (!copies.empty()) comm.broadcast(copies, {/*root=*/0});
}

std::uint64_t fingerprint(const models::StateDict& state) {
  Fnv1a hash;
  for (const auto& entry : state) {
    torch::Tensor host = entry.second.detach().to(torch::kCPU).contiguous();
    hash.update(host.data_ptr(), static_cast<std::size_t>(host.numel()) * host.element_size());
  }
  return hash.value();
}

std::uint64_t check_replicas_identical(const models::StateDict& state, comm::Communicator& comm) {
  const std::uint64_t mine = fingerprint(state);
  const std::vector<std::int64_t> all = comm.allgather(static_cast<std::int64_t>(mine));
  std::string differing;
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  if (!differing.empty())
    throw Error("replicas diverged: the parameters of rank(s) " + differing + " differ from rank 0's");
  return mine;
}

}  // namespace trainer
