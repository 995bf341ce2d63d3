#include "storage/tensor_file.h"

#include "common/error.h"
#include "storage/fs.h"
#include "storage/h5.h"
#include "storage/tensor_types.h"

#include <sys/stat.h>

namespace trainer::storage {

void write_tensors(const std::string& path, const std::string& group, const NamedTensors& tensors,
                   const Attributes& attributes) {
  fs::write_atomically(path, [&](const std::string& temporary) {
    File file = File::create(temporary);
    for (const auto& [name, tensor] : tensors) {
      torch::Tensor host = tensor.detach().to(torch::kCPU).contiguous();
      std::vector<std::int64_t> shape(host.sizes().begin(), host.sizes().end());
      file.write_raw(group + "/" + name, shape, hdf5_type_of(host.scalar_type(), name), host.data_ptr());
    }
    for (const auto& [name, value] : attributes) file.set_attribute("/", name, value);
    file.close();
  });
}

// Regular files only: HDF5 would open a FIFO and wait for a writer forever.
bool is_hdf5_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && H5Fis_hdf5(path.c_str()) > 0;
}

StoredTensors stored_tensors(const std::string& path, const std::string& group) {
  const File file = File::open_read(path);
  StoredTensors tensors;
  if (!file.has(group)) return tensors;
  for (const auto& name : file.list(group)) {
    const std::string dataset = group + "/" + name;
    tensors.push_back({name, file.describe(dataset).shape, [path, dataset] { return read_tensor(path, dataset); }});
  }
  return tensors;
}

Attributes root_attributes(const std::string& path) { return File::open_read(path).attributes("/"); }

Attributes weights_file_attributes(const std::string& path) {
  Attributes attributes = root_attributes(path);
  if (attributes.count("format"))
    throw CheckpointError(path + ": a checkpoint's index file; name the checkpoint's directory instead");
  if (!attributes.count("model") || !File::open_read(path).has("/model"))
    throw CheckpointError(path + ": an HDF5 file that is not a --save-weights file (no /model with the trainer's run record)");
  return attributes;
}

bool has_tensor(const std::string& path, const std::string& dataset) { return File::open_read(path).has(dataset); }

torch::Tensor read_tensor(const std::string& path, const std::string& dataset) {
  File file = File::open_read(path);
  const DatasetInfo info = file.describe(dataset);
  torch::Tensor tensor = torch::empty(info.shape, torch_type_of(info, path + ":" + dataset));
  file.read_raw(dataset, hdf5_type_of(tensor.scalar_type(), dataset), tensor.data_ptr());
  return tensor;
}

std::string hdf5_version() {
  return std::to_string(H5_VERS_MAJOR) + "." + std::to_string(H5_VERS_MINOR) + "." + std::to_string(H5_VERS_RELEASE);
}

}  // namespace trainer::storage
