#include "trainer/metrics.h"
#include "trainer/progress.h"

#include "common/error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <vector>
#include <sstream>
#include <thread>

namespace {

TEST(Metrics, JsonHasEveryFieldAndOmitsAbsentTestMetrics) {
  trainer::EpochMetrics m;
  m.epoch = 3;
  m.global_step = 300;
  m.train_loss = 0.5;
  m.train_accuracy = 0.8;
  auto without_test = nlohmann::json::parse(trainer::to_json(m));
  EXPECT_EQ(without_test["epoch"], 3);
  EXPECT_EQ(without_test["global_step"], 300);
  EXPECT_FALSE(without_test.contains("test_accuracy"));
  m.test_loss = 0.6;
  m.test_accuracy = 0.75;
  auto with_test = nlohmann::json::parse(trainer::to_json(m));
  EXPECT_DOUBLE_EQ(with_test["test_accuracy"].get<double>(), 0.75);
}

TEST(Metrics, WriterWritesOneLinePerEpoch) {
  const std::string path = ::testing::TempDir() + "/metrics_test.jsonl";
  {
    trainer::MetricsWriter writer(path);
    trainer::EpochMetrics m;
    for (int e = 1; e <= 3; ++e) {
      m.epoch = e;
      writer.write(m);
    }
  }
  std::ifstream in(path);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) EXPECT_EQ(nlohmann::json::parse(line)["epoch"], ++lines);
  EXPECT_EQ(lines, 3);
}

// A resumed run keeps the history up to its checkpoint's epoch and drops what came after (the
// epochs it trains again); a fresh run starts the file anew. Every record says when it was written.
TEST(Metrics, ResumeKeepsTheHistoryThroughTheCheckpointAndAppends) {
  const std::string path = ::testing::TempDir() + "/metrics_resume_test.jsonl";
  const auto epochs_in_file = [&] {
    std::vector<int> epochs;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      const auto record = nlohmann::json::parse(line);
      EXPECT_EQ(record["time"].get<std::string>().size(), 24u) << line;  // 2026-12-07T01:02:03.456Z
      epochs.push_back(record["epoch"].get<int>());
    }
    return epochs;
  };
  const auto write = [&](std::optional<std::int64_t> resumed_after, int first, int last) {
    trainer::MetricsWriter writer(path, resumed_after);
    trainer::EpochMetrics m;
    for (int e = first; e <= last; ++e) {
      m.epoch = e;
      writer.write(m);
    }
  };
  write(std::nullopt, 1, 3);                // killed after epoch 3's record, before its checkpoint
  write(std::int64_t{2}, 3, 5);             // resumed from epoch 2: epoch 3 again, then 4 and 5
  EXPECT_EQ(epochs_in_file(), (std::vector<int>{1, 2, 3, 4, 5}));
  write(std::int64_t{5}, 6, 6);             // resumed from the end: appended
  EXPECT_EQ(epochs_in_file(), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  { std::ofstream(path, std::ios::app) << "{\"epoch\": 7, \"half a li"; }  // a torn last line
  write(std::int64_t{6}, 7, 7);
  EXPECT_EQ(epochs_in_file(), (std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
  write(std::nullopt, 1, 1);                // a fresh run
  EXPECT_EQ(epochs_in_file(), (std::vector<int>{1}));
}

TEST(Metrics, UnwritablePathIsAConfigError) {
  EXPECT_THROW(trainer::MetricsWriter("/nonexistent-dir/m.jsonl"), trainer::ConfigError);
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(trainer::format_duration(42.4), "42s");
  EXPECT_EQ(trainer::format_duration(185), "3m05s");
  EXPECT_EQ(trainer::format_duration(3720), "1h02m");
}

TEST(Progress, PrintsWholeLinesWithEtaOnlyAfterTheInterval) {
  std::ostringstream out;
  trainer::Progress progress(out, /*interval_seconds=*/1e-9, /*epochs=*/2);
  progress.start_epoch(1, 10);
  progress.step(5, 0.25, 320, 0);
  const std::string text = out.str();
  EXPECT_NE(text.find("epoch 1/2 step 5/10 loss 0.2500"), std::string::npos) << text;
  EXPECT_NE(text.find("data wait 0%"), std::string::npos) << text;
  EXPECT_NE(text.find("ETA"), std::string::npos);
  EXPECT_EQ(text.back(), '\n');

  // Before the interval has passed, nothing: a step 1 ms after the epoch's start prints no line.
  std::ostringstream early;
  trainer::Progress hourly(early, /*interval_seconds=*/3600, /*epochs=*/2);
  hourly.start_epoch(1, 10);
  hourly.step(1, 0.5, 64);
  hourly.step(5, 0.25, 320);
  EXPECT_TRUE(early.str().empty()) << early.str();

  // Once the interval has passed, the next step prints one line; the step right after it does not
  // (the interval starts again from that line).
  std::ostringstream later;
  trainer::Progress every_50ms(later, /*interval_seconds=*/0.05, /*epochs=*/2);
  every_50ms.start_epoch(1, 10);
  every_50ms.step(1, 0.5, 64);
  EXPECT_TRUE(later.str().empty()) << later.str();
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  every_50ms.step(2, 0.5, 128);
  every_50ms.step(3, 0.5, 192);
  const std::string printed = later.str();
  EXPECT_EQ(printed.find("epoch 1/2 step 2/10 loss 0.5000"), 0u) << printed;
  EXPECT_EQ(std::count(printed.begin(), printed.end(), '\n'), 1) << printed;

  std::ostringstream quiet;
  trainer::Progress disabled(quiet, 0, 2);
  disabled.start_epoch(1, 10);
  disabled.step(5, 0.25, 320);
  EXPECT_TRUE(quiet.str().empty());
}

}  // namespace
