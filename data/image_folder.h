#pragma once
// torchvision's ImageFolder: ROOT/<class>/**/<image>, classes in sorted folder-name order, files in
// sorted path order, .jpg/.jpeg/.png (any case) as images; other files are left out and counted.
// Images are decoded and transformed when a batch asks for them (data/image_decode.h,
// data/image_transforms.h; in parallel: data/loader.h); nothing is held but the file list.

#include "data/config.h"
#include "data/dataset.h"
#include "data/image_transforms.h"

#include <memory>
#include <string>
#include <vector>

namespace trainer::data {

struct ImageFile {
  std::string path;
  std::int64_t label = 0;
};

struct ImageFolderListing {
  std::vector<std::string> classes;  // sorted
  std::vector<ImageFile> files;      // by class, then path
  std::int64_t ignored = 0;          // files that are not .jpg/.jpeg/.png
};

// Lists `root`. With `classes` (the training split's), a class folder outside it is an error and
// labels follow it, so that a validation folder missing a class keeps the training labels.
// Throws DataError: no such directory, no class folder, an empty class folder, no images.
ImageFolderListing list_image_folder(const std::string& root, const std::vector<std::string>* classes = nullptr);

// A split of an image folder with the training (augmenting) or the evaluation pipeline. Every
// file's header is read at start: a file that is no image, unreadable, or (evaluation) smaller
// than the crop is named there; a file corrupt further in is named when a batch reaches it. With
// config.skip_bad_images every file is decoded once at start instead, and those that fail are
// left out (notes() says how many).
class ImageFolderDataset : public Dataset {
 public:
  ImageFolderDataset(ImageFolderListing listing, const DataConfig& config, Split split);

  std::int64_t size() const override { return static_cast<std::int64_t>(files_.size()); }
  std::int64_t num_classes() const override { return static_cast<std::int64_t>(classes_.size()); }
  std::vector<std::int64_t> sample_shape() const override;
  torch::Tensor labels() const override { return labels_; }
  Batch batch(torch::IntArrayRef indices, std::int64_t epoch) const override;

  std::vector<std::string> class_names() const override { return classes_; }
  std::vector<std::string> notes() const override;

  // What the training pipeline draws for sample `index` in `epoch` (the crop and the flip), and
  // the file it reads: for comparing our augmentation with torchvision's on the same draws.
  TrainDraw augmentation(std::int64_t index, std::int64_t epoch) const;
  const std::string& path(std::int64_t index) const { return files_[static_cast<std::size_t>(index)].path; }

 private:
  torch::Tensor sample(std::int64_t index, std::int64_t epoch) const;
  // Throws DataError for a file that is no usable image: its header (or with `decode`, the whole
  // file) unreadable, or too small for the evaluation crop.
  void check_file(const std::string& path, bool decode) const;

  std::vector<std::string> classes_;
  std::vector<ImageFile> files_;
  torch::Tensor labels_;
  ImagePipeline pipeline_;
  bool augment_;
  std::uint64_t seed_;
  std::vector<std::string> skipped_;  // --skip-bad-images
  std::string first_skipped_;
};

// --dataset image-folder: the split's folder (config.train_dir / val_dir, else data_dir/train and
// data_dir/val). The test split is absent (nullptr) when its folder does not exist.
std::shared_ptr<const Dataset> open_image_folder(const DataConfig& config, Split split);

}  // namespace trainer::data
