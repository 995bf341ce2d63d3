#pragma once
// Synthetic images for tests and benchmarks: each class has a fixed random template; a sample is
// its class template plus twice as much noise. Seeded, shaped by --synthetic-*.

#include "data/config.h"
#include "data/tensor_dataset.h"

#include <memory>

namespace trainer::data {

std::shared_ptr<TensorDataset> make_synthetic(const DataConfig& config, Split split);

}  // namespace trainer::data
