// TensorBoard's record framing and the timeline's file, byte for byte where a standard fixes them.
// (That TensorBoard reads our files is tests/integration/training_recipes.sh's job.)

#include "telemetry/event_file.h"
#include "telemetry/timeline.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace {

using trainer::telemetry::masked_crc32c;

std::uint32_t unmask(std::uint32_t masked) {
  const std::uint32_t rotated = masked - 0xa282ead8u;
  return (rotated >> 17) | (rotated << 15);
}

TEST(EventFile, Crc32cIsCastagnolisAndMaskedAsTfRecordMasksIt) {
  // The check value of CRC-32C (RFC 3720's iSCSI polynomial).
  EXPECT_EQ(unmask(masked_crc32c("123456789", 9)), 0xE3069283u);
  EXPECT_EQ(unmask(masked_crc32c("", 0)), 0u);
}

TEST(EventFile, RecordIsLengthCrcPayloadCrc) {
  const std::string payload = trainer::telemetry::scalar_event(1.5, 300, "train/loss", 0.25f);
  const std::string record = trainer::telemetry::tf_record(payload);
  ASSERT_EQ(record.size(), 8 + 4 + payload.size() + 4);
  std::uint64_t length = 0;
  std::memcpy(&length, record.data(), 8);
  EXPECT_EQ(length, payload.size());
  std::uint32_t crc = 0;
  std::memcpy(&crc, record.data() + 8, 4);
  EXPECT_EQ(crc, masked_crc32c(record.data(), 8));
  EXPECT_EQ(record.substr(12, payload.size()), payload);
  std::memcpy(&crc, record.data() + 12 + payload.size(), 4);
  EXPECT_EQ(crc, masked_crc32c(payload.data(), payload.size()));
}

TEST(EventFile, ScalarEventIsTheProtobufEncoding) {
  const std::string event = trainer::telemetry::scalar_event(0.0, 300, "a", 1.0f);
  // wall_time (field 1, fixed64) 0.0; step (field 2, varint) 300 = 0xac 0x02; summary (field 5)
  // holding one value (field 1) with tag "a" (field 1) and simple_value (field 2, fixed32) 1.0f.
  const unsigned char expected[] = {0x09, 0,    0,    0,    0,    0,    0,   0,    0,    0x10, 0xac, 0x02,
                                    0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, 'a', 0x15, 0x00, 0x00, 0x80, 0x3f};
  EXPECT_EQ(event, std::string(reinterpret_cast<const char*>(expected), sizeof expected));
}

TEST(Timeline, FileIsAJsonArrayWithATrackPerRank) {
  const std::string path = ::testing::TempDir() + "/timeline.json";
  using Clock = trainer::telemetry::TimelineRecorder::Clock;
  const Clock::time_point origin = Clock::now();
  trainer::telemetry::TimelineRecorder rank0(0, origin), rank1(1, origin);
  rank0.span("forward", trainer::telemetry::Track::kStep, origin, origin + std::chrono::microseconds(250), 1);
  rank1.span("allreduce bucket", trainer::telemetry::Track::kAllreduce, origin + std::chrono::microseconds(10),
             origin + std::chrono::microseconds(30), 1, 2);
  {
    trainer::telemetry::TimelineFile file(path, 2);
    file.append(rank0.take());
    file.append(rank1.take());
    file.append(rank1.take());  // nothing since: nothing written
    file.close();
  }
  std::ifstream in(path);
  const nlohmann::json events = nlohmann::json::parse(in);
  ASSERT_TRUE(events.is_array());
  int spans = 0;
  for (const auto& e : events) {
    if (e["ph"] != "X") continue;
    ++spans;
    if (e["pid"] == 0) {
      EXPECT_EQ(e["name"], "forward");
      EXPECT_EQ(e["dur"], 250);
    } else {
      EXPECT_EQ(e["name"], "allreduce bucket 2");
      EXPECT_EQ(e["ts"], 10);
      EXPECT_EQ(e["args"]["bucket"], 2);
    }
  }
  EXPECT_EQ(spans, 2);
  std::remove(path.c_str());
}

}  // namespace
