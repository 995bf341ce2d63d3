// Our networks against PyTorch's: the same state dict must load by name and give the same logits.
// The fixture is written by tests/integration/make_interop_fixtures.py (CTest runs it first).

#include "models/registry.h"
#include "models/state_dict.h"
#include "storage/tensor_file.h"
#include "trainer/weights.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>

namespace {

std::string fixture_path() {
  const char* dir = std::getenv("TRAINER_INTEROP_DIR");
  return dir ? std::string(dir) + "/models.h5" : "";
}

torch::Tensor read_tensor(const std::string& path, const std::string& name, const torch::Tensor& like) {
  return trainer::storage::read_tensor(path, name).to(like.scalar_type() == torch::kInt64 ? torch::kInt64 : torch::kFloat32);
}

void expect_same_logits(const std::string& model_name, std::int64_t in_channels) {
  const std::string path = fixture_path();
  ASSERT_FALSE(path.empty()) << "TRAINER_INTEROP_DIR is not set";
  const std::string& file = path;
  auto model = trainer::models::make_model(model_name, {in_channels, 10});

  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : trainer::models::state_dict(*model)) {
    const std::string dataset = "/" + model_name + "/state/" + name;
    ASSERT_TRUE(trainer::storage::has_tensor(file, dataset)) << "PyTorch has no " << name;
    torch::Tensor theirs = read_tensor(file, dataset, tensor);
    ASSERT_EQ(theirs.sizes(), tensor.sizes()) << name;
    tensor.copy_(theirs);
  }

  model->eval();
  torch::Tensor input = read_tensor(file, "/" + model_name + "/input", torch::empty({0}));
  torch::Tensor expected = read_tensor(file, "/" + model_name + "/logits", torch::empty({0}));
  torch::Tensor actual = model->forward(input);
  EXPECT_TRUE(torch::allclose(actual, expected, /*rtol=*/1e-4, /*atol=*/1e-4))
      << "max difference " << (actual - expected).abs().max().item<float>();
}

// A seed gives PyTorch's initial weights, bit for bit: the layers draw from the generator in
// PyTorch's order whatever the compiler.
void expect_same_initial_weights(const std::string& model_name, std::int64_t in_channels) {
  const std::string path = fixture_path();
  ASSERT_FALSE(path.empty()) << "TRAINER_INTEROP_DIR is not set";
  torch::manual_seed(7);
  auto model = trainer::models::make_model(model_name, {in_channels, 10});
  for (auto& [name, tensor] : trainer::models::state_dict(*model)) {
    const torch::Tensor theirs = read_tensor(path, "/" + model_name + "/seed7/" + name, tensor);
    EXPECT_TRUE(theirs.equal(tensor)) << model_name << " " << name << ": largest difference "
                                      << (theirs.to(torch::kFloat64) - tensor.to(torch::kFloat64)).abs().max().item<double>();
  }
}

TEST(PyTorchParity, LeNetGivesPyTorchsLogits) { expect_same_logits("lenet", 1); }

TEST(PyTorchParity, ASeedGivesLeNetPyTorchsInitialWeights) { expect_same_initial_weights("lenet", 1); }

TEST(PyTorchParity, ASeedGivesResNet18TorchvisionsInitialWeights) { expect_same_initial_weights("resnet18", 3); }

TEST(PyTorchParity, ResNet18GivesTorchvisionsLogits) { expect_same_logits("resnet18", 3); }

// torch.save of a DataParallel-wrapped torchvision ResNet-18, read by our own .pt reader.
TEST(PyTorchParity, DataParallelResNet18FileGivesTorchvisionsLogits) {
  const char* dir = std::getenv("TRAINER_INTEROP_DIR");
  ASSERT_NE(dir, nullptr);
  const trainer::WeightSource source = trainer::read_weights(std::string(dir) + "/resnet18_dataparallel.pt");
  EXPECT_EQ(source.stripped_prefix, "module.");
  auto model = trainer::models::make_model("resnet18", {3, 10});
  trainer::load_weights(trainer::models::state_dict(*model), source, /*strict=*/true);
  model->eval();
  torch::NoGradGuard no_grad;
  const std::string file = std::string(dir) + "/resnet18_dp_io.h5";
  torch::Tensor input = read_tensor(file, "/resnet18/input", torch::empty({0}));
  torch::Tensor expected = read_tensor(file, "/resnet18/logits", torch::empty({0}));
  torch::Tensor actual = model->forward(input);
  EXPECT_TRUE(torch::allclose(actual, expected, 1e-4, 1e-4)) << (actual - expected).abs().max().item<float>();
}

}  // namespace
