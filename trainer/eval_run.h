#pragma once
// `trainer eval`: one process, any device, any checkpoint, weights file or torch.save file; loss,
// accuracy, top-k accuracy, per-class precision, recall, F1 and support, and the confusion matrix on
// the test split, and optionally every sample's logits in an HDF5 file.

#include "trainer/config.h"

#include <torch/types.h>

#include <ostream>
#include <string>

namespace trainer {

struct EvalResult {
  std::int64_t samples = 0;
  double loss = 0;
  double accuracy = 0;
  std::int64_t top_k = 0;   // 0: not measured (K or fewer classes)
  double top_k_accuracy = 0;
  torch::Tensor confusion;  // int64 K x K: rows true class, columns predicted
};

// The data and its transforms are those the checkpoint (or weights file) recorded, unless `config`'s
// explicit options name other data (noted in the report) or other transforms (refused); `config`
// gives the device and, for files that do not say, the model and class count. Top-`top_k`
// accuracy is reported when there are more classes than that.
EvalResult run_evaluation(const TrainConfig& config, const std::string& checkpoint,
                          const std::string& predictions_out, const torch::Device& device, std::ostream& log,
                          std::int64_t top_k = 5);

}  // namespace trainer
