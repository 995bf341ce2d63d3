#include "models/registry.h"
#include "models/state_dict.h"

#include "common/error.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#ifndef TRAINER_FIXTURES_DIR
#error "TRAINER_FIXTURES_DIR must point at tests/fixtures"
#endif

namespace {

using trainer::models::make_model;
using trainer::models::ModelOptions;

std::string shape_text(const torch::Tensor& t) {
  if (t.dim() == 0) return "scalar";
  std::string text;
  for (auto s : t.sizes()) text += (text.empty() ? "" : "x") + std::to_string(s);
  return text;
}

std::string dtype_text(const torch::Tensor& t) {
  return t.scalar_type() == torch::kFloat32 ? "float32" : t.scalar_type() == torch::kInt64 ? "int64" : "other";
}

TEST(LeNet, StateDictNamesAndShapesAreNnSequentials) {
  auto model = make_model("lenet", ModelOptions{1, 10});
  std::vector<std::string> lines;
  for (const auto& [name, tensor] : trainer::models::state_dict(*model))
    lines.push_back(name + " " + shape_text(tensor));
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "features.0.weight 6x1x5x5", "features.0.bias 6",
                       "features.3.weight 16x6x5x5", "features.3.bias 16",
                       "classifier.0.weight 120x400", "classifier.0.bias 120",
                       "classifier.2.weight 84x120", "classifier.2.bias 84",
                       "classifier.4.weight 10x84", "classifier.4.bias 10"}));
}

TEST(LeNet, OptionsChangeInputChannelsAndClasses) {
  auto model = make_model("lenet", ModelOptions{3, 7});
  torch::Tensor logits = model->forward(torch::randn({5, 3, 32, 32}));
  EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{5, 7}));
  EXPECT_THROW(model->check_input_shape(3, 28, 28), trainer::ConfigError);
  EXPECT_THROW(model->check_input_shape(1, 32, 32), trainer::ConfigError);
  EXPECT_NO_THROW(model->check_input_shape(3, 32, 32));
}

TEST(ResNet18, StateDictMatchesTorchvisionFixture) {
  // tests/fixtures/resnet18_state_dict.txt was produced once from torchvision.models.resnet18():
  // "name dtype shape" per entry, in state_dict() order.
  std::ifstream fixture(std::string(TRAINER_FIXTURES_DIR) + "/resnet18_state_dict.txt");
  ASSERT_TRUE(fixture) << "fixture missing";
  std::vector<std::string> expected;
  for (std::string line; std::getline(fixture, line);) expected.push_back(line);
  ASSERT_EQ(expected.size(), 122u);

  auto model = make_model("resnet18", ModelOptions{3, 1000});
  std::vector<std::string> actual;
  for (const auto& [name, tensor] : trainer::models::state_dict(*model))
    actual.push_back(name + " " + dtype_text(tensor) + " " + shape_text(tensor));
  EXPECT_EQ(actual, expected);
}

TEST(ResNet18, ForwardShapesForSmallAndGrayImages) {
  auto model = make_model("resnet18", ModelOptions{1, 10});
  model->eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(model->forward(torch::randn({2, 1, 32, 32})).sizes(), (std::vector<std::int64_t>{2, 10}));
  EXPECT_EQ(model->forward(torch::randn({1, 1, 28, 28})).sizes(), (std::vector<std::int64_t>{1, 10}));
  EXPECT_THROW(model->check_input_shape(3, 32, 32), trainer::ConfigError);
}

TEST(ResNet18, InitializationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = make_model("resnet18", ModelOptions{3, 10});
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, tensor] : trainer::models::state_dict(*model)) tensors[name] = tensor;
  EXPECT_TRUE(tensors["bn1.weight"].eq(1).all().item<bool>());
  EXPECT_TRUE(tensors["layer2.0.downsample.1.bias"].eq(0).all().item<bool>());
  // kaiming_normal_(fan_out, relu): std = sqrt(2 / (out_channels * k * k)).
  const double expected_std = std::sqrt(2.0 / (64 * 7 * 7));
  EXPECT_NEAR(tensors["conv1.weight"].std().item<double>(), expected_std, expected_std * 0.05);
}

TEST(Registry, UnknownNamesAndBadOptionsAreConfigErrors) {
  EXPECT_THROW(make_model("vgg", ModelOptions{}), trainer::ConfigError);
  EXPECT_THROW(make_model("lenet", ModelOptions{0, 10}), trainer::ConfigError);
  EXPECT_THROW(make_model("lenet", ModelOptions{1, 1}), trainer::ConfigError);
  EXPECT_EQ(trainer::models::model_names(), (std::vector<std::string>{"lenet", "resnet18"}));
}

}  // namespace
