#include "data/image_folder.h"

#include "common/error.h"
#include "data/image_decode.h"
#include "data/image_transforms.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>

namespace trainer::data {
namespace {

namespace fs = std::filesystem;

bool is_image_name(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

// Every regular file under `folder`, sorted by path (os.walk with sorted names, as ImageFolder),
// following links to directories, but never into a directory already on the way down (a link
// loop, which would recurse until the path is too long).
std::vector<fs::path> files_under(const fs::path& folder) {
  std::vector<fs::path> files;
  std::error_code error;
  const auto cannot = [&](const fs::path& where, const std::error_code& why) {
    return DataError(where.string() + ": cannot list the folder (" + why.message() + ")");
  };
  std::vector<std::pair<fs::path, struct stat>> path_down;  // the directories from `folder` to the current one
  auto identity = [&](const fs::path& directory, struct stat& out) {
    if (::stat(directory.c_str(), &out) != 0) throw cannot(directory, std::error_code(errno, std::generic_category()));
  };
  struct stat top {};
  identity(folder, top);
  path_down.emplace_back(folder, top);
  fs::recursive_directory_iterator it(folder, fs::directory_options::follow_directory_symlink, error), end;
  for (; !error && it != end; it.increment(error)) {
    while (static_cast<int>(path_down.size()) > it.depth() + 1) path_down.pop_back();
    const fs::file_status status = it->status(error);
    if (error) {  // a dangling or looping link to nothing readable: not an image
      error.clear();
      continue;
    }
    if (fs::is_regular_file(status)) files.push_back(it->path());
    if (!fs::is_directory(status)) continue;
    struct stat here {};
    identity(it->path(), here);
    for (const auto& [above, seen] : path_down)
      if (seen.st_dev == here.st_dev && seen.st_ino == here.st_ino)
        throw DataError(it->path().string() + ": a link back to " + above.string() +
                        " (a loop: the image folder would never end)");
    path_down.emplace_back(it->path(), here);
  }
  if (error) throw cannot(folder, error);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

ImageFolderListing list_image_folder(const std::string& root, const std::vector<std::string>* classes) {
  std::error_code error;
  if (!fs::is_directory(root, error)) throw DataError(root + ": no such image folder");
  ImageFolderListing listing;
  for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error)) {
    std::error_code status_error;  // a dangling link is not a class
    if (it->is_directory(status_error)) listing.classes.push_back(it->path().filename().string());
  }
  if (error) throw DataError(root + ": cannot list the folder (" + error.message() + ")");
  std::sort(listing.classes.begin(), listing.classes.end());
  if (listing.classes.empty()) throw DataError(root + ": no class folders (expected " + root + "/<class>/<image>)");
  const std::vector<std::string>& labels = classes ? *classes : listing.classes;
  for (const auto& name : listing.classes) {
    const auto found = std::find(labels.begin(), labels.end(), name);
    if (found == labels.end())
      throw DataError(root + "/" + name + ": a class the training folder does not have");
    const std::int64_t label = found - labels.begin();
    std::size_t images = 0;
    for (const fs::path& file : files_under(fs::path(root) / name)) {
      if (!is_image_name(file)) {
        ++listing.ignored;
        continue;
      }
      listing.files.push_back({file.string(), label});
      ++images;
    }
    if (images == 0) throw DataError(root + "/" + name + ": an empty class folder (no .jpg, .jpeg or .png file)");
  }
  if (classes) listing.classes = *classes;
  return listing;
}

ImageFolderDataset::ImageFolderDataset(ImageFolderListing listing, const DataConfig& config, Split split)
    : classes_(std::move(listing.classes)),
      files_(std::move(listing.files)),
      pipeline_(config.images),
      augment_(split == Split::kTrain),
      seed_(config.seed) {
  std::vector<ImageFile> usable;
  std::vector<std::int64_t> labels;
  for (ImageFile& file : files_) {
    try {
      check_file(file.path, config.skip_bad_images);
    } catch (const DataError& e) {
      if (!config.skip_bad_images) throw;
      if (skipped_.empty()) first_skipped_ = e.what();
      skipped_.push_back(file.path);
      continue;
    }
    labels.push_back(file.label);
    usable.push_back(std::move(file));
  }
  if (usable.empty())
    throw DataError("no readable image among the " + std::to_string(files_.size()) + " listed (the first: " +
                    first_skipped_ + ")");
  files_ = std::move(usable);
  labels_ = torch::tensor(labels, torch::kInt64);
}

void ImageFolderDataset::check_file(const std::string& path, bool decode) const {
  ImageSize size;
  if (decode) {
    const RgbImage image = decode_image(path);
    size = {image.height, image.width};
  } else {
    size = read_image_size(path);
  }
  if (!augment_ && pipeline_.resize == 0 && (size.height < pipeline_.image_size || size.width < pipeline_.image_size))
    throw DataError(path + ": " + std::to_string(size.width) + "x" + std::to_string(size.height) +
                    " is smaller than the crop " + std::to_string(pipeline_.image_size) + " (--resize to scale it)");
}

std::vector<std::string> ImageFolderDataset::notes() const {
  if (skipped_.empty()) return {};
  return {"left out " + std::to_string(skipped_.size()) + " unreadable image(s) (--skip-bad-images), the first: " +
          first_skipped_};
}

std::vector<std::int64_t> ImageFolderDataset::sample_shape() const {
  return {3, pipeline_.image_size, pipeline_.image_size};
}

torch::Tensor ImageFolderDataset::sample(std::int64_t index, std::int64_t epoch) const {
  const ImageFile& file = files_[static_cast<std::size_t>(index)];
  const RgbImage image = decode_image(file.path);
  if (!augment_) return eval_transform(image, pipeline_, file.path);
  SampleRandom random(seed_, epoch, index);
  return train_transform(image, pipeline_, draw_augmentation(image.height, image.width, pipeline_, random));
}

TrainDraw ImageFolderDataset::augmentation(std::int64_t index, std::int64_t epoch) const {
  const ImageSize size = read_image_size(path(index));
  SampleRandom random(seed_, epoch, index);
  return draw_augmentation(size.height, size.width, pipeline_, random);
}

Batch ImageFolderDataset::batch(torch::IntArrayRef indices, std::int64_t epoch) const {
  const std::int64_t count = static_cast<std::int64_t>(indices.size());
  torch::Tensor images = torch::empty({count, 3, pipeline_.image_size, pipeline_.image_size});
  for (std::int64_t i = 0; i < count; ++i) images[i].copy_(sample(indices[static_cast<std::size_t>(i)], epoch));
  return {images, labels_.index_select(0, torch::tensor(indices, torch::kInt64))};
}

std::shared_ptr<const Dataset> open_image_folder(const DataConfig& config, Split split) {
  const std::string train_dir = config.train_dir.empty() ? config.data_dir + "/train" : config.train_dir;
  ImageFolderListing train = list_image_folder(train_dir);
  if (split == Split::kTrain) return std::make_shared<ImageFolderDataset>(std::move(train), config, split);
  const std::string val_dir = config.val_dir.empty() ? config.data_dir + "/val" : config.val_dir;
  std::error_code error;
  if (config.val_dir.empty() && !std::filesystem::exists(val_dir, error)) return nullptr;
  return std::make_shared<ImageFolderDataset>(list_image_folder(val_dir, &train.classes), config, split);
}

}  // namespace trainer::data
