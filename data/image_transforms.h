#pragma once
// torchvision's image transforms with its parameters and semantics, on decoded RGB images:
// RandomResizedCrop, RandomHorizontalFlip, Resize (shorter side), CenterCrop, ToTensor, Normalize.
// Resampling is PIL's bilinear resize to the bit (data/pil_resize.h), as torchvision applies it to
// the PIL images ImageFolder loads. Random draws come from a SampleRandom seeded by
// (seed, epoch, index), so a sample's augmentation does not depend on who computes it or when.

#include "data/config.h"
#include "data/image_decode.h"

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace trainer::data {

// A counter-based stream of uniform draws (SplitMix64 over the key): cheap to create per sample.
class SampleRandom {
 public:
  SampleRandom(std::uint64_t seed, std::int64_t epoch, std::int64_t index);
  double uniform();                          // [0, 1)
  std::int64_t below(std::int64_t bound);    // [0, bound)

 private:
  std::uint64_t state_;
};

struct CropBox {
  std::int64_t top = 0, left = 0, height = 0, width = 0;
};

// torchvision's RandomResizedCrop.get_params: ten tries at an area in `scale` and an aspect ratio
// log-uniform in `ratio`, else the whole image clamped to `ratio`, centered.
CropBox random_resized_crop_box(std::int64_t height, std::int64_t width, const ImagePipeline& pipeline,
                                SampleRandom& random);

// torchvision's Resize(size) for one int: the shorter side becomes `shorter`, the longer one
// int(shorter * long / short). Returns {height, width}.
std::pair<std::int64_t, std::int64_t> resized_size(std::int64_t height, std::int64_t width, std::int64_t shorter);

// One sample's random augmentation, drawn in torchvision's order: the crop, then the flip.
struct TrainDraw {
  CropBox box;
  bool flip = false;
};
TrainDraw draw_augmentation(std::int64_t height, std::int64_t width, const ImagePipeline& pipeline,
                            SampleRandom& random);

// The training pipeline with given draws: a float32 tensor 3 x image_size x image_size, normalized.
torch::Tensor train_transform(const RgbImage& image, const ImagePipeline& pipeline, const TrainDraw& draw);

// The evaluation pipeline. Throws DataError naming `name` for an image smaller than the crop.
torch::Tensor eval_transform(const RgbImage& image, const ImagePipeline& pipeline, const std::string& name);

}  // namespace trainer::data
