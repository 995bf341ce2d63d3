#pragma once
// --shard-optimizer (ZeRO-1): each rank keeps the optimizer state of one chunk of each gradient
// bucket (trainer/shard_layout.h) instead of all of it. A step: the bucketer reduce-scatters each
// bucket (during backward with --overlap on), so that each rank receives the average of its
// chunks only; the rank steps a copy of its share of the parameters with an optimizer of the
// run's kind over its pieces (one per parameter it touches, in that parameter's group, with that
// group's options); the chunks are allgathered back into every replica's parameters. The
// elementwise optimizers (SGD, Adam, AdamW, RMSprop) then compute what they compute unsharded,
// element for element.
//
// The run's own optimizer (OptimizerSetup) stays the template: its groups, options and schedule
// are what checkpoints record and the LR schedule sets; it never steps and holds no state, except
// for a moment after a resume, when the state it was given is cut into this rank's pieces
// (adopt_state). Checkpoints hold whole tensors, as unsharded runs write them: at a save every
// rank receives each state key's chunks (one key at a time) and keeps the tensors that the
// checkpoint's ownership plan gives it to write.

#include "comm/communicator.h"
#include "comm/gradient_bucketer.h"
#include "optim/optimizer.h"
#include "checkpoint/checkpoint.h"
#include "trainer/shard_layout.h"

#include <torch/types.h>

#include <functional>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <vector>

namespace trainer {

class OptimizerShards {
 public:
  // `bucketer`: built with comm::Exchange::kReduceScatter over the template's parameters; its
  // average_gradients() leaves this rank's averaged chunks, the pieces' gradients.
  OptimizerShards(const optim::OptimizerSetup& setup, const optim::OptimizerConfig& config,
                  comm::GradientBucketer& bucketer, comm::Communicator& comm);

  // This rank's pieces (their gradients: views of the bucketer's chunks), for unscaling and
  // clipping.
  const std::vector<torch::Tensor>& pieces() const { return pieces_; }
  // Collective: the 2-norm of all the averaged gradients, from every rank's pieces.
  double gradient_norm();
  // Collective: whether any rank's flag is set.
  bool any_rank(bool flag);
  // Steps this rank's pieces with the template's current group options (the schedule's LR), then
  // (collective) gives every rank the whole updated parameters.
  void step();

  // Moves optimizer state that was loaded into the template (a resume) into this rank's pieces.
  void adopt_state();
  // Collective: the checkpoint's optimizer state, as an unsharded run records it: whole tensors
  // for the entries this rank writes in `contents`' ownership plan, shape-only placeholders for
  // the rest (never read). `contents` holds everything else already.
  std::vector<checkpoint::OptimizerStateTensor> checkpoint_state(const checkpoint::CheckpointContents& contents);

  // Bytes of optimizer state this rank holds (the figure --shard-optimizer divides).
  std::int64_t state_bytes() const;
  const ShardLayout& layout() const { return layout_; }

 private:
  void refresh_chunk();
  void allgather_buckets(const torch::Tensor& share, const std::vector<torch::Tensor>& buckets);
  std::set<std::string> written_here(const checkpoint::CheckpointContents& contents,
                                     const std::vector<checkpoint::OptimizerStateTensor>& state) const;
  std::vector<torch::Tensor> gather_scalars(const std::vector<torch::Tensor>& values, const torch::Tensor& example);
  std::vector<torch::Tensor> gather_tensors(const std::vector<torch::Tensor>& values, const torch::Tensor& example,
                                            const std::function<bool(std::size_t)>& wanted);

  const optim::OptimizerSetup& setup_;
  comm::GradientBucketer& bucketer_;
  comm::Communicator& comm_;
  std::vector<torch::Tensor> parameters_;   // in layout order (bucket by bucket)
  std::vector<std::string> names_;          // their names
  std::vector<std::size_t> template_index_; // their place in the template's group order
  ShardLayout layout_;
  std::vector<ShardPiece> layout_pieces_;   // this rank's
  torch::Tensor chunk_;                     // this rank's copy of its chunk of the parameters
  bool chunk_stale_ = true;                 // until the first step: the weights set-up and a resume give
  std::vector<torch::Tensor> pieces_;       // views of chunk_, one per layout piece
  std::unique_ptr<torch::optim::Optimizer> optimizer_;  // over pieces_
};

}  // namespace trainer
