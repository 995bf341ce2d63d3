#pragma once
// What a run says about its data: the source (one of data/registry.h's names), where it lives,
// and the filters applied to every source alike. Torch-free.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace trainer::data {

// image-folder: torchvision's transforms with the transfer-learning tutorial's pipeline by default:
// training RandomResizedCrop(image_size, crop_scale, crop_ratio) + RandomHorizontalFlip(hflip),
// evaluation Resize(resize) + CenterCrop(image_size); then ToTensor and Normalize(mean, std).
struct ImagePipeline {
  std::int64_t image_size = 224;
  std::int64_t resize = 256;  // the shorter side before the center crop; 0: no resize
  std::pair<double, double> crop_scale{0.08, 1.0};
  std::pair<double, double> crop_ratio{3.0 / 4.0, 4.0 / 3.0};
  double hflip = 0.5;  // probability
  std::vector<double> mean{0.485, 0.456, 0.406};
  std::vector<double> std{0.229, 0.224, 0.225};
};

struct DataConfig {
  std::string dataset = "fashion-mnist";  // a name of data/registry.h
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string data_file;       // hdf5: training file
  std::string test_data_file;  // hdf5: test file (optional)
  std::vector<std::int64_t> classes;  // keep these labels, relabeled 0..k-1 in this order
  std::int64_t limit_train = 0;       // 0: all
  std::int64_t limit_test = 0;
  std::optional<std::pair<double, double>> normalize;  // mean, std; else the source's default
  // synthetic data
  std::vector<std::int64_t> synthetic_shape = {1, 32, 32};
  std::int64_t synthetic_train_size = 2048;
  std::int64_t synthetic_test_size = 512;
  std::int64_t synthetic_classes = 10;
  std::uint64_t seed = 0;
  // image folders
  std::string train_dir;  // default: data_dir/train
  std::string val_dir;    // default: data_dir/val
  ImagePipeline images;
  std::int64_t workers = 0;   // threads that make batches ahead of the step; 0: the step's own thread
  std::int64_t prefetch = 4;  // batches made ahead at most (memory: prefetch x a batch)
  bool skip_bad_images = false;  // image folders: decode every file at start, leave out those that fail
};

enum class Split { kTrain, kTest };

}  // namespace trainer::data
