#include "trainer/metrics.h"

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace trainer {

std::string to_json(const EpochMetrics& m) {
  nlohmann::json record = {
      {"epoch", m.epoch},
      {"global_step", m.global_step},
      {"samples_seen", m.samples_seen},
      {"lr", m.lr},
      {"group_lrs", m.group_lrs},
      {"train_loss", m.train_loss},
      {"train_accuracy", m.train_accuracy},
      {"epoch_seconds", m.epoch_seconds},
      {"samples_per_second", m.samples_per_second},
      {"data_wait_seconds", m.data_wait_seconds},
  };
  if (m.grad_norm) record["grad_norm"] = *m.grad_norm;
  if (m.skipped_steps) record["skipped_steps"] = *m.skipped_steps;
  if (m.test_loss) record["test_loss"] = *m.test_loss;
  if (m.test_accuracy) record["test_accuracy"] = *m.test_accuracy;
  if (m.startup_seconds) record["startup_seconds"] = *m.startup_seconds;
  return record.dump();
}

namespace {

// O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of blocking the run forever.
std::FILE* open_for_lines(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) return nullptr;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::FILE* file = ::fdopen(fd, "w");
  if (file == nullptr) ::close(fd);
  return file;
}

}  // namespace

MetricsWriter::MetricsWriter(const std::string& path) : path_(path), out_(open_for_lines(path)) {
  if (!out_) throw ConfigError("--metrics-file " + path + ": cannot create the file: " + std::strerror(errno));
}

void MetricsWriter::write(const EpochMetrics& metrics) {
  const std::string line = to_json(metrics) + "\n";
  errno = 0;
  if (std::fputs(line.c_str(), out_.get()) < 0 || std::fflush(out_.get()) != 0)
    throw StorageError("--metrics-file " + path_ + ": cannot write: " + std::strerror(errno ? errno : EIO));
}

}  // namespace trainer
