#pragma once
// A checkpoint root (a --checkpoint-dir): its committed checkpoints, LATEST, the leftovers of
// interrupted saves, retention, and the lock that keeps it to one training job. Only names of the
// trainer's own pattern are ever listed, removed or followed (epoch-N, epoch-N-step-M, their .tmp
// forms, LATEST and the private temporaries of storage/fs.h); a user's own files and directories
// beside them are never touched, and symlinks are never followed when removing. Torch-free.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <utility>

namespace trainer::checkpoint {

// Where a checkpoint name stands: after `epochs` whole epochs and `steps` steps into the next.
struct CheckpointOrder {
  std::int64_t epochs = 0;
  std::int64_t steps = 0;
  bool operator<(const CheckpointOrder& other) const {
    return epochs != other.epochs ? epochs < other.epochs : steps < other.steps;
  }
};
// "epoch-0003" -> {3, 0}; "epoch-0003-step-00000120" -> {3, 120}; any other name -> nothing.
std::optional<CheckpointOrder> parse_checkpoint_name(const std::string& name);

// Names of the committed checkpoints under `root` (directories of the trainer's pattern with an
// index.h5), oldest first by the numbers in their names.
std::vector<std::string> list_checkpoints(const std::string& root);
// What LATEST names, or "" when there is none. Throws StorageError when LATEST is not a regular
// file or does not hold a checkpoint name.
std::string latest_checkpoint(const std::string& root);
// A path given by the user: a checkpoint directory, or a root whose LATEST names one.
std::string resolve_checkpoint_path(const std::string& path);
// Removes what interrupted saves left under `root`: <checkpoint name>.tmp and .old.tmp
// directories, LATEST.tmp, private temporaries. Returns how many.
int remove_stale_temporaries(const std::string& root);
// Removes the committed checkpoint `name` under `root`; false when <root>/<name> is not a directory
// of its own (a symlink a user put there is theirs). Retention is backend.h's apply_retention().
bool remove_checkpoint(const std::string& root, const std::string& name);
// Moves the finished <name>.tmp to <name> under `root` and fsyncs the root, replacing an existing
// checkpoint of the same name without a moment where neither exists.
void commit_checkpoint_directory(const std::string& root, const std::string& name);

// Removes every committed checkpoint under `root`, LATEST and what interrupted saves left (an
// explicit fresh start: --overwrite). A user's own files stay. Returns the checkpoint names removed.
std::vector<std::string> remove_checkpoints(const std::string& root);

// The exclusive lock of a training job on its checkpoint root: flock on the root directory itself
// (where the file system cannot lock a directory, on <root>/.trainer.lock), released by the
// kernel when the process ends, however it ends. Deleting .trainer.lock, which only says who holds
// the lock, does not release it.
class DirectoryLock {
 public:
  // Creates `root` if need be. Throws CheckpointError naming the root and the holder (host, pid)
  // when another job holds it.
  static std::unique_ptr<DirectoryLock> acquire(const std::string& root);
  // Before each commit: throws CheckpointError when `root` is no longer the directory locked
  // (removed or replaced under the job) or the lock was lost to another job.
  void verify();
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  DirectoryLock(std::string root, int directory, int locked) : root_(std::move(root)), directory_(directory), locked_(locked) {}
  std::string root_;
  int directory_;  // the root, open
  int locked_;     // what the flock is on: directory_, or the lock file's descriptor
};

}  // namespace trainer::checkpoint
