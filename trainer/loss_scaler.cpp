#include "trainer/loss_scaler.h"

#include <ATen/ops/_amp_foreach_non_finite_check_and_unscale.h>

#include <limits>

namespace trainer {

LossScale updated_scale(LossScale current, bool found_inf, const LossScalerOptions& options) {
  if (found_inf) return {static_cast<float>(current.scale * options.backoff_factor), 0};
  const std::int64_t successful = current.growth_tracker + 1;
  if (successful < options.growth_interval) return {current.scale, successful};
  // ATen keeps the scale when the grown one is not a finite float32; checked in double, since
  // converting an out-of-range double to float is undefined in C++.
  const double grown = static_cast<double>(current.scale) * options.growth_factor;
  return {grown <= std::numeric_limits<float>::max() ? static_cast<float>(grown) : current.scale, 0};
}

LossScaler::LossScaler(const LossScalerOptions& options)
    : options_(options), state_{static_cast<float>(options.init_scale), 0} {}

torch::Tensor LossScaler::scale(const torch::Tensor& loss) const { return loss * state_.scale; }

bool LossScaler::unscale(const std::vector<torch::Tensor>& parameters) const {
  std::vector<torch::Tensor> gradients;
  for (const auto& p : parameters)
    if (p.grad().defined()) gradients.push_back(p.grad());
  if (gradients.empty()) return false;
  torch::NoGradGuard no_grad;
  // GradScaler: the reciprocal in double, then float32.
  const auto inverse = static_cast<float>(1.0 / static_cast<double>(state_.scale));
  const torch::TensorOptions on_device = torch::TensorOptions().dtype(torch::kFloat32).device(gradients[0].device());
  torch::Tensor found_inf = torch::zeros({1}, on_device);
  if (gradients[0].is_cuda()) {
    at::_amp_foreach_non_finite_check_and_unscale_(gradients, found_inf, torch::full({1}, inverse, on_device));
  } else {
    for (auto& g : gradients) {
      found_inf.logical_or_(torch::isfinite(g).all().logical_not());
      g.mul_(inverse);
    }
  }
  return found_inf.item<float>() != 0.0f;
}

}  // namespace trainer
