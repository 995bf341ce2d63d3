#pragma once
// The one abstract communicator, after c10d's Backend: one method per collective, each taking
// tensors plus an options struct. Contract: every rank calls the collectives in the same order with
// tensors of the same shapes and dtypes; collectives are in place; a failure throws CommError that
// names the backend, the rank, the host and the library's own error string. Backends accept the
// tensors they can move (MPI: contiguous CPU tensors; NCCL: contiguous CUDA tensors) and throw
// "backend X does not support Y" for the rest.

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

  virtual void allreduce(std::vector<torch::Tensor>& tensors, const AllreduceOptions& options = {}) = 0;
  virtual void broadcast(std::vector<torch::Tensor>& tensors, const BroadcastOptions& options = {}) = 0;
  virtual void barrier() = 0;
  // A small allgather for metadata: every rank's value, indexed by rank.
  virtual std::vector<std::int64_t> allgather(std::int64_t value) = 0;

  // Starts an allreduce of one tensor and returns at once (MPI: MPI_Iallreduce); the tensor must not
  // be touched before the Work has completed. Backends without non-blocking collectives run it to
  // completion here and return finished Work, so callers need not care.
  virtual std::unique_ptr<Work> allreduce_async(torch::Tensor tensor, const AllreduceOptions& options = {});

  // "rank 1/4 on node17": for error messages.
  std::string where() const;
};

}  // namespace trainer::comm
