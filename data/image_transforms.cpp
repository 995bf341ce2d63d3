#include "data/image_transforms.h"

#include "common/error.h"
#include "data/pil_resize.h"

#include <cmath>
#include <tuple>

namespace trainer::data {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Python's round(): halves to even, as torchvision's crop arithmetic does.
std::int64_t python_round(double value) { return static_cast<std::int64_t>(std::nearbyint(value)); }

// Rows [top, top + height) and columns [left, left + width) of an RGB image as a 1 x 3 x H x W
// float tensor of 0..255 values (a copy of those pixels only: the image may go).
torch::Tensor to_float(const RgbImage& image, std::int64_t top, std::int64_t left, std::int64_t height,
                       std::int64_t width) {
  const torch::Tensor hwc = torch::from_blob(const_cast<std::uint8_t*>(image.pixels.data()),
                                             {image.height, image.width, 3}, torch::kUInt8);
  return hwc.narrow(0, top, height).narrow(1, left, width).permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32);
}
torch::Tensor to_float(const RgbImage& image) { return to_float(image, 0, 0, image.height, image.width); }

// ToTensor + Normalize: 3 x H x W.
torch::Tensor to_normalized(const torch::Tensor& image, const ImagePipeline& pipeline) {
  const torch::Tensor mean = torch::tensor(pipeline.mean, torch::kFloat64).to(torch::kFloat32).view({3, 1, 1});
  const torch::Tensor std = torch::tensor(pipeline.std, torch::kFloat64).to(torch::kFloat32).view({3, 1, 1});
  return image.squeeze(0).div(255).sub_(mean).div_(std).contiguous();
}

}  // namespace

SampleRandom::SampleRandom(std::uint64_t seed, std::int64_t epoch, std::int64_t index) {
  std::uint64_t key = seed;
  state_ = splitmix64(key) ^ static_cast<std::uint64_t>(epoch);
  state_ = splitmix64(state_) ^ static_cast<std::uint64_t>(index);
  state_ = splitmix64(state_);
}

double SampleRandom::uniform() { return static_cast<double>(splitmix64(state_) >> 11) * 0x1.0p-53; }

std::int64_t SampleRandom::below(std::int64_t bound) {
  return std::min(bound - 1, static_cast<std::int64_t>(uniform() * static_cast<double>(bound)));
}

CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, const ImagePipeline& pipeline,
                                SampleRandom& random) {
  const double area = static_cast<double>(height * width);
  const double log_min = std::log(pipeline.crop_ratio.first), log_max = std::log(pipeline.crop_ratio.second);
  const auto [scale_min, scale_max] = pipeline.crop_scale;
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * (scale_min + (scale_max - scale_min) * random.uniform());
    const double aspect = std::exp(log_min + (log_max - log_min) * random.uniform());
    const std::int64_t w = python_round(std::sqrt(target_area * aspect));
    const std::int64_t h = python_round(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const std::int64_t top = random.below(height - h + 1);
      return {top, random.below(width - w + 1), h, w};
    }
  }
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  std::int64_t w = width, h = height;
  if (in_ratio < pipeline.crop_ratio.first) {
    h = python_round(static_cast<double>(w) / pipeline.crop_ratio.first);
  } else if (in_ratio > pipeline.crop_ratio.second) {
    w = python_round(static_cast<double>(h) * pipeline.crop_ratio.second);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

std::pair<std::int64_t, std::int64_t> resized_size(std::int64_t height, std::int64_t width, std::int64_t shorter) {
  if (width <= height) return {shorter * height / width, shorter};
  return {shorter, shorter * width / height};
}

TrainDraw draw_augmentation(std::int64_t height, std::int64_t width, const ImagePipeline& pipeline,
                            SampleRandom& random) {
  TrainDraw draw;
  draw.box = random_resized_crop_box(height, width, pipeline, random);
  draw.flip = random.uniform() < pipeline.hflip;
  return draw;
}

torch::Tensor train_transform(const RgbImage& image, const ImagePipeline& pipeline, const TrainDraw& draw) {
  const CropBox& box = draw.box;
  torch::Tensor out = to_float(pil_resize(image, box.top, box.left, box.height, box.width, pipeline.image_size,
                                          pipeline.image_size));
  if (draw.flip) out = out.flip({3});
  return to_normalized(out, pipeline);
}

torch::Tensor eval_transform(const RgbImage& image, const ImagePipeline& pipeline, const std::string& name) {
  std::int64_t height = image.height, width = image.width;
  RgbImage resized;
  if (pipeline.resize > 0) {
    std::tie(height, width) = resized_size(image.height, image.width, pipeline.resize);
    if (height * width > kMaxImagePixels)  // a long, thin image resized by its shorter side
      throw DataError(name + ": " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                      " resized to --resize " + std::to_string(pipeline.resize) + " is " + std::to_string(width) + "x" +
                      std::to_string(height) + ", more than " + std::to_string(kMaxImagePixels) + " pixels");
    resized = pil_resize(image, 0, 0, image.height, image.width, height, width);
  }
  const std::int64_t size = pipeline.image_size;
  if (height < size || width < size)
    throw DataError(name + ": " + std::to_string(width) + "x" + std::to_string(height) +
                    (pipeline.resize > 0 ? " after the resize" : "") + " is smaller than the crop " +
                    std::to_string(size) + "x" + std::to_string(size));
  const std::int64_t top = python_round(static_cast<double>(height - size) / 2.0);
  const std::int64_t left = python_round(static_cast<double>(width - size) / 2.0);
  // Cropped before the conversion to float: only the crop's pixels become floats.
  return to_normalized(to_float(pipeline.resize > 0 ? resized : image, top, left, size, size), pipeline);
}

}  // namespace trainer::data
