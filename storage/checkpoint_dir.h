#pragma once
// A checkpoint root (a --checkpoint-dir): its committed checkpoints, LATEST, leftovers of
// interrupted saves, and retention. Torch-free.

#include <string>
#include <vector>

namespace trainer::storage {

// Names of the committed checkpoints under `root` (directories with an index.h5, not .tmp),
// oldest first by name (epoch-0001 < epoch-0001-step-00000010 < epoch-0002).
std::vector<std::string> list_checkpoints(const std::string& root);
// What LATEST names, or "" when there is none.
std::string latest_checkpoint(const std::string& root);
// A path given by the user: a checkpoint directory, or a root whose LATEST names one.
std::string resolve_checkpoint_path(const std::string& path);
// Removes leftover <name>.tmp directories of interrupted saves; returns how many.
int remove_stale_temporaries(const std::string& root);
// Deletes committed checkpoints older than the `keep` newest (by name); never the one LATEST names.
std::vector<std::string> apply_retention(const std::string& root, int keep);

}  // namespace trainer::storage
