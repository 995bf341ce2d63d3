#include "storage/tensor_file.h"

#include "common/error.h"
#include "storage/h5.h"
#include "storage/tensor_types.h"

#include <cstdio>

namespace trainer::storage {
void write_tensors(const std::string& path, const std::string& group, const NamedTensors& tensors) {
  const std::string temporary = path + ".tmp";
  {
    File file = File::create(temporary);
    for (const auto& [name, tensor] : tensors) {
      torch::Tensor host = tensor.detach().to(torch::kCPU).contiguous();
      std::vector<std::int64_t> shape(host.sizes().begin(), host.sizes().end());
      file.write_raw(group + "/" + name, shape, hdf5_type_of(host.scalar_type(), name), host.data_ptr());
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    throw StorageError(path + ": cannot rename " + temporary + " into place");
}

torch::Tensor read_tensor(const std::string& path, const std::string& dataset) {
  File file = File::open_read(path);
  DatasetInfo info = file.describe(dataset);
  if (info.kind == ElementKind::kInteger) {
    std::vector<std::int64_t> values = file.read<std::int64_t>(dataset);
    return torch::tensor(values, torch::kInt64).reshape(info.shape);
  }
  if (info.element_size == 8) {
    std::vector<double> values = file.read<double>(dataset);
    return torch::tensor(values, torch::kFloat64).reshape(info.shape);
  }
  std::vector<float> values = file.read<float>(dataset);
  return torch::tensor(values, torch::kFloat32).reshape(info.shape);
}

}  // namespace trainer::storage
