#include "comm/collective_watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

namespace trainer::comm {
namespace {

using namespace std::chrono_literals;

struct Recorder {
  std::mutex mutex;
  std::vector<std::string> messages;
  CollectiveWatchdog::Handler handler() {
    return [this](const std::string& message) {
      std::lock_guard<std::mutex> lock(mutex);
      messages.push_back(message);
    };
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return messages.size();
  }
};

TEST(CollectiveWatchdog, FiresOnceForACollectiveThatOutlastsTheTimeout) {
  Recorder recorder;
  CollectiveWatchdog watchdog(50ms, recorder.handler());
  {
    auto scope = watchdog.watch([] { return std::string("MPI_Allreduce of 8 bytes"); });
    std::this_thread::sleep_for(300ms);
  }
  ASSERT_EQ(recorder.count(), 1u);
  // The elapsed time is whatever the machine made of 50 ms: any whole number of seconds.
  EXPECT_TRUE(std::regex_search(recorder.messages[0], std::regex("^MPI_Allreduce of 8 bytes has waited [0-9]+ s")))
      << recorder.messages[0];
  EXPECT_NE(recorder.messages[0].find("a rank is dead or stuck"), std::string::npos);
}

TEST(CollectiveWatchdog, ManyShortCollectivesNeverFire) {
  Recorder recorder;
  CollectiveWatchdog watchdog(80ms, recorder.handler());
  const auto end = std::chrono::steady_clock::now() + 400ms;
  while (std::chrono::steady_clock::now() < end) {
    auto scope = watchdog.watch([] { return std::string("short"); });
    std::this_thread::sleep_for(10ms);
  }
  // Idle gaps longer than the timeout do not count either.
  std::this_thread::sleep_for(200ms);
  { auto scope = watchdog.watch([] { return std::string("after a gap"); }); }
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(recorder.count(), 0u);
}

TEST(CollectiveWatchdog, ALongCollectiveAfterShortOnesIsCaught) {
  Recorder recorder;
  CollectiveWatchdog watchdog(60ms, recorder.handler());
  for (int i = 0; i < 5; ++i) {
    auto scope = watchdog.watch([] { return std::string("short"); });
  }
  {
    auto scope = watchdog.watch([] { return std::string("the stuck one"); });
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_EQ(recorder.count(), 1u);
  EXPECT_EQ(recorder.messages[0].rfind("the stuck one", 0), 0u) << recorder.messages[0];
}

TEST(CollectiveWatchdog, ZeroTimeoutWatchesNothing) {
  Recorder recorder;
  CollectiveWatchdog watchdog(0ms, recorder.handler());
  { auto scope = watchdog.watch([] { return std::string("x"); }); std::this_thread::sleep_for(20ms); }
  EXPECT_EQ(recorder.count(), 0u);
}

}  // namespace
}  // namespace trainer::comm
