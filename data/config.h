#pragma once
// What a run says about its data: the source (one of data/registry.h's names), where it lives,
// and the filters applied to every source alike. Torch-free.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace trainer::data {

struct DataConfig {
  std::string dataset = "fashion-mnist";  // a name of data/registry.h
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string data_file;       // hdf5: training file
  std::string test_data_file;  // hdf5: test file (optional)
  std::vector<std::int64_t> classes;  // keep these labels, relabeled 0..k-1 in this order
  std::int64_t limit_train = 0;       // 0: all
  std::int64_t limit_test = 0;
  std::optional<std::pair<double, double>> normalize;  // mean, std; else the source's default
  // synthetic data
  std::vector<std::int64_t> synthetic_shape = {1, 32, 32};
  std::int64_t synthetic_train_size = 2048;
  std::int64_t synthetic_test_size = 512;
  std::int64_t synthetic_classes = 10;
  std::uint64_t seed = 0;
};

enum class Split { kTrain, kTest };

}  // namespace trainer::data
