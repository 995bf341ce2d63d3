#pragma once
// Where a run may write what the user asks for (--metrics-file, --timeline, --save-weights,
// --tensorboard, eval's --predictions-out, export's --to): never into a checkpoint directory, whose
// files only the commit protocol writes, and never to something that is not a regular file (a FIFO
// blocks an open forever). Torch-free.

#include <string>
#include <vector>

namespace trainer::checkpoint {

enum class OutputKind { kFile, kDirectory };

// Throws ConfigError (exit 2, one line naming the option) when `path`, symlinks resolved, lies
// inside one of `checkpoint_roots` or inside any checkpoint root or checkpoint directory on disk
// (a directory holding LATEST, .trainer.lock or a checkpoint's index.h5), or when it exists as
// anything but a regular file (a directory for kDirectory). /dev/null is allowed as a file.
void check_output_path(const std::string& option, const std::string& path, OutputKind kind,
                       const std::vector<std::string>& checkpoint_roots = {});

}  // namespace trainer::checkpoint
