#pragma once
// The one abstract communicator, after c10d's Backend: one method per collective, each taking
// tensors plus an options struct. Contract: every rank calls the collectives in the same order with
// tensors of the same shapes and dtypes; collectives are in place; a failure throws CommError that
// names the backend, the rank, the host and the library's own error string. A backend overrides the
// collectives it has; the others throw CommError("backend X does not support Y"), as c10d's do.
// Backends: comm/mpi_communicator.h (CPU tensors), comm/nccl_communicator.h (CUDA tensors, built
// when CUDA and NCCL are found), comm/loopback_communicator.h (one rank, in-process, for tests);
// comm/backends.h picks one.

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace trainer::comm {

enum class ReduceOp { kSum, kAverage, kMax, kMin };

struct AllreduceOptions {
  ReduceOp op = ReduceOp::kSum;
};

struct BroadcastOptions {
  int root = 0;
};

// A collective in flight (c10d's Work): test() lets it progress and says whether it has completed;
// wait() blocks until it has, and rethrows its failure.
class Work {
 public:
  virtual ~Work() = default;
  virtual bool test() = 0;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // index among the ranks on this host
  virtual int local_size() const = 0;
  virtual std::string backend() const = 0;

  virtual void allreduce(std::vector<torch::Tensor>& tensors, const AllreduceOptions& options = {});
  virtual void broadcast(std::vector<torch::Tensor>& tensors, const BroadcastOptions& options = {});
  // Every rank's tensors to every rank: tensors[r] are rank r's, filled there and received
  // elsewhere (same shapes everywhere). By default a broadcast from each rank in turn; MPI starts
  // them all at once.
  virtual void broadcast_from_each(std::vector<std::vector<torch::Tensor>>& tensors);
  virtual void barrier();
  // A small allgather for metadata: every rank's value, indexed by rank.
  virtual std::vector<std::int64_t> allgather(std::int64_t value);

  // Starts an allreduce of one tensor and returns at once (MPI: MPI_Iallreduce); the tensor must not
  // be touched before the Work has completed. By default the allreduce runs to completion here and
  // the Work returned is finished, so callers need not care whether a backend overlaps.
  virtual std::unique_ptr<Work> allreduce_async(torch::Tensor tensor, const AllreduceOptions& options = {});

  // ZeRO's collectives (c10d's reduce_scatter_tensor and all_gather_into_tensor), asynchronous like
  // allreduce_async. reduce_scatter: `input` holds size() equal chunks in rank order; rank r
  // receives into `output` (one chunk) the reduction of every rank's chunk r. allgather: every
  // rank's `input` (one chunk) into `output` (size() chunks, in rank order). Tensors contiguous, of
  // one dtype and device; neither may be touched before the Work has completed. By default a world
  // of one copies (every backend's result there) and larger worlds are unsupported.
  virtual std::unique_ptr<Work> reduce_scatter_async(torch::Tensor input, torch::Tensor output,
                                                     const AllreduceOptions& options = {});
  virtual std::unique_ptr<Work> allgather_async(torch::Tensor input, torch::Tensor output);
  // Chunk r of every rank's `input` (size() equal chunks in rank order) to rank r, where `output`
  // (the same size) receives them in rank order: chunk q is rank q's. For --virtual-ranks, whose
  // owner of each element sums its values in a fixed order. Asynchronous like the others; a world
  // of one copies.
  virtual std::unique_ptr<Work> alltoall_async(torch::Tensor input, torch::Tensor output);
  // The same, completed before returning. By default the asynchronous form, awaited; MPI's
  // allgather runs its blocking collective, whose tuned algorithm moves large buffers faster than
  // the non-blocking schedule (libnbc) does.
  virtual void reduce_scatter(torch::Tensor input, torch::Tensor output, const AllreduceOptions& options = {});
  virtual void allgather(torch::Tensor input, torch::Tensor output);

  // "rank 1/4 on node17": for error messages.
  std::string where() const;

 protected:
  [[noreturn]] void unsupported(const std::string& collective) const;
  // Throws CommError unless `whole` holds size() chunks of `chunk`'s size, dtype and device.
  void check_chunks(const torch::Tensor& whole, const torch::Tensor& chunk, const char* collective) const;
  // Throws CommError unless `input` and `output` are alike and hold size() equal chunks.
  void check_alltoall(const torch::Tensor& input, const torch::Tensor& output) const;
};

// `root`'s string to every rank (a collective: its length, then its bytes as CPU tensors; the
// other ranks' `text` is not read). Use it on a CPU communicator (the control one).
std::string broadcast_string(const std::string& text, Communicator& comm, int root = 0);

}  // namespace trainer::comm
