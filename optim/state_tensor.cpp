#include "optim/state_tensor.h"

#include "common/error.h"

namespace trainer::optim {
namespace {

const torch::Tensor& stored(const std::map<std::string, torch::Tensor>& tensors, const std::string& key,
                            const std::string& where) {
  const auto it = tensors.find(key);
  if (it == tensors.end()) throw CheckpointError(where + ": optimizer state lacks " + key);
  return it->second;
}

}  // namespace

torch::Tensor like_parameter(const std::map<std::string, torch::Tensor>& tensors, const std::string& key,
                             const torch::Tensor& parameter, const std::string& where) {
  const torch::Tensor& tensor = stored(tensors, key, where);
  if (!tensor.is_floating_point() || tensor.sizes() != parameter.sizes())
    throw CheckpointError(where + ": optimizer state " + key + " is " + std::string(c10::toString(tensor.scalar_type())) +
                          " " + c10::str(tensor.sizes()) + ", the parameter is " +
                          std::string(c10::toString(parameter.scalar_type())) + " " + c10::str(parameter.sizes()));
  return tensor.to(parameter.options());
}

std::int64_t step_count(const std::map<std::string, torch::Tensor>& tensors, const std::string& key,
                        const std::string& where) {
  const torch::Tensor& tensor = stored(tensors, key, where);
  if (tensor.numel() != 1) throw CheckpointError(where + ": optimizer state " + key + " is not a single number");
  const double value = tensor.to(torch::kFloat64).item<double>();
  if (!(value >= 0) || value > 9.0e15 || value != static_cast<double>(static_cast<std::int64_t>(value)))
    throw CheckpointError(where + ": optimizer state " + key + " is not a step count");
  return static_cast<std::int64_t>(value);
}

double number(const Attributes& record, const std::string& key, double fallback) {
  const auto it = record.find(key);
  if (it == record.end()) return fallback;
  if (const auto* d = std::get_if<double>(&it->second)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
  return fallback;
}

}  // namespace trainer::optim
