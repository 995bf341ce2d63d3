#include "trainer/dataset.h"

#include "common/error.h"

#include <set>

namespace trainer {

TensorDataset select_classes(const TensorDataset& data, const std::vector<std::int64_t>& classes) {
  if (classes.size() < 2) throw DataError("--classes: name at least two classes");
  std::set<std::int64_t> seen;
  for (std::int64_t c : classes) {
    if (c < 0 || c >= data.num_classes)
      throw DataError("--classes: class " + std::to_string(c) + " is not in the data set (0.." +
                      std::to_string(data.num_classes - 1) + ")");
    if (!seen.insert(c).second)
      throw DataError("--classes: class " + std::to_string(c) + " is named twice");
  }
  // Map old label -> new label (or -1 to drop).
  auto mapping = torch::full({data.num_classes}, -1, torch::kInt64);
  for (std::size_t i = 0; i < classes.size(); ++i) mapping[classes[i]] = static_cast<std::int64_t>(i);
  torch::Tensor relabeled = mapping.index_select(0, data.labels);
  torch::Tensor keep = (relabeled >= 0).nonzero().squeeze(1);

  TensorDataset out;
  out.images = data.images.index_select(0, keep);
  out.labels = relabeled.index_select(0, keep);
  out.num_classes = static_cast<std::int64_t>(classes.size());
  return out;
}

TensorDataset take_first(const TensorDataset& data, std::int64_t count) {
  if (count <= 0 || count >= data.size()) return data;
  TensorDataset out = data;
  out.images = data.images.slice(0, 0, count);
  out.labels = data.labels.slice(0, 0, count);
  return out;
}

void normalize_in_place(TensorDataset& data, double mean, double std) {
  if (!(std > 0)) throw DataError("--normalize: the standard deviation must be positive");
  data.images.sub_(mean).div_(std);
}

TensorDataset load_dataset(const DataConfig& config, Split split) {
  TensorDataset data;
  std::optional<std::pair<double, double>> normalize = config.normalize;
  if (config.dataset == "fashion-mnist") {
    data = load_fashion_mnist(config.data_dir, split);
    if (!normalize) normalize = std::make_pair(kFashionMnistMean, kFashionMnistStd);
  } else if (config.dataset == "synthetic") {
    data = make_synthetic(config, split);
  } else if (config.dataset == "hdf5") {
    if (config.data_file.empty()) throw DataError("--dataset hdf5 needs --data FILE");
    if (split == Split::kTrain) {
      data = load_hdf5_dataset(config.data_file);
    } else if (!config.test_data_file.empty()) {
      data = load_hdf5_dataset(config.test_data_file);
    } else {
      return TensorDataset{};  // no test set
    }
  } else {
    throw DataError("unknown data set '" + config.dataset + "' (known: fashion-mnist, synthetic, hdf5)");
  }

  if (!config.classes.empty()) data = select_classes(data, config.classes);
  data = take_first(data, split == Split::kTrain ? config.limit_train : config.limit_test);
  // Copy before normalizing: a slice shares storage with the full data set.
  data.images = data.images.contiguous().clone();
  if (normalize) normalize_in_place(data, normalize->first, normalize->second);
  return data;
}

}  // namespace trainer
