#include "trainer/checkpoint_saver.h"

#include "common/clock.h"

#include <cstdio>
#include <functional>
#include <future>
#include <set>

namespace trainer {

SavePolicy SavePolicy::of(const TrainConfig& c) {
  return {c.checkpointing() ? c.checkpoint_dir : "",
          c.checkpoint_backend,
          c.checkpoint_every,
          c.checkpoint_every_steps,
          c.keep_last,
          c.keep_best,
          c.monitor,
          c.checkpoint_async,
          c.signal_lead};
}

struct CheckpointSaver::Pending {
  std::unique_ptr<checkpoint::CheckpointSave> save;
  std::future<double> write;  // the write's seconds; std::async's future waits for the thread
  double stall_seconds = 0;
};

CheckpointSaver::CheckpointSaver(SavePolicy policy, Capture capture, comm::Communicator& control, std::ostream& log,
                                 const torch::Device& device)
    : policy_(std::move(policy)), capture_(std::move(capture)), control_(control), log_(log),
      stop_budget_(policy_.signal_lead) {
  if (device.is_cuda()) snapshots_.streams = streams::make_device_streams(device);
  if (!enabled()) return;
  if (control_.rank() == 0) lock_ = checkpoint::DirectoryLock::acquire(policy_.root);
  // Only once rank 0 holds the lock is the root this job's: then a staged backend clears the
  // root's leftovers from its staging directory on every rank.
  control_.barrier();
  backend_ = checkpoint::make_backend(policy_.backend, policy_.root);
  if (control_.rank() != 0) return;
  const int stale = checkpoint::remove_stale_temporaries(policy_.root);
  if (stale > 0) log_ << "removed " << stale << " unfinished checkpoint(s) left by an interrupted save" << std::endl;
}

CheckpointSaver::~CheckpointSaver() {
  if (pending_ && pending_->write.valid()) pending_->write.wait();
}

bool CheckpointSaver::due_after_step(std::int64_t global_step) const {
  return enabled() && policy_.every_steps > 0 && global_step % policy_.every_steps == 0;
}

bool CheckpointSaver::due_after_epoch(std::int64_t completed_epochs, std::int64_t epochs) const {
  return enabled() && (completed_epochs == epochs || (policy_.every_epochs > 0 && completed_epochs % policy_.every_epochs == 0));
}

bool CheckpointSaver::pending() const { return pending_ != nullptr; }

bool CheckpointSaver::written() const {
  return !pending_ || pending_->write.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

void CheckpointSaver::commit_pending() {
  if (!pending_) return;
  blaming_a_replaced_directory([this] { commit_pending_unchecked(); });
}

void CheckpointSaver::commit_pending_unchecked() {
  std::unique_ptr<Pending> pending = std::move(pending_);
  const auto start = Clock::now();
  const double write_seconds = pending->write.get();  // rethrows the thread's error, on the main thread
  const auto commit_start = Clock::now();
  Committed committed;
  committed.report = pending->save->commit(control_, still_ours());
  // What a synchronous save would have taken: the write plus the commit, not the training between.
  committed.report.seconds = write_seconds + seconds_since(commit_start);
  committed.stall_seconds = pending->stall_seconds + seconds_since(start);
  after_commit(committed, /*background=*/true);
}

std::function<void()> CheckpointSaver::still_ours() {
  if (!lock_) return {};
  return [this] { lock_->verify(); };
}

// A directory moved away or replaced mid-save makes the save fail wherever it happens to be (a
// rename, a stat of the new index, the retention's listing); the cause is the replacement, and
// that is what the job reports.
void CheckpointSaver::blaming_a_replaced_directory(const std::function<void()>& step) {
  try {
    step();
  } catch (...) {
    if (lock_) lock_->verify();  // throws the cause when the directory is no longer ours
    throw;
  }
}

void CheckpointSaver::save(const TrainingProgress& progress, bool wait) {
  const auto start = Clock::now();
  commit_pending();  // one save at a time: the next waits for the previous
  blaming_a_replaced_directory([&] { save_unchecked(progress, wait, start); });
}

void CheckpointSaver::save_unchecked(const TrainingProgress& progress, bool wait, Clock::time_point start) {
  const std::string name = checkpoint_name(progress);
  if (lock_) lock_->verify();  // before writing too: a replaced directory belongs to another job
  if (!policy_.asynchronous || wait) {
    Committed committed;
    checkpoint::CheckpointSave save(backend_, name, capture_(progress), control_, /*snapshot=*/nullptr);
    save.write_shard();
    committed.report = save.commit(control_, still_ours());
    committed.stall_seconds = seconds_since(start);
    after_commit(committed, /*background=*/false);
    return;
  }
  auto pending = std::make_unique<Pending>();
  pending->save = std::make_unique<checkpoint::CheckpointSave>(backend_, name, capture_(progress), control_, &snapshots_);
  checkpoint::CheckpointSave* save = pending->save.get();
  pending->write = std::async(std::launch::async, [save] {
    const auto write_start = Clock::now();
    save->write_shard();
    return seconds_since(write_start);
  });
  pending->stall_seconds = seconds_since(start);
  pending_ = std::move(pending);
}

// --keep-last's newest, --keep-best's best by --monitor, and LATEST stay.
void CheckpointSaver::apply_retention() {
  std::set<std::string> best;
  if (policy_.keep_best > 0) {
    const std::vector<std::string> ranked = rank_checkpoints(policy_.root, policy_.monitor);
    best.insert(ranked.begin(), ranked.begin() + std::min<std::ptrdiff_t>(policy_.keep_best, ranked.size()));
  }
  std::string why = "--keep-last " + std::to_string(policy_.keep_last);
  if (policy_.keep_best > 0) why += ", --keep-best " + std::to_string(policy_.keep_best) + " by " + policy_.monitor;
  for (const auto& removed : checkpoint::apply_retention(*backend_, policy_.keep_last, best))
    log_ << "checkpoint " << removed << " removed (" << why << ")" << std::endl;
}

void CheckpointSaver::after_commit(const Committed& committed, bool background) {
  const checkpoint::SaveReport& report = committed.report;
  char line[320];
  std::snprintf(line, sizeof line, "checkpoint %s saved%s: %.2f MB in %.3f s (%.1f MB/s), training stalled %.3f s",
                report.path.c_str(), background ? " in the background" : "", report.bytes / 1e6, report.seconds,
                report.bytes / 1e6 / std::max(report.seconds, 1e-9), committed.stall_seconds);
  log_ << line << std::endl;
  if (control_.rank() == 0 && policy_.keep_last > 0) apply_retention();
  if (auto warning = stop_budget_.after_save(report.seconds, slowest_step_)) log_ << *warning << std::endl;
}

}  // namespace trainer
