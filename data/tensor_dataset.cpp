#include "data/tensor_dataset.h"

#include "common/error.h"

namespace trainer::data {

TensorDataset::TensorDataset(torch::Tensor images, torch::Tensor labels, std::int64_t num_classes,
                             std::vector<std::string> class_names)
    : images_(std::move(images)), labels_(std::move(labels)), num_classes_(num_classes),
      class_names_(std::move(class_names)) {
  if (images_.dim() != 4 || labels_.dim() != 1 || images_.size(0) != labels_.size(0))
    throw Error("TensorDataset: images must be N x C x H x W and labels N");
}

std::vector<std::int64_t> TensorDataset::sample_shape() const {
  return {images_.size(1), images_.size(2), images_.size(3)};
}

Batch TensorDataset::batch(torch::IntArrayRef indices, std::int64_t /*epoch*/) const {
  const torch::Tensor index = torch::tensor(indices, torch::kInt64);
  return {images_.index_select(0, index), labels_.index_select(0, index)};
}

}  // namespace trainer::data
