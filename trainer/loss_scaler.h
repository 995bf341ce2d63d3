#pragma once
// --precision fp16: a dynamic loss scaler, PyTorch's torch.amp.GradScaler in C++. The loss is
// multiplied by the scale before backward, so that small fp16 gradients do not flush to zero; after
// the gradient average the gradients are divided by it again (before clipping) and checked for
// inf/nan. A step with such gradients is skipped and the scale backs off; after `growth_interval`
// good steps in a row it grows. The scale and its growth tracker are checkpointed, so that a resumed
// run scales as the uninterrupted one would.

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace trainer {

struct LossScalerOptions {  // GradScaler's defaults
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  std::int64_t growth_interval = 2000;
};

// The scale and the count of good steps since it last changed, as GradScaler keeps them: a float32
// scale, an int32 tracker.
struct LossScale {
  float scale = 65536.0f;
  std::int64_t growth_tracker = 0;
};

// One update after a step, exactly as ATen's _amp_update_scale_ does it: on inf/nan the scale backs
// off and the tracker restarts; otherwise the tracker counts, and on reaching the interval the scale
// grows (unless that would overflow float32) and the tracker restarts.
LossScale updated_scale(LossScale current, bool found_inf, const LossScalerOptions& options);

class LossScaler {
 public:
  explicit LossScaler(const LossScalerOptions& options = {});

  torch::Tensor scale(const torch::Tensor& loss) const;  // loss * scale

  // Divides every defined gradient of `parameters` by the scale, in place, and says whether any
  // holds inf or nan (then the step must be skipped). CUDA gradients go through ATen's fused
  // _amp_foreach_non_finite_check_and_unscale_, as GradScaler.unscale_ does; others through the
  // same arithmetic per tensor. One host synchronisation, for the answer.
  bool unscale(const std::vector<torch::Tensor>& parameters) const;

  void update(bool found_inf) { state_ = updated_scale(state_, found_inf, options_); }

  const LossScale& state() const { return state_; }
  void restore(const LossScale& saved) { state_ = saved; }

 private:
  LossScalerOptions options_;
  LossScale state_;
};

}  // namespace trainer
