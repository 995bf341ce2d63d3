// Waiting with backoff: polls freely while spinning, then sleeps between polls, each sleep twice the
// last up to the cap, so that a long wait costs one poll per cap.
#include "comm/backoff.h"

#include <gtest/gtest.h>

#include <chrono>

namespace trainer::comm {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(Backoff, SpinsWithoutSleepingInsideTheSpinWindow) {
  Backoff backoff(std::chrono::seconds(10), microseconds(200));
  for (int i = 0; i < 1000; ++i) backoff.pause();
  EXPECT_EQ(backoff.sleeps(), 0);
}

TEST(Backoff, ALongWaitPollsAboutOncePerCap) {
  const auto start = std::chrono::steady_clock::now();
  int polls = 0;
  Backoff backoff(microseconds(0), microseconds(200));
  wait_with_backoff([&] {
    ++polls;
    return std::chrono::steady_clock::now() - start >= milliseconds(20);
  }, backoff);
  // Sleeps of 10, 20, 40, 80, 160 us, then 200 us each: at most 5 + 20 ms / 200 us polls, and
  // each sleep lasts at least what was asked, so a busy machine only makes fewer.
  EXPECT_LE(polls, 5 + 100 + 1);
  EXPECT_GE(polls, 2);
}

}  // namespace
}  // namespace trainer::comm
