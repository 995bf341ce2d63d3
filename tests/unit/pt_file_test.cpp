// torch.save files written by Python (fixtures made by tests/fixtures/make_pt_fixtures.py): they
// load by name into our LeNet and give Python's logits; hostile or broken files are clear errors.

#include "models/registry.h"
#include "models/state_dict.h"
#include "storage/tensor_file.h"
#include "storage/key_names.h"
#include "storage/pickle_reader.h"
#include "storage/pt_file.h"
#include "trainer/weights.h"

#include "common/error.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace {

const std::string kFixtures = TRAINER_FIXTURES_DIR;

torch::Tensor read_h5(const std::string& dataset) {
  return trainer::storage::read_tensor(kFixtures + "/lenet_io.h5", dataset).to(torch::kFloat32);
}

void expect_python_logits(const std::string& file, const std::string& stripped, const std::string& kind) {
  const trainer::WeightSource source = trainer::read_weights(kFixtures + "/" + file);
  EXPECT_EQ(source.stripped_prefix, stripped);
  EXPECT_EQ(source.kind, kind);
  auto model = trainer::models::make_model("lenet", {1, 10});
  auto report = trainer::load_weights(trainer::models::state_dict(*model), source, /*strict=*/true);
  EXPECT_EQ(report.loaded, 10u);
  model->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor logits = model->forward(read_h5("/input"));
  torch::Tensor expected = read_h5("/logits");
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-5, 1e-6)) << (logits - expected).abs().max().item<float>();
}

TEST(PtFile, PlainStateDictGivesPythonsLogits) { expect_python_logits("lenet_plain.pt", "", "torch.save file"); }

TEST(PtFile, DataParallelStateDictIsNormalized) {
  expect_python_logits("lenet_dataparallel.pt", "module.", "torch.save file");
}

TEST(PtFile, TutorialCheckpointDict) {
  expect_python_logits("lenet_checkpoint.pt", "", "torch.save checkpoint dict (model_state_dict)");
  EXPECT_EQ(trainer::read_weights(kFixtures + "/lenet_checkpoint.pt").epoch, 7);
}

TEST(PtFile, StrictLoadingNamesWhatDoesNotFit) {
  const auto source = trainer::read_weights(kFixtures + "/lenet_plain.pt");
  auto other = trainer::models::make_model("lenet", {1, 7});  // another head
  try {
    trainer::load_weights(trainer::models::state_dict(*other), source, true);
    FAIL() << "a 10-class state dict loaded into a 7-class model";
  } catch (const trainer::CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("shape mismatch classifier.4.weight ([10, 84] in the file, [7, 84] in the model)"),
              std::string::npos) << e.what();
  }
  auto resnet = trainer::models::make_model("resnet18", {1, 10});
  EXPECT_THROW(trainer::load_weights(trainer::models::state_dict(*resnet), source, true), trainer::CheckpointError);
  auto report = trainer::load_weights(trainer::models::state_dict(*other), source, false);
  EXPECT_EQ(report.loaded, 8u);  // all but classifier.4.weight and classifier.4.bias
  EXPECT_EQ(report.mismatched.size(), 2u);
}

TEST(KeyNames, StripsWrapperPrefixesOnlyWhenEveryKeyHasThem) {
  using trainer::storage::normalize_wrapper_prefixes;
  auto dp = normalize_wrapper_prefixes({"module.fc.weight", "module.fc.bias"});
  EXPECT_EQ(dp.names, (std::vector<std::string>{"fc.weight", "fc.bias"}));
  EXPECT_EQ(dp.stripped, "module.");
  auto nested = normalize_wrapper_prefixes({"module._orig_mod.a", "module._orig_mod.b"});
  EXPECT_EQ(nested.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(nested.stripped, "module._orig_mod.");
  auto mixed = normalize_wrapper_prefixes({"module.a", "b"});  // a submodule named "module"
  EXPECT_EQ(mixed.names, (std::vector<std::string>{"module.a", "b"}));
  EXPECT_EQ(mixed.stripped, "");
  EXPECT_TRUE(normalize_wrapper_prefixes({}).names.empty());
}

// Pickle bytes from a literal that may hold NUL bytes.
template <std::size_t N>
std::string bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

std::string unpickle_error(const std::string& bytes) {
  try {
    trainer::storage::unpickle(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "test.pkl");
  } catch (const trainer::StorageError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Pickle, NeverRunsCodeFromTheFile) {
  // The classic: os.system("echo pwned") through GLOBAL + REDUCE.
  const std::string exploit = std::string("\x80\x02" "cos\nsystem\n" "X\x0a\x00\x00\x00" "echo pwned" "\x85R.", 31);
  EXPECT_NE(unpickle_error(exploit).find("refusing to load os.system"), std::string::npos) << unpickle_error(exploit);
  const std::string builtins = "\x80\x02" "c__builtin__\neval\n.";
  EXPECT_NE(unpickle_error(builtins).find("refusing to load __builtin__.eval"), std::string::npos);
}

TEST(Pickle, MalformedInputIsAnErrorNotACrash) {
  EXPECT_NE(unpickle_error("").find("ends without STOP"), std::string::npos);
  EXPECT_NE(unpickle_error(bytes("\x80\x02}q\x00")).find("ends without STOP"), std::string::npos);
  EXPECT_NE(unpickle_error("\x80\x02h\x05.").find("memo entry 5 missing"), std::string::npos);
  EXPECT_NE(unpickle_error("\x80\x02s.").find("underflow"), std::string::npos);
  EXPECT_NE(unpickle_error(std::string("\x80\x02X\xff\xff\xff\x7f", 7)).find("past the end"), std::string::npos);
  EXPECT_NE(unpickle_error("\x80\x02\xff.").find("opcode 0xff"), std::string::npos);
  // A self-containing list: a cycle that must neither leak nor loop.
  EXPECT_EQ(unpickle_error(bytes("\x80\x02]q\x00h\x00" "a.")), "no error");
}

TEST(PtFile, TruncatedAndForeignFilesAreStorageErrors) {
  const std::string cut = ::testing::TempDir() + "/truncated.pt";
  {
    std::ifstream in(kFixtures + "/lenet_plain.pt", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  EXPECT_THROW(trainer::read_weights(cut), trainer::StorageError);
  const std::string text = ::testing::TempDir() + "/text.pt";
  std::ofstream(text) << "PK\x03\x04 but not a zip";
  EXPECT_THROW(trainer::read_weights(text), trainer::StorageError);
  EXPECT_THROW(trainer::read_weights(::testing::TempDir() + "/absent.pt"), trainer::StorageError);
}

}  // namespace
