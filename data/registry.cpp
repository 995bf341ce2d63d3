#include "data/registry.h"

#include "common/error.h"
#include "data/fashion_mnist.h"
#include "data/filters.h"
#include "data/hdf5_dataset.h"
#include "data/image_folder.h"
#include "data/synthetic.h"

#include <functional>
#include <optional>
#include <utility>

namespace trainer::data {
namespace {

using Source = std::function<std::shared_ptr<const Dataset>(const DataConfig&, Split)>;
using Normalization = std::optional<std::pair<double, double>>;

struct Entry {
  DatasetName name;
  Source open;
  Normalization default_normalization;  // applied unless --normalize says otherwise
};

std::shared_ptr<const Dataset> open_hdf5(const DataConfig& config, Split split) {
  if (split == Split::kTrain) return open_hdf5_dataset(config.data_file);
  if (config.test_data_file.empty()) return nullptr;
  return open_hdf5_dataset(config.test_data_file);
}

const std::vector<Entry>& registry() {
  static const std::vector<Entry> entries = {
      {{"fashion-mnist", "Fashion-MNIST IDX files in --data-dir"},
       [](const DataConfig& c, Split s) { return load_fashion_mnist(c.data_dir, s); },
       std::make_pair(kFashionMnistMean, kFashionMnistStd)},
      {{"synthetic", "class templates plus noise, shaped by --synthetic-*"},
       [](const DataConfig& c, Split s) { return make_synthetic(c, s); }, std::nullopt},
      {{"hdf5", "/images and /labels of --data (and --test-data)"}, open_hdf5, std::nullopt},
      {{"image-folder", "JPEG/PNG files in --data-dir's train/<class>/ and val/<class>/ (or --train-dir, --val-dir)"},
       open_image_folder, std::nullopt},
  };
  return entries;
}

}  // namespace

const std::vector<DatasetName>& dataset_names() {
  static const std::vector<DatasetName> names = [] {
    std::vector<DatasetName> out;
    for (const auto& entry : registry()) out.push_back(entry.name);
    return out;
  }();
  return names;
}

bool is_dataset_name(const std::string& name) {
  for (const auto& entry : registry())
    if (entry.name.name == name) return true;
  return false;
}

std::shared_ptr<const Dataset> make_dataset(const DataConfig& config, Split split) {
  const Entry* entry = nullptr;
  for (const auto& candidate : registry())
    if (candidate.name.name == config.dataset) entry = &candidate;
  if (entry == nullptr) throw DataError("unknown data set '" + config.dataset + "'");
  std::shared_ptr<const Dataset> data = entry->open(config, split);
  if (data == nullptr) return nullptr;
  if (!config.classes.empty()) data = select_classes(data, config.classes);
  data = take_first(data, split == Split::kTrain ? config.limit_train : config.limit_test);
  if (const Normalization normalization = config.normalize ? config.normalize : entry->default_normalization)
    data = normalize(data, normalization->first, normalization->second);
  return data;
}

}  // namespace trainer::data
