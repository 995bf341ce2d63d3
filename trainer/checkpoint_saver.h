#pragma once
// Saves the training loop's checkpoints, synchronously or in the background (--checkpoint-async).
// In the background: the state is copied to host memory (the training stall), one thread writes
// this rank's shard while training goes on, and the commit, a collective, happens on the main
// thread at the first step boundary where every rank's write has finished (the step agreement
// tells), or when the next save, a stop or the end of training needs it. Until then the previous
// checkpoint stays LATEST, so a crash during a background save loses nothing already committed.

#include "comm/communicator.h"
#include "storage/checkpoint.h"

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

namespace trainer {

class CheckpointSaver {
 public:
  CheckpointSaver(std::string root, bool asynchronous, comm::Communicator& control, std::ostream& log);
  ~CheckpointSaver();  // waits for a background write; does not commit it
  CheckpointSaver(const CheckpointSaver&) = delete;
  CheckpointSaver& operator=(const CheckpointSaver&) = delete;

  struct Committed {
    storage::SaveReport report;
    double stall_seconds = 0;  // how long training waited for this save
  };

  // Collective. Commits a pending save first. `wait`: commit this one before returning, also in
  // asynchronous mode (the final save, a stop). Returns what was committed by this call (nothing
  // for a save started in the background).
  std::optional<Committed> save(const storage::CheckpointData& data, const std::string& name, bool wait);

  // Whether a background save awaits its commit (the same on every rank).
  bool pending() const { return pending_ != nullptr; }
  // Whether this rank's background write has finished (not collective).
  bool written() const;
  // Collective: waits for this rank's write and commits the pending save.
  std::optional<Committed> commit_pending();

 private:
  struct Pending;
  void log_saved(const Committed& committed, bool background) const;

  std::string root_;
  bool asynchronous_;
  comm::Communicator& control_;
  std::ostream& log_;
  std::unique_ptr<Pending> pending_;
  storage::SnapshotBuffers snapshots_;  // reused by every background save (one at a time)
};

}  // namespace trainer
