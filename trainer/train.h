#pragma once
// The training loop: epochs of seeded, sampled mini-batches; evaluation on the test split after
// every epoch; metrics to the log and to --metrics-file.

#include "models/network.h"
#include "trainer/config.h"
#include "trainer/dataset.h"
#include "trainer/metrics.h"

#include <ostream>
#include <vector>

namespace trainer {

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  std::int64_t samples = 0;
};

// Mean cross-entropy and accuracy over the whole data set, in eval mode and without gradients.
Evaluation evaluate(models::Network& model, const TensorDataset& data, std::int64_t batch_size,
                    const torch::Device& device);

struct TrainResult {
  std::vector<EpochMetrics> epochs;
};

// Runs a whole training run in this process; writes progress and one summary line per epoch to
// `log`. Throws InputError subclasses for bad configuration or data.
TrainResult run_training(const TrainConfig& config, std::ostream& log);

}  // namespace trainer
