#include "trainer/checkpoint_saver.h"

#include <cstdio>

namespace trainer {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

struct CheckpointSaver::Pending {
  std::unique_ptr<storage::CheckpointSave> save;
  std::future<double> write;  // the write's seconds; std::async's future waits for the thread
  double stall_seconds = 0;
};

CheckpointSaver::CheckpointSaver(std::string root, bool asynchronous, comm::Communicator& control, std::ostream& log)
    : root_(std::move(root)), asynchronous_(asynchronous), control_(control), log_(log) {}

CheckpointSaver::~CheckpointSaver() {
  if (pending_ && pending_->write.valid()) pending_->write.wait();
}

bool CheckpointSaver::written() const {
  return !pending_ || pending_->write.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

std::optional<CheckpointSaver::Committed> CheckpointSaver::commit_pending() {
  if (!pending_) return std::nullopt;
  std::unique_ptr<Pending> pending = std::move(pending_);
  const auto start = Clock::now();
  const double write_seconds = pending->write.get();  // rethrows the thread's error, on the main thread
  const auto commit_start = Clock::now();
  Committed committed;
  committed.report = pending->save->commit(control_);
  // What a synchronous save would have taken: the write plus the commit, not the training between.
  committed.report.seconds = write_seconds + seconds_since(commit_start);
  committed.stall_seconds = pending->stall_seconds + seconds_since(start);
  log_saved(committed, /*background=*/true);
  return committed;
}

std::optional<CheckpointSaver::Committed> CheckpointSaver::save(const storage::CheckpointData& data,
                                                                const std::string& name, bool wait) {
  const auto start = Clock::now();
  commit_pending();  // one save at a time: the next waits for the previous
  if (!asynchronous_ || wait) {
    Committed committed;
    committed.report = storage::save_checkpoint(root_, name, data, control_);
    committed.stall_seconds = seconds_since(start);
    log_saved(committed, /*background=*/false);
    return committed;
  }
  auto pending = std::make_unique<Pending>();
  pending->save = std::make_unique<storage::CheckpointSave>(root_, name, data, control_, &snapshots_);
  storage::CheckpointSave* save = pending->save.get();
  pending->write = std::async(std::launch::async, [save] {
    const auto write_start = Clock::now();
    save->write_shard();
    return seconds_since(write_start);
  });
  pending->stall_seconds = seconds_since(start);
  pending_ = std::move(pending);
  return std::nullopt;
}

void CheckpointSaver::log_saved(const Committed& committed, bool background) const {
  const storage::SaveReport& report = committed.report;
  char line[320];
  std::snprintf(line, sizeof line, "checkpoint %s saved%s: %.2f MB in %.3f s (%.1f MB/s), training stalled %.3f s",
                report.path.c_str(), background ? " in the background" : "", report.bytes / 1e6, report.seconds,
                report.bytes / 1e6 / std::max(report.seconds, 1e-9), committed.stall_seconds);
  log_ << line << std::endl;
}

}  // namespace trainer
