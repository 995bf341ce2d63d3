#pragma once
// Fashion-MNIST from its IDX files (gzipped or not), as Debian's dataset-fashion-mnist installs
// them: 28 x 28 grayscale images scaled to [0, 1] and padded to 32 x 32 (LeNet's input), 10 classes.

#include "data/config.h"
#include "data/tensor_dataset.h"

#include <memory>
#include <string>

namespace trainer::data {

// Fashion-MNIST's per-pixel mean and standard deviation over the training images: the
// normalization applied unless --normalize says otherwise.
constexpr double kFashionMnistMean = 0.2860;
constexpr double kFashionMnistStd = 0.3530;

// Throws DataError naming the directory or file that is missing or malformed.
std::shared_ptr<TensorDataset> load_fashion_mnist(const std::string& directory, Split split);

}  // namespace trainer::data
