#include "telemetry/timeline.h"

#include "common/error.h"
#include "common/output_file.h"
#include "telemetry/event_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace trainer::telemetry {
namespace {

const char* const kTrackNames[] = {"step", "allreduce", "agree"};

long long microseconds(std::chrono::system_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

void TimelineRecorder::span(const char* name, Track track, Clock::time_point begin, Clock::time_point end,
                            std::int64_t step, int bucket) {
  char event[320];
  const int n = bucket >= 0 ? std::snprintf(event, sizeof event,
                                            "{\"name\":\"%s %d\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
                                            "\"ts\":%lld,\"dur\":%lld,\"args\":{\"step\":%lld,\"bucket\":%d}}",
                                            name, bucket, kTrackNames[static_cast<int>(track)], rank_,
                                            static_cast<int>(track), microseconds(begin - origin_),
                                            microseconds(end - begin), static_cast<long long>(step), bucket)
                            : std::snprintf(event, sizeof event,
                                            "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,"
                                            "\"ts\":%lld,\"dur\":%lld,\"args\":{\"step\":%lld}}",
                                            name, kTrackNames[static_cast<int>(track)], rank_, static_cast<int>(track),
                                            microseconds(begin - origin_), microseconds(end - begin),
                                            static_cast<long long>(step));
  if (!events_.empty()) events_ += ",\n";
  events_.append(event, static_cast<std::size_t>(std::min<int>(n, sizeof event - 1)));
}

std::string TimelineRecorder::take() {
  std::string taken;
  taken.swap(events_);
  return taken;
}

TimelineFile::TimelineFile(const std::string& path, int ranks) : path_(path) {
  fd_ = open_output_file("timeline", path, O_TRUNC);
  if (fd_ < 0) throw StorageError("--timeline " + path + ": cannot create the file: " + std::strerror(errno));
  // Names for the tracks: a process per rank, its threads in a fixed order.
  std::string metadata = "[\n";
  for (int rank = 0; rank < ranks; ++rank) {
    if (rank > 0) metadata += ",\n";
    metadata += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + std::to_string(rank) +
                ",\"args\":{\"name\":\"rank " + std::to_string(rank) + "\"}},\n" +
                "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":" + std::to_string(rank) +
                ",\"args\":{\"sort_index\":" + std::to_string(rank) + "}}";
    for (int track = 0; track < 3; ++track)
      metadata += ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + std::to_string(rank) +
                  ",\"tid\":" + std::to_string(track) + ",\"args\":{\"name\":\"" + kTrackNames[track] + "\"}}";
  }
  write(metadata);
}

TimelineFile::~TimelineFile() {
  if (fd_ >= 0) ::close(fd_);
}

void TimelineFile::append(const std::string& events) {
  if (!events.empty()) write(",\n" + events);
}

void TimelineFile::close() {
  write("\n]\n");
  ::close(fd_);
  fd_ = -1;
}

void TimelineFile::write(const std::string& text) {
  std::size_t written = 0;
  if (const int error = write_all(fd_, text, written))
    throw StorageError("--timeline: cannot write " + path_ + ": " + std::strerror(error));
}

}  // namespace trainer::telemetry
