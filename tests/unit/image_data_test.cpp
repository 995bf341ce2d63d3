// Image folders' pure parts: decoding errors, torchvision's crop and resize arithmetic, the
// per-sample random streams, and the batch loader's order, bound and error handling.
#include "common/error.h"
#include "data/image_decode.h"
#include "data/image_transforms.h"
#include "data/loader.h"
#include "data/pil_resize.h"
#include "data/tensor_dataset.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>

namespace trainer::data {
namespace {

std::string decode_error(const std::vector<std::uint8_t>& bytes) {
  try {
    decode_image_bytes(bytes, "x.img");
  } catch (const DataError& e) {
    return e.what();
  }
  return "no error";
}

TEST(DecodeImage, ForeignEmptyAndBrokenFilesAreDataErrorsNamingTheFile) {
  EXPECT_EQ(decode_error({}), "x.img: not a JPEG or PNG image (an empty file)");
  EXPECT_EQ(decode_error({'G', 'I', 'F', '8', '9', 'a'}), "x.img: not a JPEG or PNG image");
  EXPECT_NE(decode_error({0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10}).find("x.img: an unreadable"), std::string::npos);
  EXPECT_NE(decode_error({0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0}).find("x.img: an unreadable PNG"),
            std::string::npos);
  EXPECT_THROW(decode_image("/nonexistent/file.png"), DataError);
}

TEST(SampleRandom, APureFunctionOfSeedEpochAndIndex) {
  SampleRandom a(7, 2, 100), b(7, 2, 100), other_epoch(7, 3, 100), other_index(7, 2, 101), other_seed(8, 2, 100);
  const double first = a.uniform();
  EXPECT_EQ(first, b.uniform());
  EXPECT_NE(first, other_epoch.uniform());
  EXPECT_NE(first, other_index.uniform());
  EXPECT_NE(first, other_seed.uniform());
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const double u = a.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    const std::int64_t k = a.below(5);
    ASSERT_GE(k, 0);
    ASSERT_LT(k, 5);
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

TEST(RandomResizedCrop, BoxesFitTheImageWithinScaleAndRatio) {
  const ImagePipeline pipeline;  // scale 0.08-1, ratio 3/4-4/3
  for (std::int64_t index = 0; index < 2000; ++index) {
    SampleRandom random(1, 0, index);
    const CropBox box = random_resized_crop_box(60, 100, pipeline, random);
    ASSERT_GE(box.top, 0);
    ASSERT_GE(box.left, 0);
    ASSERT_LE(box.top + box.height, 60);
    ASSERT_LE(box.left + box.width, 100);
    const double share = static_cast<double>(box.height * box.width) / 6000.0;
    ASSERT_GT(share, 0.05);  // 0.08, less what rounding the sides takes off
    const double ratio = static_cast<double>(box.width) / static_cast<double>(box.height);
    if (share < 0.99) {
      ASSERT_NEAR(std::log(ratio), 0, std::log(4.0 / 3.0) + 0.25) << box.width << "x" << box.height;
    }
  }
}

TEST(RandomResizedCrop, FallsBackToTheCentredImageClampedToTheRatio) {
  ImagePipeline pipeline;
  pipeline.crop_scale = {0.99, 1.0};  // never fits a 10 x 1000 image at a ratio up to 4/3
  SampleRandom random(1, 0, 0);
  const CropBox box = random_resized_crop_box(10, 1000, pipeline, random);
  EXPECT_EQ(box.height, 10);
  EXPECT_EQ(box.width, 13);  // round(10 * 4/3)
  EXPECT_EQ(box.top, 0);
  EXPECT_EQ(box.left, (1000 - 13) / 2);
}

TEST(Resize, ShorterSideLikeTorchvision) {
  EXPECT_EQ(resized_size(375, 500, 256), std::make_pair(std::int64_t{256}, std::int64_t{341}));
  EXPECT_EQ(resized_size(500, 375, 256), std::make_pair(std::int64_t{341}, std::int64_t{256}));
  EXPECT_EQ(resized_size(40, 40, 32), std::make_pair(std::int64_t{32}, std::int64_t{32}));
}

// Expected pixels from Pillow 9.4 (Debian 12's python3-pil): Image.fromarray(a, "RGB") of the 5x7
// image below, .resize((3, 4), Image.BILINEAR) and .crop((1, 1, 6, 4)).resize((9, 5), Image.BILINEAR).
TEST(PilResize, PillowsPixelsShrinkingAndEnlargingACrop) {
  RgbImage image;
  image.height = 5;
  image.width = 7;
  for (int i = 0; i < 5 * 7 * 3; ++i) image.pixels.push_back(static_cast<std::uint8_t>(i * 37 % 256));
  const std::vector<std::uint8_t> shrunk{97,  79,  116, 139, 116, 93,  116, 153, 135, 108, 90,  127,
                                         150, 127, 104, 127, 164, 146, 118, 100, 137, 160, 137, 114,
                                         137, 174, 156, 88,  111, 148, 126, 103, 125, 148, 144, 98};
  EXPECT_EQ(pil_resize(image, 0, 0, 5, 7, 4, 3).pixels, shrunk);
  const RgbImage enlarged = pil_resize(image, 1, 1, 3, 5, 5, 9);
  ASSERT_EQ(enlarged.pixels.size(), 5u * 9 * 3);
  const std::vector<std::uint8_t> first_row{120, 157, 194, 157, 109, 146, 219, 28,  65,  167, 61,  98,  86, 123,
                                            160, 148, 185, 79,  181, 218, 27,  100, 137, 89,  52,  89,  126};
  EXPECT_EQ(std::vector<std::uint8_t>(enlarged.pixels.begin(), enlarged.pixels.begin() + 27), first_row);
  EXPECT_EQ(enlarged.pixels.back(), 144);
  // Nothing to resample: the region itself.
  const RgbImage same = pil_resize(image, 1, 2, 2, 3, 2, 3);
  EXPECT_EQ(same.pixels[0], image.pixels[(1 * 7 + 2) * 3]);
  EXPECT_THROW(pil_resize(image, 4, 0, 2, 7, 4, 4), std::invalid_argument);
}

TEST(EvalTransform, CentreCropNormalizedAndTooSmallImagesNamed) {
  ImagePipeline pipeline;
  pipeline.image_size = 4;
  pipeline.resize = 0;
  RgbImage image{6, 7, std::vector<std::uint8_t>(6 * 7 * 3)};
  for (std::int64_t y = 0; y < 6; ++y)
    for (std::int64_t x = 0; x < 7; ++x) image.pixels[static_cast<std::size_t>((y * 7 + x) * 3)] = 10 * y + x;
  const torch::Tensor out = eval_transform(image, pipeline, "a.png");
  ASSERT_EQ(out.sizes(), torch::IntArrayRef({3, 4, 4}));
  // CenterCrop: top round(2 / 2) = 1, left round(3 / 2) = 2 (halves to even).
  const double red = out[0][0][0].item<double>() * 0.229 + 0.485;
  EXPECT_NEAR(red * 255, 10 * 1 + 2, 1e-3);
  pipeline.image_size = 8;
  try {
    eval_transform(image, pipeline, "a.png");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "a.png: 7x6 is smaller than the crop 8x8");
  }
}

// Records how many batches were made; optionally fails at one index.
class CountingDataset : public TensorDataset {
 public:
  CountingDataset(std::int64_t size, std::int64_t failing)
      : TensorDataset(torch::arange(size, torch::kFloat32).view({size, 1, 1, 1}), torch::zeros({size}, torch::kInt64), 2),
        failing_(failing) {}
  Batch batch(torch::IntArrayRef indices, std::int64_t epoch) const override {
    ++made;
    for (std::int64_t i : indices)
      if (i == failing_) throw DataError("sample " + std::to_string(i) + " is bad");
    return TensorDataset::batch(indices, epoch);
  }
  mutable std::atomic<int> made{0};

 private:
  std::int64_t failing_;
};

TEST(BatchLoader, SameBatchesInOrderWhateverTheWorkers) {
  CountingDataset data(40, -1);
  std::vector<std::int64_t> order(40);
  std::iota(order.rbegin(), order.rend(), 0);
  for (std::int64_t workers : {0, 1, 3}) {
    std::vector<BatchRequest> requests;
    for (std::int64_t first = 0; first < 40; first += 7) requests.push_back({order.data() + first, std::min<std::int64_t>(7, 40 - first)});
    BatchLoader loader(data, requests, 0, workers, 2);
    for (const BatchRequest& r : requests) {
      const Batch batch = loader.next();
      ASSERT_EQ(batch.images.size(0), r.count);
      for (std::int64_t i = 0; i < r.count; ++i) ASSERT_EQ(batch.images[i].item<float>(), r.indices[i]) << workers;
    }
    EXPECT_THROW(loader.next(), std::logic_error);
  }
}

TEST(BatchLoader, MakesAtMostPrefetchBatchesAheadAndStopsWhenDestroyed) {
  CountingDataset data(100, -1);
  std::vector<std::int64_t> order(100);
  std::iota(order.begin(), order.end(), 0);
  std::vector<BatchRequest> requests;
  for (std::int64_t first = 0; first < 100; ++first) requests.push_back({order.data() + first, 1});
  // Waits until `count` batches are made (at most 10 s), then a little longer: no more may follow.
  auto made_settles_at = [&](int count) {
    for (int i = 0; i < 1000 && data.made.load() < count; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return data.made.load();
  };
  {
    BatchLoader loader(data, requests, 0, 2, 3);
    EXPECT_EQ(made_settles_at(3), 3);
    loader.next();
    EXPECT_EQ(made_settles_at(4), 4);
  }  // 96 batches never taken: the destructor must not wait for them
  EXPECT_LE(data.made.load(), 5);
}

TEST(BatchLoader, AnErrorSurfacesAtItsBatchAsWithoutWorkers) {
  CountingDataset data(20, 9);
  std::vector<std::int64_t> order(20);
  std::iota(order.begin(), order.end(), 0);
  for (std::int64_t workers : {0, 2}) {
    BatchLoader loader(data, {{order.data(), 5}, {order.data() + 5, 5}, {order.data() + 10, 5}}, 0, workers, 4);
    EXPECT_NO_THROW(loader.next());
    try {
      loader.next();
      FAIL() << "no error";
    } catch (const DataError& e) {
      EXPECT_STREQ(e.what(), "sample 9 is bad");
    }
    EXPECT_NO_THROW(loader.next());
  }
}

}  // namespace
}  // namespace trainer::data
