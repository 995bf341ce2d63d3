#pragma once
// Ends a job whose collective waits too long. A blocking MPI collective never returns when a peer
// is stuck (SIGSTOP, a hung file system, an endless loop): the MPI library cannot tell slow from
// dead. A thread watches the collective in flight and, after `timeout`, calls `on_timeout` once with
// a message naming the collective; the MPI communicator prints it and aborts the job. Torch-free.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace trainer::comm {

class CollectiveWatchdog {
 public:
  using Handler = std::function<void(const std::string& message)>;

  // timeout <= 0: nothing is watched and no thread is started.
  CollectiveWatchdog(std::chrono::milliseconds timeout, Handler on_timeout);
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  // Marks one collective in flight for the lifetime of the returned object. Not nested.
  class Scope {
   public:
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    friend class CollectiveWatchdog;
    explicit Scope(CollectiveWatchdog* owner) : owner_(owner) {}
    CollectiveWatchdog* owner_;
  };
  // `what` is called only when the timeout fires, so describing the collective costs nothing.
  [[nodiscard]] Scope watch(std::function<std::string()> what);

 private:
  void run();

  using Clock = std::chrono::steady_clock;
  const std::chrono::milliseconds timeout_;
  const Handler on_timeout_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool active_ = false;
  bool idle_ = false;  // the thread waits for a collective to start, without a deadline
  bool stopping_ = false;
  std::uint64_t generation_ = 0;  // one per collective, so a later one is not blamed for an earlier one
  Clock::time_point started_;
  std::function<std::string()> what_;
  std::thread thread_;
};

}  // namespace trainer::comm
