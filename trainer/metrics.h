#pragma once
// Per-epoch metrics and the JSON-lines file they are written to (--metrics-file).

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace trainer {

struct EpochMetrics {
  std::int64_t epoch = 0;  // 1-based, completed epochs
  std::int64_t global_step = 0;
  std::int64_t samples_seen = 0;
  double lr = 0;                    // --lr after the schedule, at the epoch's last step
  std::vector<double> group_lrs;    // each parameter group's, likewise
  std::optional<double> grad_norm;  // the mean total gradient norm before clipping (--clip-grad-norm)
  std::optional<std::int64_t> skipped_steps;  // --precision fp16: steps skipped for inf/nan gradients
  double train_loss = 0;
  double train_accuracy = 0;
  std::optional<double> test_loss;  // absent without a test set
  std::optional<double> test_accuracy;
  double epoch_seconds = 0;
  double samples_per_second = 0;
  double data_wait_seconds = 0;  // of epoch_seconds, waiting for batches (rank 0)
  // The run's first epoch only: from rank 0's process start to its first optimizer step (MPI and
  // data set-up, model, resume): the start-up cost a restart pays.
  std::optional<double> startup_seconds;
};

// One JSON object per line, flushed after each, so a crashed run leaves whole lines. Each record
// carries the wall-clock time it was written ("time", ISO 8601 UTC).
class MetricsWriter {
 public:
  // A fresh run truncates the file. A resumed run (`resumed_after_epoch`: the completed epochs of
  // the checkpoint it resumed from) keeps the records up to that epoch, drops those after it (the
  // epochs about to be trained again), and appends: every epoch is in the file once.
  // Throws ConfigError if it cannot be created; write() throws StorageError with the system's
  // reason when a line cannot be written (a full disk).
  explicit MetricsWriter(const std::string& path, std::optional<std::int64_t> resumed_after_epoch = std::nullopt);
  void write(const EpochMetrics& metrics);

 private:
  struct Closer {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  std::string path_;
  std::unique_ptr<std::FILE, Closer> out_;
};

std::string to_json(const EpochMetrics& metrics);

// The lines of a metrics file whose "epoch" is at most `last_epoch` (unparsable lines dropped);
// how many were dropped in `dropped`.
std::vector<std::string> metrics_lines_through(const std::string& path, std::int64_t last_epoch, std::size_t& dropped);

}  // namespace trainer
