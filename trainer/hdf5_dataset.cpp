#include "trainer/dataset.h"

#include "common/error.h"
#include "storage/h5.h"

namespace trainer {

// A user's own data: /images (N x C x H x W or N x H x W; uint8 scaled to [0,1], floats as they
// are) and /labels (integers 0..K-1; K is the largest label plus one).
TensorDataset load_hdf5_dataset(const std::string& path) {
  storage::File file = storage::File::open_read(path);
  for (const char* name : {"/images", "/labels"})
    if (!file.has(name)) throw DataError(path + ": has no " + std::string(name) + " dataset");

  storage::DatasetInfo images = file.describe("/images");
  storage::DatasetInfo labels = file.describe("/labels");
  if (images.shape.size() != 3 && images.shape.size() != 4)
    throw DataError(path + ":/images must be N x H x W or N x C x H x W, it has " +
                    std::to_string(images.shape.size()) + " dimensions");
  if (images.kind == storage::ElementKind::kOther)
    throw DataError(path + ":/images must hold integers or floats");
  if (labels.kind != storage::ElementKind::kInteger || labels.shape.size() != 1)
    throw DataError(path + ":/labels must be a one-dimensional integer dataset");
  if (labels.shape[0] != images.shape[0])
    throw DataError(path + ": /images holds " + std::to_string(images.shape[0]) +
                    " samples but /labels " + std::to_string(labels.shape[0]));
  if (images.shape[0] == 0) throw DataError(path + ": the data set is empty");

  std::vector<std::int64_t> shape = images.shape;
  if (shape.size() == 3) shape.insert(shape.begin() + 1, 1);

  TensorDataset data;
  const bool bytes = images.kind == storage::ElementKind::kInteger && images.element_size == 1 &&
                     !images.is_signed;
  if (bytes) {
    std::vector<std::uint8_t> values = file.read<std::uint8_t>("/images");
    data.images = torch::from_blob(values.data(), shape, torch::kUInt8).to(torch::kFloat32).div_(255.0);
  } else {
    std::vector<float> values = file.read<float>("/images");
    data.images = torch::from_blob(values.data(), shape, torch::kFloat32).clone();
  }

  std::vector<std::int64_t> label_values = file.read<std::int64_t>("/labels");
  std::int64_t largest = -1;
  for (std::int64_t label : label_values) {
    if (label < 0) throw DataError(path + ":/labels holds a negative label " + std::to_string(label));
    largest = std::max(largest, label);
  }
  data.labels = torch::tensor(label_values, torch::kInt64);
  data.num_classes = std::max<std::int64_t>(largest + 1, 2);
  return data;
}

}  // namespace trainer
