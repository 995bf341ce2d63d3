#pragma once
// The interface every data set implements: a number of samples, each an image C x H x W and a
// label, handed out as batches for any list of indices, so that the training loop never needs the
// data in memory. Sources (data/registry.h) and filters (data/filters.h) implement it; the
// in-memory sources are TensorDataset (data/tensor_dataset.h).

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::data {

struct Batch {
  torch::Tensor images;  // float32, N x C x H x W, on the CPU
  torch::Tensor labels;  // int64, N, values in [0, num_classes)
};

class Dataset {
 public:
  virtual ~Dataset() = default;

  virtual std::int64_t size() const = 0;
  virtual std::int64_t num_classes() const = 0;
  virtual std::vector<std::int64_t> sample_shape() const = 0;  // C, H, W
  // Every label, int64, in index order: small, and what class filters and checks need.
  virtual torch::Tensor labels() const = 0;
  // The samples at `indices` (each in [0, size()), any order, repeats allowed), in that order.
  // `epoch` seeds random augmentations: a sample's transform is a pure function of (seed, epoch,
  // index), whoever computes it and in whatever order; sources without augmentation ignore it.
  virtual Batch batch(torch::IntArrayRef indices, std::int64_t epoch) const = 0;
  // Each label's name (an image folder's class folders), or none.
  virtual std::vector<std::string> class_names() const { return {}; }
  // What the run's log should say about the data (files left out, ...), one line each.
  virtual std::vector<std::string> notes() const { return {}; }
};

// Samples [begin, end) as one batch, un-augmented (epoch 0: evaluation).
Batch batch_of_range(const Dataset& data, std::int64_t begin, std::int64_t end);

// Throws DataError when a label of `data` does not fit a model with `num_classes` outputs; `split`
// ("training", "test") and `hint` (what to change) complete the message.
void check_labels_fit(const Dataset& data, std::int64_t num_classes, const char* split, const char* hint);

}  // namespace trainer::data
