#include "comm/heartbeat.h"

#include <gtest/gtest.h>

#include <thread>

namespace trainer::comm {
namespace {

using namespace std::chrono_literals;

TEST(Heartbeat, RankZeroNamesTheRanksItStoppedOrNeverHeardFrom) {
  const auto listener = Heartbeat::listen(/*ranks=*/4, /*job=*/77);
  auto one = Heartbeat::send(listener->address(), 1, 77, 20ms);
  auto two = Heartbeat::send(listener->address(), 2, 77, 20ms);
  const auto stranger = Heartbeat::send(listener->address(), 3, /*another job=*/78, 20ms);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(listener->silent_ranks(200ms), "never a heartbeat from rank(s) 3 (UDP blocked, or never started)");

  two.reset();  // rank 2's host is cut off
  std::this_thread::sleep_for(400ms);
  const std::string silent = listener->silent_ranks(200ms);
  EXPECT_NE(silent.find("no heartbeat from rank 2 silent for 0 s (unreachable or dead)"), std::string::npos) << silent;
  EXPECT_EQ(silent.find("rank 1"), std::string::npos) << silent;
}

}  // namespace
}  // namespace trainer::comm
