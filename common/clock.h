#pragma once
// The one clock every duration in logs, reports and benchmarks is measured with.

#include <chrono>

namespace trainer {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace trainer
