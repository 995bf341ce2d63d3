#include "comm/collective_watchdog.h"

#include <cstdio>

namespace trainer::comm {

CollectiveWatchdog::CollectiveWatchdog(std::chrono::milliseconds timeout, Handler on_timeout)
    : timeout_(timeout), on_timeout_(std::move(on_timeout)) {
  if (timeout_.count() > 0) thread_ = std::thread([this] { run(); });
}

CollectiveWatchdog::~CollectiveWatchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

CollectiveWatchdog::Scope CollectiveWatchdog::watch(std::function<std::string()> what) {
  if (!thread_.joinable()) return Scope(nullptr);
  bool notify = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    active_ = true;
    ++generation_;
    started_ = Clock::now();
    what_ = std::move(what);
    notify = idle_;  // a thread in a timed wait re-reads the state at its deadline anyway
  }
  if (notify) wake_.notify_one();
  return Scope(this);
}

CollectiveWatchdog::Scope::~Scope() {
  if (!owner_) return;
  std::lock_guard<std::mutex> lock(owner_->mutex_);
  owner_->active_ = false;
}

void CollectiveWatchdog::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    if (!active_) {
      idle_ = true;
      wake_.wait(lock, [this] { return stopping_ || active_; });
      idle_ = false;
      continue;
    }
    const std::uint64_t generation = generation_;
    const Clock::time_point deadline = started_ + timeout_;
    wake_.wait_until(lock, deadline, [this] { return stopping_; });
    if (stopping_ || !active_ || generation_ != generation || Clock::now() < deadline) continue;

    const double waited = std::chrono::duration<double>(Clock::now() - started_).count();
    const std::string what = what_ ? what_() : std::string("a collective");
    char text[160];
    std::snprintf(text, sizeof text, " has waited %.0f s for the other ranks (communication timeout %.0f s): ",
                  waited, std::chrono::duration<double>(timeout_).count());
    const std::string message = what + text + "a rank is dead or stuck";
    lock.unlock();
    on_timeout_(message);  // normally does not return: it ends the job
    lock.lock();
    while (!stopping_ && active_ && generation_ == generation) wake_.wait_for(lock, timeout_);
  }
}

}  // namespace trainer::comm
