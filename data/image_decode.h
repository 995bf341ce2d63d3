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

// PIL's default limit (Image.MAX_IMAGE_PIXELS, 1024^3 / 4 / 3): 268 MB decoded. Beyond it PIL
// warns, and refuses past twice as many pixels.
inline constexpr std::int64_t kMaxImagePixels = 89478485;

// Throws DataError naming `path` for a file that cannot be read, is neither JPEG nor PNG, or is
// corrupt or truncated. Sizes are checked before anything is allocated: a PNG of more than
// `max_pixels` pixels, or whose pixels could not fit in its bytes (deflate packs at most 1032 to
// 1), is refused; a JPEG of more is decoded scaled down by libjpeg-turbo's DCT scaling (1/2, 1/4,
// 1/8: where PIL would refuse, not what it decodes) to fit.
RgbImage decode_image(const std::string& path, std::int64_t max_pixels = kMaxImagePixels);

// Width and height from the file's header (its first bytes), without decoding; throws as above.
struct ImageSize {
  std::int64_t height = 0, width = 0;
};
ImageSize read_image_size(const std::string& path);

// The same from bytes already read; `name` is for messages.
RgbImage decode_image_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name,
                            std::int64_t max_pixels = kMaxImagePixels);

}  // namespace trainer::data
