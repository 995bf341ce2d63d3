#pragma once
// --resume FILE.pt: going on from what a Python training script saved, the tutorials' checkpoint
// dict {"epoch", "model_state_dict", "optimizer_state_dict", ...}. The weights by name (wrapper
// prefixes normalized, a mismatch is an error naming the tensors); the optimizer's state by
// parameter order, as PyTorch keys it, into this run's parameter groups, whose options must be
// the file's; the epoch as the number of epochs done. What the file cannot hold (the generator's
// state, the position in the data) is said in the log line.

#include "trainer/checkpointing.h"

#include <ostream>
#include <string>

namespace trainer {

// True when --resume names a torch.save file rather than a checkpoint or checkpoint directory.
bool is_python_checkpoint(const std::string& path);

// Loads `path` into `state`; returns the progress it implies. Throws CheckpointError naming what
// does not fit this run, StorageError for an unreadable file.
TrainingProgress resume_from_python(const std::string& path, const TrainConfig& config, TrainingState& state,
                                    int world_size, std::ostream& log);

}  // namespace trainer
