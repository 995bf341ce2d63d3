#pragma once
// JPEG and PNG files decoded to 8-bit RGB, as torchvision's ImageFolder loads them (PIL's
// .convert("RGB")): grayscale is replicated into three channels, an alpha channel is dropped, and
// 16-bit PNG samples are scaled to 8 bits (PIL would clip them instead). The format is told by the
// file's first bytes, not its name. libjpeg-turbo's TurboJPEG API decodes JPEG with the accurate
// integer IDCT and fancy upsampling (PIL's libjpeg defaults); libspng decodes PNG. Torch-free.

#include <cstdint>
#include <string>
#include <vector>

namespace trainer::data {

struct RgbImage {
  std::int64_t height = 0, width = 0;
  std::vector<std::uint8_t> pixels;  // height x width x 3, row-major
};

// Throws DataError naming `path` for a file that cannot be read, is neither JPEG nor PNG, or is
// corrupt or truncated. Images of more than `max_pixels` pixels are refused before decoding.
RgbImage decode_image(const std::string& path, std::int64_t max_pixels = std::int64_t{1} << 28);

// Width and height from the file's header (its first bytes), without decoding; throws as above.
struct ImageSize {
  std::int64_t height = 0, width = 0;
};
ImageSize read_image_size(const std::string& path);

// The same from bytes already read; `name` is for messages.
RgbImage decode_image_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name,
                            std::int64_t max_pixels = std::int64_t{1} << 28);

}  // namespace trainer::data
