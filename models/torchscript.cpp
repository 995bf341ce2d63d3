#include "models/torchscript.h"

#include "common/error.h"
#include "models/registry.h"
#include "storage/pt_file.h"
#include "storage/torchscript_archive.h"

#include <openssl/evp.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

namespace trainer::models {
namespace {

// SHA-256 of the file, as lowercase hex (OpenSSL's EVP digest: a well-kept implementation).
std::string sha256_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("--model " + path + ": cannot open the file");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: SHA-256 unavailable");
  std::vector<char> buffer(1 << 20);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0)
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<std::size_t>(in.gcount()));
  if (in.bad()) throw ConfigError("--model " + path + ": read error");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", digest[i]);
    hex += byte;
  }
  return hex;
}

torch::jit::Module load_archive(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error))
    throw ConfigError("--model " + path + ": neither a built-in model (" + model_list() + ") nor a file");
  if (!std::filesystem::is_regular_file(path, error))  // a FIFO would block in open()
    throw ConfigError("--model " + path + ": not a regular file");
  // LibTorch's loader trusts the sizes an archive declares; ours are checked first.
  if (storage::is_torchscript_archive(path)) try {
      storage::check_torchscript_archive(path);
    } catch (const StorageError& e) {
      throw ConfigError(std::string("--model ") + e.what());
    }
  try {
    return torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    if (what.find("constants.pkl") != std::string::npos)
      throw ConfigError("--model " + path + ": a torch.save file, not a TorchScript archive; save the model with "
                        "torch.jit.script(model).save(path) (or torch.jit.trace)");
    throw ConfigError("--model " + path + ": not a TorchScript archive (" + first_line(what) + ")");
  } catch (const std::exception& e) {  // the archive's own parsers (code, pickles) throw other types
    throw ConfigError("--model " + path + ": a damaged TorchScript archive (" + first_line(e.what()) + ")");
  }
}

// The line of an error that says what went wrong: for the TorchScript interpreter's reports, which
// begin with "The following operation failed..." and a traceback, the last one.
std::string error_line(const std::string& what) {
  if (what.find("The following operation failed in the TorchScript interpreter") == std::string::npos)
    return first_line(what);
  std::string last, line;
  for (std::size_t start = 0; start < what.size();) {
    const std::size_t end = std::min(what.find('\n', start), what.size());
    line = what.substr(start, end - start);
    if (line.find_first_not_of(" \t") != std::string::npos) last = line.substr(line.find_first_not_of(" \t"));
    start = end + 1;
  }
  return last;
}

void check_forward_signature(const torch::jit::Module& module, const std::string& path) {
  const auto method = module.find_method("forward");
  if (!method) throw ConfigError("--model " + path + ": the module has no forward method");
  const c10::FunctionSchema& schema = method->function().getSchema();
  const auto& arguments = schema.arguments();  // self first
  const auto& returns = schema.returns();
  const bool tensor_in = arguments.size() == 2 && arguments[1].type()->kind() == c10::TypeKind::TensorType;
  const bool tensor_out = returns.size() == 1 && returns[0].type()->kind() == c10::TypeKind::TensorType;
  if (!tensor_in || !tensor_out)
    throw ConfigError("--model " + path + ": forward must take one Tensor (images N x C x H x W) and return one Tensor "
                      "(logits N x classes); it is " + toString(schema));
}

// Registers `scripted`'s own parameters and buffers (the same tensors) on `mirror`, then its
// children as mirrored submodules: PyTorch's state-dict order and names.
void mirror_into(const torch::jit::Module& scripted, torch::nn::Module& mirror) {
  for (const auto& parameter : scripted.named_parameters(/*recurse=*/false))
    mirror.register_parameter(parameter.name, parameter.value, parameter.value.requires_grad());
  for (const auto& buffer : scripted.named_buffers(/*recurse=*/false)) mirror.register_buffer(buffer.name, buffer.value);
  for (const auto& child : scripted.named_children()) {
    auto submodule = std::make_shared<torch::nn::Module>();
    mirror.register_module(child.name, submodule);
    mirror_into(child.value, *submodule);
  }
}

}  // namespace

ScriptedNetwork::ScriptedNetwork(const std::string& path, const ModelOptions& options)
    : path_(path), num_classes_(options.num_classes), module_(load_archive(path)) {
  sha256_ = sha256_of(path);
  check_forward_signature(module_, path);
  mirror_into(module_, *this);
  bool trainable = false;
  for (const auto& parameter : parameters()) trainable = trainable || parameter.requires_grad();
  if (!trainable) throw ConfigError("--model " + path + ": the module has no trainable parameters");
  // What a save, a restore, the allreduce's buckets and the optimizers take: float32, dense.
  for (const auto& named : module_.named_parameters())
    if (named.value.scalar_type() != torch::kFloat32 || named.value.layout() != torch::kStrided)
      throw ConfigError("--model " + path + ": parameter " + named.name + " is " +
                        std::string(c10::toString(named.value.scalar_type())) +
                        (named.value.layout() != torch::kStrided ? " " + c10::str(named.value.layout()) : "") +
                        "; trainer trains float32 parameters (mixed precision: --precision bf16|fp16; save the "
                        "model in float32)");
  for (const auto& named : module_.named_buffers())
    if (named.value.is_floating_point() && named.value.scalar_type() != torch::kFloat32)
      throw ConfigError("--model " + path + ": buffer " + named.name + " is " +
                        std::string(c10::toString(named.value.scalar_type())) + "; floating buffers must be float32");
  module_.train(is_training());
}

torch::Tensor ScriptedNetwork::forward(torch::Tensor images) {
  return module_.forward({std::move(images)}).toTensor();  // its schema was checked at load
}

void ScriptedNetwork::check_input_shape(std::int64_t channels, std::int64_t height, std::int64_t width) const {
  const bool was_training = module_.is_training();
  module_.eval();
  torch::NoGradGuard no_grad;
  const auto device = parameters().front().device();
  torch::Tensor logits;
  std::optional<std::string> failure;
  try {
    logits = module_.forward({torch::zeros({2, channels, height, width}, torch::TensorOptions(device))}).toTensor();
  } catch (const std::exception& e) {
    failure = error_line(e.what());
  }
  module_.train(was_training);
  if (failure)
    throw ConfigError("--model " + path_ + ": images of " + std::to_string(channels) + "x" + std::to_string(height) +
                      "x" + std::to_string(width) + " do not go through the module: " + *failure);
  if (logits.dim() != 2 || logits.size(0) != 2 || logits.size(1) != num_classes_) {
    std::string shape;
    for (auto size : logits.sizes()) shape += (shape.empty() ? "" : " x ") + std::to_string(size);
    throw ConfigError("--model " + path_ + ": for 2 images forward returns logits of " + shape + ", expected 2 x " +
                      std::to_string(num_classes_) + " (the data set's classes)");
  }
}

void ScriptedNetwork::check_training_step(std::int64_t batch, std::int64_t channels, std::int64_t height,
                                          std::int64_t width) {
  const std::string at = "--model " + path_ + ": in training mode at batch " + std::to_string(batch) + ", ";
  std::vector<torch::Tensor> buffers;
  for (const auto& buffer : module_.buffers()) buffers.push_back(buffer.detach().clone());
  auto generator = at::detail::getDefaultCPUGenerator();
  const torch::Tensor random_state = generator.get_state();
  const bool was_training = module_.is_training();
  std::optional<std::string> failure;
  try {
    module_.train(true);
    const auto options = torch::TensorOptions(parameters().front().device());
    const torch::Tensor logits = module_.forward({torch::zeros({batch, channels, height, width}, options)}).toTensor();
    if (logits.dim() != 2 || logits.size(0) != batch || logits.size(1) != num_classes_)
      failure = "forward returns logits of " + c10::str(logits.sizes()) + ", expected [" + std::to_string(batch) + ", " +
                std::to_string(num_classes_) + "]";
    else
      logits.sum().backward();
  } catch (const std::exception& e) {
    failure = error_line(e.what());
  }
  for (const auto& named : module_.named_parameters()) {
    torch::Tensor& grad = named.value.mutable_grad();
    if (!failure && grad.defined() && grad.layout() != torch::kStrided)
      failure = "parameter " + named.name + " gets " + c10::str(grad.layout()) +
                " gradients (nn.Embedding(sparse=True)?): the allreduce and the optimizers take dense gradients";
    grad = torch::Tensor();
  }
  {
    torch::NoGradGuard no_grad;
    std::size_t i = 0;
    for (auto buffer : module_.buffers()) buffer.copy_(buffers[i++]);
  }
  generator.set_state(random_state);
  module_.train(was_training);
  if (failure) throw ConfigError(at + "one step fails: " + *failure);
}

void ScriptedNetwork::train(bool on) {
  Network::train(on);
  module_.train(on);
}

}  // namespace trainer::models
