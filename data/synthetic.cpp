#include "data/synthetic.h"

#include <ATen/CPUGeneratorImpl.h>

namespace trainer::data {

// Learnable but not trivially, so tests can tell a training loop that learns from one that doesn't.
// The options are validated with the rest of the command line (trainer/config.h).
std::shared_ptr<TensorDataset> make_synthetic(const DataConfig& config, Split split) {
  const auto& shape = config.synthetic_shape;
  const std::int64_t n = split == Split::kTrain ? config.synthetic_train_size : config.synthetic_test_size;

  // Templates depend on the seed only; train and test draw different samples from them.
  torch::Generator templates_rng = torch::make_generator<at::CPUGeneratorImpl>(config.seed);
  torch::Tensor templates = torch::randn({config.synthetic_classes, shape[0], shape[1], shape[2]}, templates_rng);
  const std::uint64_t sample_seed = config.seed * 2 + (split == Split::kTrain ? 1 : 2);
  torch::Generator samples_rng = torch::make_generator<at::CPUGeneratorImpl>(sample_seed);

  torch::Tensor labels = torch::randint(config.synthetic_classes, {n}, samples_rng, torch::kInt64);
  torch::Tensor images = templates.index_select(0, labels) + 2.0 * torch::randn({n, shape[0], shape[1], shape[2]}, samples_rng);
  return std::make_shared<TensorDataset>(images, labels, config.synthetic_classes);
}

}  // namespace trainer::data
