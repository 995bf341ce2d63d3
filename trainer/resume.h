#pragma once
// Choosing the checkpoint a run resumes from (--resume auto|none|PATH) and loading it on every rank.

#include "comm/communicator.h"
#include "trainer/checkpointing.h"

#include <optional>
#include <ostream>
#include <string>

namespace trainer {

struct Resumed {
  std::string directory;
  TrainingProgress progress;
};

// Collective over `control`. Rank 0 picks the checkpoint: for "auto" the one LATEST names under
// --checkpoint-dir, or, when that one is corrupt, incomplete or missing a shard, the newest older
// one that loads (each rejection is logged); for a PATH exactly that one, and any problem is an
// error; a torch.save checkpoint dict from Python is read by every rank (trainer/python_checkpoint.h).
// Every rank then loads the same checkpoint. Returns nothing when there is nothing to resume.
std::optional<Resumed> resume_training(const TrainConfig& config, TrainingState& state, comm::Communicator& control,
                                       std::ostream& log);

}  // namespace trainer
