#include "trainer/metrics.h"

#include "common/error.h"

#include <nlohmann/json.hpp>

namespace trainer {

std::string to_json(const EpochMetrics& m) {
  nlohmann::json record = {
      {"epoch", m.epoch},
      {"global_step", m.global_step},
      {"samples_seen", m.samples_seen},
      {"lr", m.lr},
      {"train_loss", m.train_loss},
      {"train_accuracy", m.train_accuracy},
      {"epoch_seconds", m.epoch_seconds},
      {"samples_per_second", m.samples_per_second},
  };
  if (m.test_loss) record["test_loss"] = *m.test_loss;
  if (m.test_accuracy) record["test_accuracy"] = *m.test_accuracy;
  return record.dump();
}

MetricsWriter::MetricsWriter(const std::string& path) : path_(path), out_(path, std::ios::trunc) {
  if (!out_) throw ConfigError("--metrics-file " + path + ": cannot create the file");
}

void MetricsWriter::write(const EpochMetrics& metrics) {
  out_ << to_json(metrics) << '\n';
  out_.flush();
  if (!out_) throw Error("--metrics-file " + path_ + ": write failed");
}

}  // namespace trainer
