#include "data/image_decode.h"

#include "common/error.h"

#include <spng.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>

namespace trainer::data {
namespace {

bool starts_with(const std::vector<std::uint8_t>& bytes, std::initializer_list<std::uint8_t> magic) {
  return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
}
bool is_jpeg(const std::vector<std::uint8_t>& bytes) { return starts_with(bytes, {0xFF, 0xD8, 0xFF}); }
bool is_png(const std::vector<std::uint8_t>& bytes) {
  return starts_with(bytes, {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
}
DataError not_an_image(const std::string& name, const std::vector<std::uint8_t>& bytes) {
  return DataError(name + ": not a JPEG or PNG image" + (bytes.empty() ? " (an empty file)" : ""));
}

void check_size(std::int64_t height, std::int64_t width, std::int64_t max_pixels, const std::string& name) {
  if (height <= 0 || width <= 0) throw DataError(name + ": an unreadable image (its header gives no size)");
  if (height * width > max_pixels)
    throw DataError(name + ": an image of " + std::to_string(width) + "x" + std::to_string(height) +
                    " pixels is beyond what is decoded (" + std::to_string(max_pixels) + " pixels at most)");
}

RgbImage decode_jpeg(const std::vector<std::uint8_t>& bytes, const std::string& name, std::int64_t max_pixels) {
  const std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
  if (!handle) throw Error("TurboJPEG: cannot create a decompressor");
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  auto fail = [&](const char* what) {
    return DataError(name + ": " + what + " JPEG (" + tjGetErrorStr2(handle.get()) + ")");
  };
  if (tjDecompressHeader3(handle.get(), bytes.data(), bytes.size(), &width, &height, &subsampling, &colorspace) != 0)
    throw fail("an unreadable");
  // Past the limit, the largest DCT scaling that fits it (libjpeg-turbo decodes 1/2, 1/4, 1/8
  // directly); when none does, check_size refuses the image as it is.
  if (height > 0 && width > 0 && std::int64_t{height} * width > max_pixels) {
    int factors = 0;
    const tjscalingfactor* scaling = tjGetScalingFactors(&factors);
    const int full_width = width, full_height = height;
    std::int64_t best = 0;
    for (int i = 0; scaling != nullptr && i < factors; ++i) {
      const int w = TJSCALED(full_width, scaling[i]), h = TJSCALED(full_height, scaling[i]);
      if (scaling[i].num < scaling[i].denom && std::int64_t{w} * h <= max_pixels && std::int64_t{w} * h > best) {
        best = std::int64_t{w} * h;
        width = w;
        height = h;
      }
    }
  }
  check_size(height, width, max_pixels, name);
  RgbImage image{height, width, std::vector<std::uint8_t>(static_cast<std::size_t>(height) * width * 3)};
  const int flags = TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING;
  // Warnings (a truncated file, corrupt data) are errors: a half-grey image would train silently.
  if (colorspace != TJCS_CMYK && colorspace != TJCS_YCCK) {
    if (tjDecompress2(handle.get(), bytes.data(), bytes.size(), image.pixels.data(), width, 0, height, TJPF_RGB, flags) != 0)
      throw fail("a corrupt or truncated");
    return image;
  }
  // CMYK (print workflows): decoded as stored, then PIL's conversion. PIL takes a CMYK JPEG's
  // values as Adobe's inverted ones ("CMYK;I"), and convert("RGB") gives (255 - K) - C (255 - K) / 255
  // with its rounding (MULDIV255); on the stored values s: sK - (255 - sC) sK / 255.
  std::vector<std::uint8_t> cmyk(static_cast<std::size_t>(height) * width * 4);
  if (tjDecompress2(handle.get(), bytes.data(), bytes.size(), cmyk.data(), width, 0, height, TJPF_CMYK, flags) != 0)
    throw fail("a corrupt or truncated");
  const auto muldiv255 = [](int a, int b) {
    const int product = a * b + 128;
    return ((product >> 8) + product) >> 8;
  };
  for (std::size_t p = 0, pixels = static_cast<std::size_t>(height) * width; p < pixels; ++p) {
    const int nk = cmyk[4 * p + 3];
    for (int c = 0; c < 3; ++c)
      image.pixels[3 * p + c] = static_cast<std::uint8_t>(std::clamp(nk - muldiv255(255 - cmyk[4 * p + c], nk), 0, 255));
  }
  return image;
}

RgbImage decode_png(const std::vector<std::uint8_t>& bytes, const std::string& name, std::int64_t max_pixels) {
  const std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> context(spng_ctx_new(0), spng_ctx_free);
  if (!context) throw Error("libspng: cannot create a decoder");
  auto check = [&](int status, const char* what) {
    if (status != 0) throw DataError(name + ": " + what + " PNG (" + spng_strerror(status) + ")");
  };
  check(spng_set_png_buffer(context.get(), bytes.data(), bytes.size()), "an unreadable");
  // Ancillary chunks with bad CRCs are what PIL tolerates too; critical ones are errors.
  spng_set_crc_action(context.get(), SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
  spng_set_chunk_limits(context.get(), 1 << 26, 1 << 26);
  spng_ihdr header{};
  check(spng_get_ihdr(context.get(), &header), "an unreadable");
  check_size(header.height, header.width, max_pixels, name);
  // Deflate packs at most 1032 bytes into one: a header claiming more pixels than that lies.
  const double least_bytes = static_cast<double>(header.height) * header.width * (header.bit_depth < 8 ? 0.125 : 1);
  if (least_bytes > 1032.0 * static_cast<double>(bytes.size()))
    throw DataError(name + ": a PNG of " + std::to_string(header.width) + "x" + std::to_string(header.height) +
                    " pixels cannot fit in its " + std::to_string(bytes.size()) + " bytes (a truncated or crafted file)");
  std::size_t size = 0;
  check(spng_decoded_image_size(context.get(), SPNG_FMT_RGB8, &size), "an unsupported");
  RgbImage image{header.height, header.width, std::vector<std::uint8_t>(size)};
  if (size != image.pixels.size() || size != static_cast<std::size_t>(image.height * image.width * 3))
    throw DataError(name + ": an unsupported PNG layout");
  check(spng_decode_image(context.get(), image.pixels.data(), size, SPNG_FMT_RGB8, 0), "a corrupt or truncated");
  return image;
}

}  // namespace

RgbImage decode_image_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name,
                            std::int64_t max_pixels) {
  if (is_jpeg(bytes)) return decode_jpeg(bytes, name, max_pixels);
  if (is_png(bytes)) return decode_png(bytes, name, max_pixels);
  throw not_an_image(name, bytes);
}

namespace {

// The whole file, or its first `limit` bytes.
std::vector<std::uint8_t> read_bytes(const std::string& path, std::size_t limit) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw DataError(path + ": cannot open the image");
  std::vector<std::uint8_t> bytes;
  char buffer[65536];
  while (bytes.size() < limit && file.read(buffer, sizeof buffer).gcount() > 0)
    bytes.insert(bytes.end(), buffer, buffer + file.gcount());
  if (file.bad()) throw DataError(path + ": cannot read the image");
  if (bytes.size() > limit) bytes.resize(limit);
  return bytes;
}

}  // namespace

RgbImage decode_image(const std::string& path, std::int64_t max_pixels) {
  return decode_image_bytes(read_bytes(path, SIZE_MAX), path, max_pixels);
}

ImageSize read_image_size(const std::string& path) {
  // A JPEG's frame header follows its metadata (EXIF thumbnails, ICC profiles): rarely past 1 MB.
  const std::vector<std::uint8_t> bytes = read_bytes(path, 1 << 20);
  if (is_jpeg(bytes)) {
    const std::unique_ptr<void, int (*)(tjhandle)> handle(tjInitDecompress(), tjDestroy);
    int width = 0, height = 0, subsampling = 0, colorspace = 0;
    if (!handle || tjDecompressHeader3(handle.get(), bytes.data(), bytes.size(), &width, &height, &subsampling,
                                       &colorspace) != 0)
      throw DataError(path + ": an unreadable JPEG (" + (handle ? tjGetErrorStr2(handle.get()) : "no decoder") + ")");
    return {height, width};
  }
  if (is_png(bytes)) {
    const std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> context(spng_ctx_new(0), spng_ctx_free);
    spng_ihdr header{};
    int status = context ? spng_set_png_buffer(context.get(), bytes.data(), bytes.size()) : SPNG_EMEM;
    if (status == 0) status = spng_get_ihdr(context.get(), &header);
    if (status != 0) throw DataError(path + ": an unreadable PNG (" + spng_strerror(status) + ")");
    return {header.height, header.width};
  }
  throw not_an_image(path, bytes);
}

}  // namespace trainer::data
