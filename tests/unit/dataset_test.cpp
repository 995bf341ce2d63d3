#include "trainer/dataset.h"

#include "common/error.h"
#include "storage/h5.h"

#include <gtest/gtest.h>
#include <fstream>
#include <torch/torch.h>

namespace {

using trainer::DataConfig;
using trainer::Split;
using trainer::TensorDataset;

std::string temp(const std::string& name) { return ::testing::TempDir() + "/dataset_test_" + name; }

TensorDataset tiny(std::vector<std::int64_t> labels, std::int64_t classes) {
  TensorDataset d;
  const auto n = static_cast<std::int64_t>(labels.size());
  d.images = torch::arange(n, torch::kFloat32).view({n, 1, 1, 1});
  d.labels = torch::tensor(labels, torch::kInt64);
  d.num_classes = classes;
  return d;
}

TEST(SelectClasses, KeepsNamedClassesRelabeledInOrder) {
  TensorDataset d = tiny({0, 6, 3, 6, 0, 9}, 10);
  TensorDataset s = trainer::select_classes(d, {6, 0});
  EXPECT_EQ(s.num_classes, 2);
  EXPECT_TRUE(s.labels.equal(torch::tensor({1, 0, 0, 1}, torch::kInt64)));
  EXPECT_TRUE(s.images.flatten().equal(torch::tensor({0.f, 1.f, 3.f, 4.f})));
}

TEST(SelectClasses, RejectsUnknownDuplicateAndSingleClasses) {
  TensorDataset d = tiny({0, 1, 2}, 3);
  EXPECT_THROW(trainer::select_classes(d, {0, 3}), trainer::DataError);
  EXPECT_THROW(trainer::select_classes(d, {1, 1}), trainer::DataError);
  EXPECT_THROW(trainer::select_classes(d, {1}), trainer::DataError);
  EXPECT_THROW(trainer::select_classes(d, {-1, 0}), trainer::DataError);
}

TEST(TakeFirst, LimitsOnlyWhenSmaller) {
  TensorDataset d = tiny({0, 1, 0, 1}, 2);
  EXPECT_EQ(trainer::take_first(d, 3).size(), 3);
  EXPECT_EQ(trainer::take_first(d, 10).size(), 4);
  EXPECT_EQ(trainer::take_first(d, 0).size(), 4);
}

TEST(Synthetic, IsSeededShapedAndSplitsDiffer) {
  DataConfig c;
  c.dataset = "synthetic";
  c.synthetic_shape = {3, 8, 6};
  c.synthetic_train_size = 50;
  c.synthetic_test_size = 20;
  c.synthetic_classes = 4;
  c.seed = 5;
  TensorDataset a = trainer::load_dataset(c, Split::kTrain);
  TensorDataset b = trainer::load_dataset(c, Split::kTrain);
  TensorDataset t = trainer::load_dataset(c, Split::kTest);
  EXPECT_EQ(a.images.sizes(), (std::vector<std::int64_t>{50, 3, 8, 6}));
  EXPECT_EQ(t.size(), 20);
  EXPECT_TRUE(a.images.equal(b.images));
  EXPECT_LT(a.labels.max().item<std::int64_t>(), 4);
  EXPECT_FALSE(a.images.slice(0, 0, 20).equal(t.images));
}

TEST(Hdf5Dataset, ReadsUint8ImagesWithoutChannelAxisScaledToUnitRange) {
  const std::string path = temp("u8.h5");
  {
    auto f = trainer::storage::File::create(path);
    std::vector<std::uint8_t> pixels(4 * 5 * 5);
    for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i % 256);
    pixels[0] = 255;
    f.write<std::uint8_t>("/images", {4, 5, 5}, pixels);
    f.write<std::int64_t>("/labels", {4}, {0, 2, 1, 2});
  }
  TensorDataset d = trainer::load_hdf5_dataset(path);
  EXPECT_EQ(d.images.sizes(), (std::vector<std::int64_t>{4, 1, 5, 5}));
  EXPECT_FLOAT_EQ(d.images[0][0][0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(d.images[0][0][0][1].item<float>(), 1.0f / 255);
  EXPECT_EQ(d.num_classes, 3);
  EXPECT_TRUE(d.labels.equal(torch::tensor({0, 2, 1, 2}, torch::kInt64)));
}

TEST(Hdf5Dataset, FloatImagesAreUsedAsTheyAreAndNormalizeApplies) {
  const std::string path = temp("f64.h5");
  {
    auto f = trainer::storage::File::create(path);
    f.write<double>("/images", {2, 2, 1, 1}, {-3.5, 0.0, 10.0, 2.0});
    f.write<std::int64_t>("/labels", {2}, {1, 0});
  }
  DataConfig c;
  c.dataset = "hdf5";
  c.data_file = path;
  TensorDataset d = trainer::load_dataset(c, Split::kTrain);
  EXPECT_EQ(d.images.sizes(), (std::vector<std::int64_t>{2, 2, 1, 1}));
  EXPECT_FLOAT_EQ(d.images[0][0][0][0].item<float>(), -3.5f);
  EXPECT_EQ(trainer::load_dataset(c, Split::kTest).size(), 0);  // no --test-data

  c.normalize = std::make_pair(2.0, 4.0);
  TensorDataset n = trainer::load_dataset(c, Split::kTrain);
  EXPECT_FLOAT_EQ(n.images[1][0][0][0].item<float>(), 2.0f);  // (10 - 2) / 4
}

TEST(Hdf5Dataset, MalformedFilesAreDataErrorsNamingTheProblem) {
  auto message_of = [](const std::string& path) -> std::string {
    try {
      trainer::load_hdf5_dataset(path);
    } catch (const trainer::InputError& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string no_labels = temp("nolabels.h5");
  trainer::storage::File::create(no_labels).write<float>("/images", {1, 2, 2}, {1, 2, 3, 4});
  EXPECT_NE(message_of(no_labels).find("no /labels"), std::string::npos);

  const std::string mismatch = temp("mismatch.h5");
  {
    auto f = trainer::storage::File::create(mismatch);
    f.write<float>("/images", {2, 1, 1}, {1, 2});
    f.write<std::int64_t>("/labels", {3}, {0, 1, 0});
  }
  EXPECT_NE(message_of(mismatch).find("holds 2 samples but /labels 3"), std::string::npos);

  const std::string float_labels = temp("floatlabels.h5");
  {
    auto f = trainer::storage::File::create(float_labels);
    f.write<float>("/images", {2, 1, 1}, {1, 2});
    f.write<float>("/labels", {2}, {0, 1});
  }
  EXPECT_NE(message_of(float_labels).find("integer"), std::string::npos);

  const std::string not_hdf5 = temp("text.h5");
  std::ofstream(not_hdf5) << "hello";
  EXPECT_NE(message_of(not_hdf5).find("not an HDF5 file"), std::string::npos);
  EXPECT_NE(message_of(temp("absent.h5")).find("no such file"), std::string::npos);
}

TEST(FashionMnist, MissingDirectoryAndFilesAreDataErrors) {
  EXPECT_THROW(trainer::load_fashion_mnist("/nonexistent", Split::kTrain), trainer::DataError);
  EXPECT_THROW(trainer::load_fashion_mnist(::testing::TempDir(), Split::kTrain), trainer::DataError);
}

TEST(FashionMnist, RealTestSplitIsPaddedTo32AndBalanced) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  TensorDataset test = trainer::load_fashion_mnist(dir, Split::kTest);
  EXPECT_EQ(test.images.sizes(), (std::vector<std::int64_t>{10000, 1, 32, 32}));
  EXPECT_EQ(test.num_classes, 10);
  EXPECT_TRUE(torch::bincount(test.labels).equal(torch::full({10}, 1000, torch::kInt64)));
  EXPECT_EQ(test.images.select(2, 0).abs().sum().item<float>(), 0.f);  // the padding
  EXPECT_LE(test.images.max().item<float>(), 1.f);
}

}  // namespace
