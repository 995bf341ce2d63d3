// The fp16 loss scaler: ATen's _amp_update_scale_ arithmetic, and the unscale/overflow check on
// CPU tensors (CUDA tensors take ATen's fused kernel: tests/gpu/).

#include "trainer/loss_scaler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cfloat>
#include <limits>

namespace {

using trainer::LossScale;
using trainer::LossScaler;
using trainer::LossScalerOptions;
using trainer::updated_scale;

TEST(LossScale, GrowsAfterTheIntervalAndBacksOffOnOverflow) {
  const LossScalerOptions options{65536.0, 2.0, 0.5, 3};
  LossScale s{65536.0f, 0};
  s = updated_scale(s, false, options);
  EXPECT_EQ(s.scale, 65536.0f);
  EXPECT_EQ(s.growth_tracker, 1);
  s = updated_scale(s, false, options);
  s = updated_scale(s, false, options);  // the third good step in a row
  EXPECT_EQ(s.scale, 131072.0f);
  EXPECT_EQ(s.growth_tracker, 0);
  s = updated_scale(s, false, options);
  s = updated_scale(s, true, options);  // an overflow halves and restarts the count
  EXPECT_EQ(s.scale, 65536.0f);
  EXPECT_EQ(s.growth_tracker, 0);
}

TEST(LossScale, NeverGrowsIntoInfinity) {
  const LossScalerOptions options{1.0, 2.0, 0.5, 1};
  const LossScale s = updated_scale({FLT_MAX, 0}, false, options);
  EXPECT_EQ(s.scale, FLT_MAX);  // _amp_update_scale_ keeps the scale when growing would overflow float32
  EXPECT_EQ(s.growth_tracker, 0);
}

TEST(LossScale, DefaultsAreGradScalers) {
  const LossScaler scaler;
  EXPECT_EQ(scaler.state().scale, 65536.0f);
  EXPECT_EQ(scaler.state().growth_tracker, 0);
  const LossScalerOptions options;
  EXPECT_EQ(options.growth_factor, 2.0);
  EXPECT_EQ(options.backoff_factor, 0.5);
  EXPECT_EQ(options.growth_interval, 2000);
}

TEST(LossScaler, ScaledBackwardUnscalesToTheSameGradients) {
  torch::manual_seed(3);
  torch::nn::Linear model(4, 3);
  const torch::Tensor x = torch::randn({5, 4});
  torch::nn::functional::cross_entropy(model(x), torch::tensor({0, 1, 2, 0, 1})).backward();
  std::vector<torch::Tensor> expected;
  for (const auto& p : model->parameters()) expected.push_back(p.grad().clone());
  model->zero_grad();

  LossScaler scaler;
  scaler.scale(torch::nn::functional::cross_entropy(model(x), torch::tensor({0, 1, 2, 0, 1}))).backward();
  EXPECT_FALSE(scaler.unscale(model->parameters()));
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_TRUE(torch::equal(model->parameters()[i].grad(), expected[i])) << i;  // a power of two: exact
}

TEST(LossScaler, FindsInfAndNanAndSkipsParametersWithoutGradients) {
  for (const double bad : {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    torch::Tensor a = torch::zeros({3}, torch::requires_grad());
    torch::Tensor b = torch::zeros({2}, torch::requires_grad());
    torch::Tensor unused = torch::zeros({2}, torch::requires_grad());
    a.mutable_grad() = torch::tensor({2.0f, 4.0f, 8.0f});
    b.mutable_grad() = torch::tensor({1.0f, static_cast<float>(bad)});
    const LossScaler scaler({2.0, 2.0, 0.5, 2000});
    EXPECT_TRUE(scaler.unscale({a, b, unused}));
    EXPECT_TRUE(torch::equal(a.grad(), torch::tensor({1.0f, 2.0f, 4.0f})));
    EXPECT_FALSE(unused.grad().defined());
  }
  torch::Tensor fine = torch::zeros({2}, torch::requires_grad());
  fine.mutable_grad() = torch::tensor({1e30f, -1e30f});
  EXPECT_FALSE(LossScaler().unscale({fine}));
}

}  // namespace
