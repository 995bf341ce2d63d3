#pragma once
// The step timeline (--timeline FILE): a Chrome trace in JSON array format that Perfetto and
// chrome://tracing open, after Horovod's timeline. One process track per rank ("rank N"), with
// three threads: "step" (data, forward, backward, waiting for the gradient exchange, optimizer,
// checkpoint), "allreduce" (each gradient bucket from launch to completion) and "agree" (the
// per-step agreement between ranks). Times are microseconds since rank 0's start, from the
// system clock, so ranks on different hosts line up as well as their clocks do.
//
// Each rank records its own spans in memory; at the end of every epoch the ranks send them to rank
// 0, which appends them to the file. The array is closed at the end of the run; a killed run leaves
// it open, which the trace viewers accept.

#include <chrono>
#include <cstdint>
#include <string>

namespace trainer::telemetry {

enum class Track { kStep = 0, kAllreduce = 1, kAgree = 2 };

class TimelineRecorder {
 public:
  using Clock = std::chrono::system_clock;
  TimelineRecorder(int rank, Clock::time_point origin) : rank_(rank), origin_(origin) {}
  // A span of `track` from `begin` to `end` during optimizer step `step` (1-based); `bucket` >= 0
  // names a gradient bucket.
  void span(const char* name, Track track, Clock::time_point begin, Clock::time_point end, std::int64_t step,
            int bucket = -1);
  // The spans since the last call, as comma-separated JSON objects (empty when none).
  std::string take();

 private:
  int rank_;
  Clock::time_point origin_;
  std::string events_;
};

// Rank 0's file. Throws StorageError naming the file when it cannot be created or written.
class TimelineFile {
 public:
  TimelineFile(const std::string& path, int ranks);
  ~TimelineFile();
  TimelineFile(const TimelineFile&) = delete;
  TimelineFile& operator=(const TimelineFile&) = delete;
  void append(const std::string& events);  // what TimelineRecorder::take() returned
  void close();                             // ends the array

 private:
  void write(const std::string& text);
  std::string path_;
  int fd_ = -1;
};

}  // namespace trainer::telemetry
