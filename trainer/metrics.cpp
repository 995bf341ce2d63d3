#include "trainer/metrics.h"

#include "common/error.h"
#include "common/output_file.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <fstream>
#include <cstring>

namespace trainer {
namespace {

std::string iso_time_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return std::string(text) + "." + std::to_string(1000 + millis).substr(1) + "Z";
}

}  // namespace

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
  record["time"] = iso_time_now();
  return record.dump();
}

std::vector<std::string> metrics_lines_through(const std::string& path, std::int64_t last_epoch, std::size_t& dropped) {
  std::vector<std::string> kept;
  dropped = 0;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.contains("epoch") && record["epoch"].is_number_integer() &&
        record["epoch"].get<std::int64_t>() <= last_epoch)
      kept.push_back(line);
    else
      ++dropped;
  }
  return kept;
}

namespace {

std::FILE* open_for_lines(const std::string& path, bool append) {
  const int fd = open_output_file("metrics-file", path, append ? O_APPEND : O_TRUNC);
  if (fd < 0) return nullptr;
  std::FILE* file = ::fdopen(fd, append ? "a" : "w");
  if (file == nullptr) ::close(fd);
  return file;
}

// The records kept from before the resumed checkpoint, written aside and renamed over the file, so
// that a crash here leaves either the old history or the new one.
void keep_history_through(const std::string& path, std::int64_t last_epoch) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return;
  std::size_t dropped = 0;
  const std::vector<std::string> kept = metrics_lines_through(path, last_epoch, dropped);
  if (dropped == 0) return;
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const auto& line : kept) out << line << '\n';
    out.flush();
    if (!out) throw StorageError("--metrics-file " + path + ": cannot rewrite its history: " + std::strerror(errno));
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0)
    throw StorageError("--metrics-file " + path + ": cannot rewrite its history: " + std::strerror(errno));
}

}  // namespace

MetricsWriter::MetricsWriter(const std::string& path, std::optional<std::int64_t> resumed_after_epoch) : path_(path) {
  if (resumed_after_epoch) keep_history_through(path, *resumed_after_epoch);
  out_.reset(open_for_lines(path, resumed_after_epoch.has_value()));
  if (!out_) throw ConfigError("--metrics-file " + path + ": cannot create the file: " + std::strerror(errno));
}

void MetricsWriter::write(const EpochMetrics& metrics) {
  const std::string line = to_json(metrics) + "\n";
  errno = 0;
  if (std::fputs(line.c_str(), out_.get()) < 0 || std::fflush(out_.get()) != 0)
    throw StorageError("--metrics-file " + path_ + ": cannot write: " + std::strerror(errno ? errno : EIO));
}

}  // namespace trainer
