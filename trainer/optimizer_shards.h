#pragma once
// --shard-optimizer (ZeRO-1): each rank keeps the optimizer state of one chunk of the flattened
// trainable parameters (trainer/shard_layout.h) instead of all of it. A step: the flat gradients
// are reduce-scattered, so that each rank receives the average of its chunk only; the rank steps a
// copy of its chunk of the parameters with an optimizer of the run's kind over its pieces (one
// per parameter it touches, in that parameter's group, with that group's options); the chunks are
// allgathered back into every replica's parameters. The elementwise optimizers (SGD, Adam, AdamW,
// RMSprop) then compute what they compute unsharded, element for element.
//
// The run's own optimizer (OptimizerSetup) stays the template: its groups, options and schedule
// are what checkpoints record and the LR schedule sets; it never steps and holds no state, except
// for a moment after a resume, when the state it was given is cut into this rank's pieces
// (adopt_state). Checkpoints hold whole tensors, as unsharded runs write them: at a save every
// rank receives each state key's chunks (one key at a time) and keeps the tensors that the
// checkpoint's ownership plan gives it to write.

#include "comm/communicator.h"
#include "optim/optimizer.h"
#include "storage/checkpoint.h"
#include "trainer/shard_layout.h"

#include <torch/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace trainer {

class OptimizerShards {
 public:
  OptimizerShards(const optim::OptimizerSetup& setup, const optim::OptimizerConfig& config, comm::Communicator& comm);

  // Collective: every rank's gradients (of the template's parameters; undefined counts as zero)
  // averaged, this rank's chunk set as its pieces' gradients.
  void reduce_scatter_gradients();
  // This rank's pieces (with their gradients after reduce_scatter_gradients), for unscaling and
  // clipping by value.
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
  std::vector<storage::OptimizerStateTensor> checkpoint_state(const storage::CheckpointContents& contents);

  // Bytes of optimizer state this rank holds (the figure --shard-optimizer divides).
  std::int64_t state_bytes() const;
  const ShardLayout& layout() const { return layout_; }

 private:
  void refresh_chunk();

  const optim::OptimizerSetup& setup_;
  comm::Communicator& comm_;
  std::vector<torch::Tensor> parameters_;   // the template's, in group order
  std::vector<std::string> names_;          // their names
  ShardLayout layout_;
  std::vector<ShardPiece> layout_pieces_;   // this rank's
  torch::Tensor chunk_;                     // this rank's copy of its chunk of the parameters
  std::vector<torch::Tensor> pieces_;       // views of chunk_, one per layout piece
  std::unique_ptr<torch::optim::Optimizer> optimizer_;  // over pieces_
  torch::Tensor flat_;            // the flat gradients, then the gathered parameters
  torch::Tensor gradient_chunk_;  // this rank's averaged gradients
};

}  // namespace trainer
