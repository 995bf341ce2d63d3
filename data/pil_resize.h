#pragma once
// PIL's bilinear resize of 8-bit RGB images, to the bit: what torchvision's Resize and
// RandomResizedCrop do to the PIL images ImageFolder loads. Pillow (src/libImaging/Resample.c)
// resamples in two separable passes, horizontal first, with a triangle filter widened by the
// scale when shrinking (antialiasing), coefficients in fixed point with 22 fraction bits, and
// rounds to 8 bits between the passes. LibTorch's antialiased interpolate computes the same filter
// in floating point without that rounding: 12 % of the values ended a level of 255 apart. Torch-free.

#include "data/image_decode.h"

#include <cstdint>

namespace trainer::data {

// The region [top, top + height) x [left, left + width) of `image` resized to out_height x
// out_width (PIL: image.crop(box).resize(size, Image.BILINEAR)). The region must lie in the image.
RgbImage pil_resize(const RgbImage& image, std::int64_t top, std::int64_t left, std::int64_t height,
                    std::int64_t width, std::int64_t out_height, std::int64_t out_width);

}  // namespace trainer::data
