#include "data/hdf5_dataset.h"

#include "common/error.h"
#include "storage/array_file.h"

#include <mutex>

namespace trainer::data {
namespace {

using Kind = storage::ArrayInfo::Kind;

// /images stays in the file: a batch reads its rows (any storage layout, any filter libhdf5
// reads), so a file larger than memory trains. The labels are read at start: they are small.
class Hdf5Dataset : public Dataset {
 public:
  Hdf5Dataset(storage::ArrayFile file, std::vector<std::int64_t> shape, bool bytes, torch::Tensor labels,
              std::int64_t num_classes)
      : file_(std::move(file)), shape_(std::move(shape)), bytes_(bytes), labels_(std::move(labels)),
        num_classes_(num_classes) {}

  std::int64_t size() const override { return labels_.size(0); }
  std::int64_t num_classes() const override { return num_classes_; }
  std::vector<std::int64_t> sample_shape() const override { return {shape_[1], shape_[2], shape_[3]}; }
  torch::Tensor labels() const override { return labels_; }

  Batch batch(torch::IntArrayRef indices, std::int64_t /*epoch*/) const override {
    const std::vector<std::int64_t> rows(indices.begin(), indices.end());
    torch::Tensor pixels;
    {
      const std::lock_guard<std::mutex> lock(mutex_);  // one HDF5 file handle, shared by the loader's workers
      pixels = bytes_ ? file_.read_rows("/images", rows, torch::kUInt8).to(torch::kFloat32).div_(255.0)
                      : file_.read_rows("/images", rows, torch::kFloat32);
    }
    if (!bytes_) {
      // A NaN or an infinity trains to a loss of nan: refuse the file, naming the sample.
      const torch::Tensor finite = torch::isfinite(pixels).reshape({pixels.size(0), -1}).all(1);
      if (!finite.all().item<bool>())
        throw DataError(file_.path() + ":/images: sample " +
                        std::to_string(rows[static_cast<std::size_t>((~finite).nonzero()[0][0].item<std::int64_t>())]) +
                        " holds NaN or infinite values");
    }
    std::vector<std::int64_t> shape = shape_;
    shape[0] = static_cast<std::int64_t>(rows.size());
    return {pixels.reshape(shape), labels_.index_select(0, torch::tensor(indices, torch::kInt64))};
  }

 private:
  storage::ArrayFile file_;
  std::vector<std::int64_t> shape_;  // N x C x H x W
  bool bytes_;
  torch::Tensor labels_;
  std::int64_t num_classes_;
  mutable std::mutex mutex_;
};

}  // namespace

std::shared_ptr<const Dataset> open_hdf5_dataset(const std::string& path) {
  storage::ArrayFile file(path);
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
  for (std::int64_t size : images.shape)
    if (size <= 0) throw DataError(path + ":/images has an empty dimension");
  file.check_stored_size("/images");

  std::vector<std::int64_t> shape = images.shape;
  if (shape.size() == 3) shape.insert(shape.begin() + 1, 1);
  const bool bytes = images.kind == Kind::kInteger && images.element_size == 1 && !images.is_signed;

  torch::Tensor label_values = file.read("/labels", torch::kInt64);
  if (label_values.numel() > 0 && label_values.min().item<std::int64_t>() < 0)
    throw DataError(path + ":/labels holds a negative label " + std::to_string(label_values.min().item<std::int64_t>()));
  const std::int64_t largest = label_values.numel() > 0 ? label_values.max().item<std::int64_t>() : -1;
  return std::make_shared<Hdf5Dataset>(std::move(file), shape, bytes, label_values,
                                       std::max<std::int64_t>(largest + 1, 2));
}

}  // namespace trainer::data
