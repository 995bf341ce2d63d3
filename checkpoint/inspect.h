#pragma once
// `trainer inspect`: what a checkpoint holds, in words and numbers.

#include "checkpoint/checkpoint.h"

#include <ostream>

namespace trainer::checkpoint {

// Prints the metadata, the shards and every tensor (dtype, shape, bytes, shard). With `verify`,
// reads every tensor through its checksum first; a bad one throws StorageError naming it.
void inspect_checkpoint(const CheckpointReader& checkpoint, bool verify, std::ostream& out);

// A --save-weights file: the run record on its root and every tensor under /model. With `verify`,
// reads every tensor.
void inspect_weights_file(const std::string& path, bool verify, std::ostream& out);

}  // namespace trainer::checkpoint
