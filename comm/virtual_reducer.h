#pragma once
// --virtual-ranks' gradient average, the same bits on any process count N that divides V: each
// gradient element's V values (one per virtual rank) are added in double precision in virtual-rank
// order 0, 1, ..., V - 1, divided by V and rounded to float once. The order is fixed by the virtual
// ranks alone, never by N or by how they are grouped on processes, so the sum is too.
//
// How the values meet: every bucket (plan_buckets, as GradientBucketer's) is cut into N chunks, one
// per process, which owns its elements. An alltoall sends each process's V/N gradients of chunk p
// to process p (send buffer [p][k][chunk], receive buffer [q][k][chunk]: virtual rank q*V/N + k,
// in order), the owner folds its chunk, and an allgather gives every process the whole average.
// Bytes a process sends per element: (V/N + 1) * 4 * (N - 1) / N, the plain fp32 allreduce's at
// N = V; no agreement on a scale is needed first, so the alltoall of a bucket starts in backward's
// hooks as soon as the last virtual rank's gradients of the bucket are in (overlap).
//
// Numerics: the double sum's error is at most (V - 1) * 2^-53 * sum |g_v|, below the final float
// rounding (2^-24 relative) unless the V values cancel by more than about 2^-29 of their
// magnitudes; a plain fp32 allreduce rounds N - 1 times in an order that depends on N.

#include "comm/bucket_plan.h"
#include "comm/communicator.h"

#include <torch/types.h>

#include <memory>
#include <vector>

namespace trainer::comm {

class VirtualRankReducer {
 public:
  // `parameters` in registration order (the trainable ones are taken); `virtual_ranks` V, which
  // comm.size() divides. With `overlap`, the last virtual rank's gradients go out from autograd
  // hooks (on CPUs, hooks run on the thread that called backward(), which owns MPI).
  VirtualRankReducer(const std::vector<torch::Tensor>& parameters, Communicator& comm, std::int64_t virtual_ranks,
                     bool overlap, const BucketLimits& limits = {});
  ~VirtualRankReducer();
  VirtualRankReducer(const VirtualRankReducer&) = delete;
  VirtualRankReducer& operator=(const VirtualRankReducer&) = delete;

  // This process's k-th virtual rank (0 <= k < V/N) has finished its backward: its gradients
  // (undefined ones as zeros) are kept for the exchange. Call it for every k, the last one too,
  // unless prepare_last() armed the hooks for it.
  void keep(std::int64_t k);
  // With overlap: call right before the backward() that completes the last virtual rank's
  // gradients; `accumulated`: .grad holds its earlier micro-batches, which are added. Without
  // overlap it does nothing (keep() the last one after its backward instead).
  void prepare_last(bool accumulated);
  // Every trainable parameter's gradient becomes the average over the V virtual ranks. Returns
  // false when a value of the average this process computed is not finite (the run diverged).
  bool average();

  bool overlapping() const;
  std::size_t bucket_count() const;

 private:
  struct State;  // shared with the autograd hooks
  std::shared_ptr<State> state_;
};

}  // namespace trainer::comm
