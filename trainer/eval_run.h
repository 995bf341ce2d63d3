#pragma once
// `trainer eval`: one process, any device, any checkpoint or torch.save file; loss, accuracy,
// per-class accuracy and the confusion matrix on the test split, and optionally every sample's
// logits in an HDF5 file.

#include "trainer/config.h"

#include <torch/types.h>

#include <ostream>
#include <string>

namespace trainer {

struct EvalResult {
  std::int64_t samples = 0;
  double loss = 0;
  double accuracy = 0;
  torch::Tensor confusion;  // int64 K x K: rows true class, columns predicted
};

// `config` gives the data, device and (for files that do not say) model and class count.
EvalResult run_evaluation(const TrainConfig& config, const std::string& checkpoint,
                          const std::string& predictions_out, const torch::Device& device, std::ostream& log);

}  // namespace trainer
