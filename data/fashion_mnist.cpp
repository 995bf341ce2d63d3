#include "data/fashion_mnist.h"

#include "common/error.h"
#include "data/idx.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace trainer::data {
namespace {

constexpr std::int64_t kClasses = 10;
constexpr std::int64_t kPadding = 2;  // 28x28 -> 32x32, LeNet's input size

std::string find_file(const std::string& directory, const std::string& stem) {
  struct stat info {};
  for (const std::string& name : {stem + ".gz", stem}) {
    std::string path = directory + "/" + name;
    if (::stat(path.c_str(), &info) == 0) return path;
    if (errno != ENOENT) throw DataError(path + ": cannot access: " + std::strerror(errno));
  }
  throw DataError("Fashion-MNIST file " + stem + "[.gz] not found in " + directory +
                  " (install dataset-fashion-mnist or pass --data-dir)");
}

}  // namespace

std::shared_ptr<TensorDataset> load_fashion_mnist(const std::string& directory, Split split) {
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    throw DataError("--data-dir " + directory + ": no such directory");
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  const std::string images_path = find_file(directory, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_file(directory, prefix + "-labels-idx1-ubyte");
  IdxArray images = read_idx(images_path, 3);
  IdxArray labels = read_idx(labels_path, 1);

  if (images.dims[0] != labels.dims[0])
    throw DataError(images_path + " holds " + std::to_string(images.dims[0]) + " images but " +
                    labels_path + " holds " + std::to_string(labels.dims[0]) + " labels");
  for (std::uint8_t label : labels.data)
    if (label >= kClasses)
      throw DataError(labels_path + ": label " + std::to_string(label) + " is not a class 0..9");

  const std::int64_t n = images.dims[0];
  torch::Tensor raw = torch::from_blob(images.data.data(), {n, 1, images.dims[1], images.dims[2]}, torch::kUInt8);
  torch::Tensor scaled = torch::constant_pad_nd(raw.to(torch::kFloat32).div_(255.0),
                                                {kPadding, kPadding, kPadding, kPadding}, 0.0);
  torch::Tensor label_tensor = torch::from_blob(labels.data.data(), {n}, torch::kUInt8).to(torch::kInt64);
  // The names of Zalando's README, in label order.
  std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return std::make_shared<TensorDataset>(scaled, label_tensor, kClasses, std::move(names));
}

}  // namespace trainer::data
