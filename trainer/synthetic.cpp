#include "trainer/dataset.h"

#include "common/error.h"

namespace trainer {

// Each class has a fixed random template; a sample is its class template plus twice as much noise.
// Learnable but not trivially, so tests can tell a training loop that learns from one that doesn't.
TensorDataset make_synthetic(const DataConfig& config, Split split) {
  const auto& shape = config.synthetic_shape;
  if (shape.size() != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1)
    throw DataError("--synthetic-shape must be C,H,W with positive sizes");
  if (config.synthetic_classes < 2) throw DataError("--synthetic-classes must be at least 2");
  const std::int64_t n =
      split == Split::kTrain ? config.synthetic_train_size : config.synthetic_test_size;
  if (n < 1) throw DataError("--synthetic-size: the data set must hold at least one sample");

  // Templates depend on the seed only; train and test draw different samples from them.
  torch::Generator templates_rng = torch::make_generator<at::CPUGeneratorImpl>(config.seed);
  torch::Tensor templates = torch::randn({config.synthetic_classes, shape[0], shape[1], shape[2]},
                                         templates_rng);
  const std::uint64_t sample_seed = config.seed * 2 + (split == Split::kTrain ? 1 : 2);
  torch::Generator samples_rng = torch::make_generator<at::CPUGeneratorImpl>(sample_seed);

  TensorDataset data;
  data.labels = torch::randint(config.synthetic_classes, {n}, samples_rng, torch::kInt64);
  data.images = templates.index_select(0, data.labels) +
                2.0 * torch::randn({n, shape[0], shape[1], shape[2]}, samples_rng);
  data.num_classes = config.synthetic_classes;
  return data;
}

}  // namespace trainer
