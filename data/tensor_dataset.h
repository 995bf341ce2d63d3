#pragma once
// A data set held in memory as two tensors: the sources that load everything at once (Fashion-MNIST,
// synthetic, HDF5) produce this.

#include "data/dataset.h"

namespace trainer::data {

class TensorDataset : public Dataset {
 public:
  // images: float32 N x C x H x W; labels: int64 N in [0, num_classes).
  // class_names: empty, or one per class (Fashion-MNIST's).
  TensorDataset(torch::Tensor images, torch::Tensor labels, std::int64_t num_classes,
                std::vector<std::string> class_names = {});

  std::int64_t size() const override { return labels_.size(0); }
  std::int64_t num_classes() const override { return num_classes_; }
  std::vector<std::string> class_names() const override { return class_names_; }
  std::vector<std::int64_t> sample_shape() const override;
  torch::Tensor labels() const override { return labels_; }
  Batch batch(torch::IntArrayRef indices, std::int64_t epoch) const override;

  const torch::Tensor& images() const { return images_; }

 private:
  torch::Tensor images_;
  torch::Tensor labels_;
  std::int64_t num_classes_;
  std::vector<std::string> class_names_;
};

}  // namespace trainer::data
