#pragma once
// Waiting that leaves the CPU to others. A rank that waits for a slower one used to spin inside
// MPI; where ranks share cores (with each other, the loader's threads, another job on the node)
// the spinning takes the CPU from the very rank it waits for: a 2-rank job lost 70 % of its speed
// to one other busy process. A wait polls for `spin` (a collective about to complete costs no
// sleep), then sleeps between polls, each sleep twice the last up to `max_sleep`: a long wait
// costs one poll every `max_sleep` and arrives at most `max_sleep` late. Torch-free.

#include <algorithm>
#include <chrono>
#include <thread>

namespace trainer::comm {

class Backoff {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Backoff(std::chrono::microseconds spin = std::chrono::microseconds(50),
                   std::chrono::microseconds max_sleep = std::chrono::microseconds(200))
      : spin_until_(Clock::now() + spin), max_sleep_(max_sleep) {}

  // After a poll that found nothing: returns at once while spinning, else sleeps.
  void pause() {
    if (sleep_.count() == 0) {
      if (Clock::now() < spin_until_) return;
      sleep_ = std::chrono::microseconds(10);
    }
    std::this_thread::sleep_for(sleep_);
    sleeps_ += 1;
    sleep_ = std::min(sleep_ * 2, max_sleep_);
  }
  int sleeps() const { return sleeps_; }

 private:
  Clock::time_point spin_until_;
  std::chrono::microseconds max_sleep_;
  std::chrono::microseconds sleep_{0};
  int sleeps_ = 0;
};

// Polls `done` until it returns true, backing off between polls.
template <typename Done>
void wait_with_backoff(Done done, Backoff backoff = Backoff()) {
  while (!done()) backoff.pause();
}

}  // namespace trainer::comm
