#pragma once
// Data sets live in memory as two tensors: float images N x C x H x W (already scaled, padded and
// normalized) and int64 labels N. Every source (Fashion-MNIST, synthetic, HDF5) produces this, and
// the filters (--classes, --limit-*, --normalize) apply to all of them alike.

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trainer {

enum class Split { kTrain, kTest };

struct DataConfig {
  std::string dataset = "fashion-mnist";  // fashion-mnist | synthetic | hdf5
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string data_file;       // hdf5: training file
  std::string test_data_file;  // hdf5: test file (optional)
  std::vector<std::int64_t> classes;  // keep these labels, relabeled 0..k-1 in this order
  std::int64_t limit_train = 0;       // 0: all
  std::int64_t limit_test = 0;
  std::optional<std::pair<double, double>> normalize;  // mean, std
  // synthetic data
  std::vector<std::int64_t> synthetic_shape = {1, 32, 32};
  std::int64_t synthetic_train_size = 2048;
  std::int64_t synthetic_test_size = 512;
  std::int64_t synthetic_classes = 10;
  std::uint64_t seed = 0;
};

struct TensorDataset {
  torch::Tensor images;  // float32, N x C x H x W
  torch::Tensor labels;  // int64, N, values in [0, num_classes)
  std::int64_t num_classes = 0;

  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// Loads one split and applies the filters. The test split of an hdf5 data set without
// --test-data is empty (size 0). Throws DataError naming the file or option that is wrong.
TensorDataset load_dataset(const DataConfig& config, Split split);

// --- the sources, one per file ---
TensorDataset load_fashion_mnist(const std::string& directory, Split split);
TensorDataset make_synthetic(const DataConfig& config, Split split);
TensorDataset load_hdf5_dataset(const std::string& path);

// --- the filters ---
TensorDataset select_classes(const TensorDataset& data, const std::vector<std::int64_t>& classes);
TensorDataset take_first(const TensorDataset& data, std::int64_t count);
void normalize_in_place(TensorDataset& data, double mean, double std);

// Fashion-MNIST's per-pixel mean and standard deviation over the training images.
constexpr double kFashionMnistMean = 0.2860;
constexpr double kFashionMnistStd = 0.3530;

}  // namespace trainer
