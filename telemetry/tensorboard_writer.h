#pragma once
// Scalars for TensorBoard (--tensorboard DIR): one new event file per run in DIR, never touching
// the files of earlier runs. Written by rank 0 only; buffered, and flushed every few seconds, at
// flush() and on destruction, so that TensorBoard follows a run while it trains.

#include <chrono>
#include <cstdint>
#include <string>

namespace trainer::telemetry {

class TensorBoardWriter {
 public:
  // Creates DIR (like mkdir -p) and events.out.tfevents.<time>.<host>.<pid>.trainer in it. A run
  // that resumes after step `resumed_step` marks its start there, so that TensorBoard drops what an
  // earlier try logged for the steps it takes again. Throws StorageError naming the file.
  TensorBoardWriter(const std::string& directory, std::int64_t resumed_step);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  void scalar(const std::string& tag, double value, std::int64_t step);
  void flush();  // throws StorageError naming the file (a full disk)
  const std::string& path() const { return path_; }

 private:
  void append(const std::string& event);

  std::string path_;
  int fd_ = -1;
  std::string pending_;
  std::chrono::steady_clock::time_point last_flush_;
};

}  // namespace trainer::telemetry
