#pragma once
// The checkpoints of a training run: when to save (every N epochs, every N steps, on a stop, at the
// end), how (synchronously, or in the background with --checkpoint-async), and what follows a
// commit (retention, the signal-lead budget); stale temporaries are cleared at the start.
//
// In the background: the state is copied to host memory (the training stall), one thread writes
// this rank's shard while training goes on, and the commit, a collective, happens on the main
// thread at the first step boundary where every rank's write has finished (the step agreement
// tells), or when the next save, a stop or the end of training needs it. Until then the previous
// checkpoint stays LATEST, so a crash during a background save loses nothing already committed.

#include "comm/communicator.h"
#include "common/clock.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/directory.h"
#include "trainer/checkpointing.h"
#include "trainer/config.h"
#include "trainer/stop_budget.h"

#include <functional>
#include <memory>
#include <ostream>
#include <string>

namespace trainer {

struct SavePolicy {
  std::string root;                // --checkpoint-dir; empty: no checkpoints
  std::string backend = "posix";   // --checkpoint-backend
  std::int64_t every_epochs = 1;   // 0: only the final one
  std::int64_t every_steps = 0;    // 0: no mid-epoch checkpoints
  std::int64_t keep_last = 3;      // 0: all
  std::int64_t keep_best = 0;      // also kept: the best by `monitor`
  std::string monitor = "test_accuracy";
  bool asynchronous = false;
  double signal_lead = 0;          // seconds; 0: unknown

  static SavePolicy of(const TrainConfig& config);
};

class CheckpointSaver {
 public:
  // What to save for a given progress (the model, optimizer and schedule at this moment).
  using Capture = std::function<checkpoint::CheckpointContents(const TrainingProgress&)>;

  // Rank 0 locks the root for this job (a second job is refused with a CheckpointError naming the
  // holder) and removes what interrupted saves left in it.
  // `device`: where the model trains (a GPU's snapshots are copied on a side stream).
  CheckpointSaver(SavePolicy policy, Capture capture, comm::Communicator& control, std::ostream& log,
                  const torch::Device& device = torch::kCPU);
  ~CheckpointSaver();  // waits for a background write; does not commit it
  CheckpointSaver(const CheckpointSaver&) = delete;
  CheckpointSaver& operator=(const CheckpointSaver&) = delete;

  bool enabled() const { return !policy_.root.empty(); }
  // After an optimizer step that is not the last of its epoch: whether --checkpoint-every-steps asks.
  bool due_after_step(std::int64_t global_step) const;
  // After an epoch: whether --checkpoint-every asks, or it is the final one.
  bool due_after_epoch(std::int64_t completed_epochs, std::int64_t epochs) const;

  // Collective. Commits a pending save first, then saves `progress` as its checkpoint name;
  // `wait`: committed before returning, also in asynchronous mode (the final save, a stop).
  void save(const TrainingProgress& progress, bool wait);

  // Whether a background save awaits its commit (the same on every rank).
  bool pending() const;
  // Whether this rank's background write has finished (not collective).
  bool written() const;
  // Collective: waits for this rank's write and commits the pending save.
  void commit_pending();
  // The duration of an optimizer step, for the signal-lead budget.
  void note_step_seconds(double seconds) { slowest_step_ = std::max(slowest_step_, seconds); }

 private:
  struct Pending;
  struct Committed {
    checkpoint::SaveReport report;
    double stall_seconds = 0;  // how long training waited for this save
  };
  void commit_pending_unchecked();
  void save_unchecked(const TrainingProgress& progress, bool wait, Clock::time_point start);
  std::function<void()> still_ours();
  void blaming_a_replaced_directory(const std::function<void()>& step);
  void after_commit(const Committed& committed, bool background);
  void apply_retention();

  SavePolicy policy_;
  Capture capture_;
  comm::Communicator& control_;
  std::ostream& log_;
  StopBudget stop_budget_;
  double slowest_step_ = 0;
  std::unique_ptr<checkpoint::DirectoryLock> lock_;  // rank 0, for the life of the run
  std::shared_ptr<checkpoint::Backend> backend_;     // null when not enabled()
  std::unique_ptr<Pending> pending_;
  checkpoint::SnapshotBuffers snapshots_;  // reused by every background save (one at a time)
};

}  // namespace trainer
