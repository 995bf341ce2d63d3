#include "data/fashion_mnist.h"
#include "data/filters.h"
#include "data/hdf5_dataset.h"
#include "data/registry.h"
#include "data/tensor_dataset.h"

#include "common/error.h"
#include "storage/tensor_file.h"

#include <gtest/gtest.h>

#include <limits>
#include <fstream>
#include <torch/torch.h>

namespace {

using trainer::data::DataConfig;
using trainer::data::Dataset;
using trainer::data::Split;
using trainer::data::TensorDataset;

std::string dataset_temp(const std::string& name) { return ::testing::TempDir() + "/dataset_test_" + name; }

std::shared_ptr<const Dataset> tiny(std::vector<std::int64_t> labels, std::int64_t classes) {
  const auto n = static_cast<std::int64_t>(labels.size());
  return std::make_shared<TensorDataset>(torch::arange(n, torch::kFloat32).view({n, 1, 1, 1}),
                                         torch::tensor(labels, torch::kInt64), classes);
}

// Every sample of a data set, in order, as one batch.
trainer::data::Batch all_of(const Dataset& d) { return trainer::data::batch_of_range(d, 0, d.size()); }

void write_arrays(const std::string& path, const torch::Tensor& images, const torch::Tensor& labels) {
  trainer::storage::NamedTensors arrays{{"images", images}};
  if (labels.defined()) arrays.emplace_back("labels", labels);
  trainer::storage::write_tensors(path, "", arrays);
}

TEST(SelectClasses, KeepsNamedClassesRelabeledInOrder) {
  auto s = trainer::data::select_classes(tiny({0, 6, 3, 6, 0, 9}, 10), {6, 0});
  EXPECT_EQ(s->num_classes(), 2);
  EXPECT_TRUE(s->labels().equal(torch::tensor({1, 0, 0, 1}, torch::kInt64)));
  EXPECT_TRUE(all_of(*s).labels.equal(torch::tensor({1, 0, 0, 1}, torch::kInt64)));
  EXPECT_TRUE(all_of(*s).images.flatten().equal(torch::tensor({0.f, 1.f, 3.f, 4.f})));
}

TEST(SelectClasses, RejectsUnknownDuplicateAndSingleClasses) {
  auto d = tiny({0, 1, 2}, 3);
  EXPECT_THROW(trainer::data::select_classes(d, {0, 3}), trainer::DataError);
  EXPECT_THROW(trainer::data::select_classes(d, {1, 1}), trainer::DataError);
  EXPECT_THROW(trainer::data::select_classes(d, {1}), trainer::DataError);
  EXPECT_THROW(trainer::data::select_classes(d, {-1, 0}), trainer::DataError);
}

TEST(TakeFirst, LimitsOnlyWhenSmaller) {
  auto d = tiny({0, 1, 0, 1}, 2);
  EXPECT_EQ(trainer::data::take_first(d, 3)->size(), 3);
  EXPECT_EQ(trainer::data::take_first(d, 10)->size(), 4);
  EXPECT_EQ(trainer::data::take_first(d, 0)->size(), 4);
}

TEST(Synthetic, IsSeededShapedAndSplitsDiffer) {
  DataConfig c;
  c.dataset = "synthetic";
  c.synthetic_shape = {3, 8, 6};
  c.synthetic_train_size = 50;
  c.synthetic_test_size = 20;
  c.synthetic_classes = 4;
  c.seed = 5;
  auto a = all_of(*trainer::data::make_dataset(c, Split::kTrain));
  auto b = all_of(*trainer::data::make_dataset(c, Split::kTrain));
  auto t = all_of(*trainer::data::make_dataset(c, Split::kTest));
  EXPECT_EQ(a.images.sizes(), (std::vector<std::int64_t>{50, 3, 8, 6}));
  EXPECT_EQ(t.labels.size(0), 20);
  EXPECT_TRUE(a.images.equal(b.images));
  EXPECT_LT(a.labels.max().item<std::int64_t>(), 4);
  EXPECT_FALSE(a.images.slice(0, 0, 20).equal(t.images));
}

TEST(Hdf5Dataset, ReadsUint8ImagesWithoutChannelAxisScaledToUnitRange) {
  const std::string path = dataset_temp("u8.h5");
  torch::Tensor pixels = torch::arange(4 * 5 * 5, torch::kInt64).remainder(256).to(torch::kUInt8).view({4, 5, 5});
  pixels[0][0][0] = 255;
  write_arrays(path, pixels, torch::tensor({0, 2, 1, 2}, torch::kInt64));
  auto d = trainer::data::open_hdf5_dataset(path);
  auto all = all_of(*d);
  EXPECT_EQ(all.images.sizes(), (std::vector<std::int64_t>{4, 1, 5, 5}));
  EXPECT_FLOAT_EQ(all.images[0][0][0][0].item<float>(), 1.0f);
  EXPECT_FLOAT_EQ(all.images[0][0][0][1].item<float>(), 1.0f / 255);
  EXPECT_EQ(d->num_classes(), 3);
  EXPECT_TRUE(all.labels.equal(torch::tensor({0, 2, 1, 2}, torch::kInt64)));
}

TEST(Hdf5Dataset, ABatchReadsItsRowsInAnyOrderAndNamesASampleWithNaN) {
  const std::string path = dataset_temp("rows.h5");
  torch::Tensor pixels = torch::arange(6 * 2 * 3, torch::kFloat32).view({6, 2, 3, 1});
  pixels[4][1][2][0] = std::numeric_limits<float>::quiet_NaN();
  write_arrays(path, pixels, torch::tensor({0, 1, 2, 0, 1, 2}, torch::kInt64));
  auto d = trainer::data::open_hdf5_dataset(path);  // the NaN is not read yet
  const std::vector<std::int64_t> rows{3, 0, 1, 2, 3, 5};  // runs, a repeat, out of order
  const auto batch = d->batch(rows, 0);
  for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_TRUE(batch.images[static_cast<std::int64_t>(i)].equal(pixels[rows[i]])) << i;
  EXPECT_TRUE(batch.labels.equal(torch::tensor({0, 0, 1, 2, 0, 2}, torch::kInt64)));
  try {
    d->batch(std::vector<std::int64_t>{1, 4}, 0);
    FAIL() << "no error";
  } catch (const trainer::DataError& e) {
    EXPECT_NE(std::string(e.what()).find(":/images: sample 4 holds NaN or infinite values"), std::string::npos) << e.what();
  }
}

TEST(Hdf5Dataset, FloatImagesAreUsedAsTheyAreAndNormalizeApplies) {
  const std::string path = dataset_temp("f64.h5");
  write_arrays(path, torch::tensor({-3.5, 0.0, 10.0, 2.0}, torch::kFloat64).view({2, 2, 1, 1}),
               torch::tensor({1, 0}, torch::kInt64));
  DataConfig c;
  c.dataset = "hdf5";
  c.data_file = path;
  auto d = all_of(*trainer::data::make_dataset(c, Split::kTrain));
  EXPECT_EQ(d.images.sizes(), (std::vector<std::int64_t>{2, 2, 1, 1}));
  EXPECT_FLOAT_EQ(d.images[0][0][0][0].item<float>(), -3.5f);
  EXPECT_EQ(trainer::data::make_dataset(c, Split::kTest), nullptr);  // no --test-data

  c.normalize = std::make_pair(2.0, 4.0);
  auto n = all_of(*trainer::data::make_dataset(c, Split::kTrain));
  EXPECT_FLOAT_EQ(n.images[1][0][0][0].item<float>(), 2.0f);  // (10 - 2) / 4
}

TEST(Hdf5Dataset, MalformedFilesAreDataErrorsNamingTheProblem) {
  auto message_of = [](const std::string& path) -> std::string {
    try {
      trainer::data::open_hdf5_dataset(path);
    } catch (const trainer::InputError& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string no_labels = dataset_temp("nolabels.h5");
  write_arrays(no_labels, torch::tensor({1.f, 2.f, 3.f, 4.f}).view({1, 2, 2}), torch::Tensor());
  EXPECT_NE(message_of(no_labels).find("no /labels"), std::string::npos);

  const std::string mismatch = dataset_temp("mismatch.h5");
  write_arrays(mismatch, torch::tensor({1.f, 2.f}).view({2, 1, 1}), torch::tensor({0, 1, 0}, torch::kInt64));
  EXPECT_NE(message_of(mismatch).find("holds 2 samples but /labels 3"), std::string::npos);

  const std::string float_labels = dataset_temp("floatlabels.h5");
  write_arrays(float_labels, torch::tensor({1.f, 2.f}).view({2, 1, 1}), torch::tensor({0.f, 1.f}));
  EXPECT_NE(message_of(float_labels).find("integer"), std::string::npos);

  const std::string not_hdf5 = dataset_temp("text.h5");
  std::ofstream(not_hdf5) << "hello";
  EXPECT_NE(message_of(not_hdf5).find("not an HDF5 file"), std::string::npos);
  EXPECT_NE(message_of(dataset_temp("absent.h5")).find("no such file"), std::string::npos);
}

TEST(FashionMnist, MissingDirectoryAndFilesAreDataErrors) {
  EXPECT_THROW(trainer::data::load_fashion_mnist("/nonexistent", Split::kTrain), trainer::DataError);
  EXPECT_THROW(trainer::data::load_fashion_mnist(::testing::TempDir(), Split::kTrain), trainer::DataError);
}

TEST(FashionMnist, RealTestSplitIsPaddedTo32AndBalanced) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  auto test = trainer::data::load_fashion_mnist(dir, Split::kTest);
  EXPECT_EQ(test->images().sizes(), (std::vector<std::int64_t>{10000, 1, 32, 32}));
  EXPECT_EQ(test->num_classes(), 10);
  EXPECT_TRUE(torch::bincount(test->labels()).equal(torch::full({10}, 1000, torch::kInt64)));
  EXPECT_EQ(test->images().select(2, 0).abs().sum().item<float>(), 0.f);  // the padding
  EXPECT_LE(test->images().max().item<float>(), 1.f);
}

}  // namespace
