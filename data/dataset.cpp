#include "data/dataset.h"

#include "common/error.h"

#include <numeric>

namespace trainer::data {

Batch batch_of_range(const Dataset& data, std::int64_t begin, std::int64_t end) {
  std::vector<std::int64_t> indices(static_cast<std::size_t>(end - begin));
  std::iota(indices.begin(), indices.end(), begin);
  return data.batch(indices, 0);
}

void check_labels_fit(const Dataset& data, std::int64_t num_classes, const char* split, const char* hint) {
  if (data.size() == 0) return;
  const std::int64_t largest = data.labels().max().item<std::int64_t>();
  if (largest >= num_classes)
    throw DataError(std::string("the ") + split + " split has label " + std::to_string(largest) +
                    " but the model has only " + std::to_string(num_classes) + " classes" + hint);
}

}  // namespace trainer::data
