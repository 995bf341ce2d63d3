#include "data/hdf5_dataset.h"

#include "common/error.h"
#include "storage/array_file.h"

namespace trainer::data {

std::shared_ptr<TensorDataset> load_hdf5_dataset(const std::string& path) {
  using Kind = storage::ArrayInfo::Kind;
  const storage::ArrayFile file(path);
  for (const char* name : {"/images", "/labels"})
    if (!file.has(name)) throw DataError(path + ": has no " + std::string(name) + " dataset");

  const storage::ArrayInfo images = file.info("/images");
  const storage::ArrayInfo labels = file.info("/labels");
  if (images.shape.size() != 3 && images.shape.size() != 4)
    throw DataError(path + ":/images must be N x H x W or N x C x H x W, it has " +
                    std::to_string(images.shape.size()) + " dimensions");
  if (images.kind == Kind::kOther) throw DataError(path + ":/images must hold integers or floats");
  if (labels.kind != Kind::kInteger || labels.shape.size() != 1)
    throw DataError(path + ":/labels must be a one-dimensional integer dataset");
  if (labels.shape[0] != images.shape[0])
    throw DataError(path + ": /images holds " + std::to_string(images.shape[0]) + " samples but /labels " +
                    std::to_string(labels.shape[0]));
  if (images.shape[0] == 0) throw DataError(path + ": the data set is empty");

  std::vector<std::int64_t> shape = images.shape;
  if (shape.size() == 3) shape.insert(shape.begin() + 1, 1);
  const bool bytes = images.kind == Kind::kInteger && images.element_size == 1 && !images.is_signed;
  torch::Tensor pixels = bytes ? file.read("/images", torch::kUInt8).to(torch::kFloat32).div_(255.0)
                               : file.read("/images", torch::kFloat32);
  if (!bytes) {
    // A NaN or an infinity trains to a loss of nan: refuse the file, naming the first such sample.
    const torch::Tensor finite = torch::isfinite(pixels).reshape({pixels.size(0), -1}).all(1);
    if (!finite.all().item<bool>())
      throw DataError(path + ":/images: sample " + std::to_string((~finite).nonzero()[0][0].item<std::int64_t>()) +
                      " holds NaN or infinite values");
  }

  torch::Tensor label_values = file.read("/labels", torch::kInt64);
  if (label_values.numel() > 0 && label_values.min().item<std::int64_t>() < 0)
    throw DataError(path + ":/labels holds a negative label " + std::to_string(label_values.min().item<std::int64_t>()));
  const std::int64_t largest = label_values.numel() > 0 ? label_values.max().item<std::int64_t>() : -1;
  return std::make_shared<TensorDataset>(pixels.reshape(shape), label_values, std::max<std::int64_t>(largest + 1, 2));
}

}  // namespace trainer::data
