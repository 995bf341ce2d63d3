// The GPU tier: what only a GPU can show. Built in CUDA-enabled builds (build-torch2/, and
// scripts/gpu-check.sh's build); every test skips with one line where no GPU is visible.

#include "comm/gradient_bucketer.h"
#include "comm/loopback_communicator.h"
#include "comm/nccl_communicator.h"
#include "comm/ordered_sum.h"
#include "comm/virtual_reducer.h"
#include "models/registry.h"
#include "checkpoint/checkpoint.h"
#include "storage/fs.h"
#include "streams/device_streams.h"
#include "trainer/loss_scaler.h"

#include <ATen/Context.h>
#include <ATen/ops/_amp_update_scale.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <unistd.h>

namespace {

namespace comm = trainer::comm;
namespace fs = trainer::storage::fs;

#define SKIP_WITHOUT_GPU() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU visible: nothing to test here"

const torch::Device kGpu(torch::kCUDA, 0);

// At world size 1 a sum and a broadcast leave the data as it was, so equal results cannot tell a
// communicator that calls NCCL from one that does nothing: NCCL's own log of its collectives
// (NCCL_DEBUG_SUBSYS=COLL, read when NCCL first initializes, so set before any test runs) says
// which calls reached it, with their element counts.
const std::string kNcclLog = [] {
  const std::string path = ::testing::TempDir() + "gpu_test_nccl." + std::to_string(::getpid()) + ".log";
  ::setenv("NCCL_DEBUG", "INFO", 1);
  ::setenv("NCCL_DEBUG_SUBSYS", "COLL", 1);
  ::setenv("NCCL_DEBUG_FILE", path.c_str(), 1);
  return path;
}();

// The lines of NCCL's log that record a collective `name` ("AllReduce", "Broadcast") of `count`
// elements.
int nccl_calls(const std::string& name, std::int64_t count) {
  std::ifstream log(kNcclLog);
  int found = 0;
  for (std::string line; std::getline(log, line);)
    if (line.find(name + ": opCount") != std::string::npos &&
        line.find(" count " + std::to_string(count) + " ") != std::string::npos)
      ++found;
  return found;
}

TEST(Nccl, AllreduceAndBroadcastOnOneGpu) {
  SKIP_WITHOUT_GPU();
  comm::LoopbackCommunicator bootstrap;
  comm::NcclCommunicator nccl(bootstrap, 0, std::chrono::seconds(60));
  std::vector<torch::Tensor> tensors{torch::arange(1000, torch::TensorOptions(kGpu).dtype(torch::kFloat32)),
                                     torch::ones({7}, torch::TensorOptions(kGpu).dtype(torch::kInt64))};
  const std::vector<torch::Tensor> before{tensors[0].clone(), tensors[1].clone()};
  nccl.allreduce(tensors, {comm::ReduceOp::kSum});
  nccl.broadcast(tensors, {0});
  torch::cuda::synchronize();
  EXPECT_TRUE(torch::equal(tensors[0], before[0]));
  EXPECT_TRUE(torch::equal(tensors[1], before[1]));
  // Each tensor went through NCCL once each way (a communicator that did nothing logs nothing).
  EXPECT_EQ(nccl_calls("AllReduce", 1000), 1) << "NCCL's log " << kNcclLog;
  EXPECT_EQ(nccl_calls("AllReduce", 7), 1) << "NCCL's log " << kNcclLog;
  EXPECT_EQ(nccl_calls("Broadcast", 1000), 1) << "NCCL's log " << kNcclLog;
  EXPECT_EQ(nccl_calls("Broadcast", 7), 1) << "NCCL's log " << kNcclLog;
  // The overlapped kind, fed by a long chain of kernels on the compute stream: it must read their
  // result, not the buffer as it was when the host enqueued it.
  for (int round = 0; round < 20; ++round) {
    torch::Tensor x = torch::rand({2048, 2048}, kGpu);
    for (int i = 0; i < 8; ++i) x = torch::tanh(x.mm(x) / 2048);
    torch::Tensor sum = x.sum(0).contiguous();
    const torch::Tensor expected = sum.clone();
    auto work = nccl.allreduce_async(sum, {comm::ReduceOp::kSum});
    work->wait();
    EXPECT_TRUE(torch::equal(sum, expected)) << "round " << round;
  }
}

// ZeRO's pair on one GPU: a world of one, so both are copies, but each goes through NCCL once.
TEST(Nccl, ReduceScatterAndAllgatherOnOneGpu) {
  SKIP_WITHOUT_GPU();
  comm::LoopbackCommunicator bootstrap;
  comm::NcclCommunicator nccl(bootstrap, 0, std::chrono::seconds(60));
  const torch::Tensor whole = torch::arange(1001, torch::TensorOptions(kGpu).dtype(torch::kFloat32));
  torch::Tensor chunk = torch::zeros_like(whole), gathered = torch::zeros_like(whole);
  nccl.reduce_scatter_async(whole, chunk, {comm::ReduceOp::kSum})->wait();
  nccl.allgather_async(chunk, gathered)->wait();
  torch::cuda::synchronize();
  EXPECT_TRUE(torch::equal(gathered, whole));
  EXPECT_EQ(nccl_calls("ReduceScatter", 1001), 1) << "NCCL's log " << kNcclLog;
  EXPECT_EQ(nccl_calls("AllGather", 1001), 1) << "NCCL's log " << kNcclLog;
}

// --virtual-ranks' alltoall through NCCL's grouped send and receive (to itself on one GPU).
TEST(Nccl, AlltoallOnOneGpu) {
  SKIP_WITHOUT_GPU();
  comm::LoopbackCommunicator bootstrap;
  comm::NcclCommunicator nccl(bootstrap, 0, std::chrono::seconds(60));
  const torch::Tensor input = torch::arange(777, torch::TensorOptions(kGpu).dtype(torch::kFloat32));
  torch::Tensor output = torch::zeros_like(input);
  nccl.alltoall_async(input, output)->wait();
  torch::cuda::synchronize();
  EXPECT_TRUE(torch::equal(output, input));  // zeros unless NCCL moved them
}

// --virtual-ranks on the GPU: 3 virtual ranks on one process (3: a division by 3 is not a multiplication by its reciprocal), the last one's gradients through
// the hooks on autograd's device thread, the sum in double with torch's kernels: the same bits as
// the CPU's loop (comm/ordered_sum.h) over the same gradients.
TEST(VirtualRanks, TheGpuSumIsTheCpuLoopsBitForBit) {
  SKIP_WITHOUT_GPU();
  comm::LoopbackCommunicator bootstrap;
  comm::NcclCommunicator nccl(bootstrap, 0, std::chrono::seconds(60));
  torch::manual_seed(5);
  auto model = trainer::models::make_model("resnet18", {3, 10});
  model->to(kGpu);
  const auto parameters = model->parameters();
  comm::VirtualRankReducer reducer(parameters, nccl, 3, /*overlap=*/true, comm::BucketLimits{1 << 18, 1 << 22});
  std::vector<torch::Tensor> each;  // per virtual rank, every gradient flat on the CPU
  for (std::int64_t k = 0; k < 3; ++k) {
    model->zero_grad();
    const torch::Tensor x = torch::randn({4, 3, 32, 32}, kGpu);
    const torch::Tensor y = torch::randint(10, {4}, torch::TensorOptions(kGpu).dtype(torch::kInt64));
    if (k == 2) reducer.prepare_last(false);
    torch::nn::functional::cross_entropy(model->forward(x), y).backward();
    std::vector<torch::Tensor> flat;
    for (const auto& p : parameters) flat.push_back(p.grad().reshape({-1}).cpu());
    each.push_back(torch::cat(flat));
    if (k < 2) reducer.keep(k);
  }
  ASSERT_TRUE(reducer.average());
  std::vector<torch::Tensor> averaged;
  for (const auto& p : parameters) averaged.push_back(p.grad().reshape({-1}).cpu());
  const torch::Tensor values = torch::stack(each).contiguous();
  torch::Tensor expected = torch::empty({values.size(1)}, torch::kFloat32);
  ASSERT_TRUE(comm::average_in_order(values.data_ptr<float>(), 3, static_cast<std::size_t>(values.size(1)), 3.0,
                                     expected.data_ptr<float>()));
  EXPECT_TRUE(torch::equal(torch::cat(averaged), expected));
}

torch::Tensor gradients_of(bool overlap, comm::Communicator* nccl) {
  torch::manual_seed(11);
  auto model = trainer::models::make_model("resnet18", {3, 10});
  model->to(kGpu);
  std::unique_ptr<comm::GradientBucketer> bucketer;
  if (nccl)
    bucketer = std::make_unique<comm::GradientBucketer>(model->parameters(), *nccl, overlap,
                                                        comm::BucketLimits{1 << 18, 1 << 22}, /*even_alone=*/true);
  const torch::Tensor x = torch::randn({8, 3, 64, 64}, kGpu);
  const torch::Tensor y = torch::randint(10, {8}, torch::TensorOptions(kGpu).dtype(torch::kInt64));
  if (bucketer) bucketer->prepare_backward(false);
  torch::nn::functional::cross_entropy(model->forward(x), y).backward();
  if (bucketer) bucketer->average_gradients();
  std::vector<torch::Tensor> flat;
  for (const auto& p : model->parameters()) flat.push_back(p.grad().reshape({-1}));
  return torch::cat(flat).cpu();
}

// --overlap on (hooks on autograd's device thread, allreduces on NCCL's stream) equals --overlap off
// and no exchange at all, bit for bit (a world of one sums nothing), with ResNet-18 in many buckets.
TEST(Nccl, OverlapEqualsNoOverlap) {
  SKIP_WITHOUT_GPU();
  at::globalContext().setDeterministicCuDNN(true);
  at::globalContext().setBenchmarkCuDNN(false);
  comm::LoopbackCommunicator bootstrap;
  comm::NcclCommunicator nccl(bootstrap, 0, std::chrono::seconds(60));
  const torch::Tensor alone = gradients_of(false, nullptr);
  EXPECT_TRUE(torch::equal(gradients_of(false, &nccl), alone));
  EXPECT_TRUE(torch::equal(gradients_of(true, &nccl), alone));
}

TEST(CudaGenerator, StateRoundTripsAndRepeatsTheDraws) {
  SKIP_WITHOUT_GPU();
  torch::manual_seed(5);
  at::Generator generator = at::globalContext().defaultGenerator(kGpu);
  const torch::Tensor state = generator.get_state();
  const torch::Tensor first = torch::randn({1000}, kGpu);
  torch::randn({333}, kGpu);  // moves the generator on
  generator.set_state(state);
  EXPECT_TRUE(torch::equal(torch::randn({1000}, kGpu), first));
  EXPECT_TRUE(state.device().is_cpu());  // checkpointable like the CPU generator's
}

// A snapshot of GPU tensors: copied on the side stream into pinned buffers; the training stream
// may overwrite the tensors right away (it waits for the copies), and the shard holds the values
// of the moment of the snapshot.
TEST(PinnedSnapshot, HoldsTheValuesOfItsMomentWhileTrainingGoesOn) {
  SKIP_WITHOUT_GPU();
  trainer::checkpoint::CheckpointContents contents;
  torch::Tensor weight = torch::rand({512, 1024}, kGpu);
  contents.model = {{"fc.weight", weight}};
  contents.rng_state = torch::zeros({16}, torch::kUInt8);
  contents.cuda_rng_state = at::globalContext().defaultGenerator(kGpu).get_state();
  contents.run.model = "test";
  contents.run.num_classes = 2;
  contents.run.in_channels = 1;
  const torch::Tensor expected = weight.cpu();
  const std::string root = ::testing::TempDir() + "/gpu_snapshot_" + std::to_string(::getpid());
  fs::remove_tree(root);
  comm::LoopbackCommunicator loopback;
  trainer::checkpoint::SnapshotBuffers buffers;
  buffers.streams = trainer::streams::make_device_streams(kGpu);
  trainer::checkpoint::CheckpointSave save(root, "epoch-0001", contents, loopback, &buffers);
  weight.mul_(-1).add_(7);  // the next step, on the training stream
  save.write_shard();
  save.commit(loopback);
  EXPECT_TRUE(buffers.buffers.at("/model/fc.weight").is_pinned());
  trainer::checkpoint::CheckpointReader reader(root + "/epoch-0001");
  EXPECT_TRUE(torch::equal(reader.read("/model/fc.weight"), expected));
  ASSERT_TRUE(reader.cuda_rng_state().has_value());
  fs::remove_tree(root);
}

// fp16's scaler on a GPU: ATen's fused unscale finds the overflow, and our update of the scale is
// ATen's _amp_update_scale_ step for step.
TEST(LossScaler, ForcedOverflowOnTheGpuSkipsAndBacksOffAsAten) {
  SKIP_WITHOUT_GPU();
  torch::Tensor a = torch::zeros({4}, torch::TensorOptions(kGpu).requires_grad(true));
  a.mutable_grad() = torch::tensor({2.0f, 4.0f, 6.0f, 8.0f}, kGpu);
  trainer::LossScaler scaler({2.0, 2.0, 0.5, 3});
  EXPECT_FALSE(scaler.unscale({a}));
  EXPECT_TRUE(torch::equal(a.grad().cpu(), torch::tensor({1.0f, 2.0f, 3.0f, 4.0f})));
  a.mutable_grad() = torch::tensor({1.0f, std::numeric_limits<float>::infinity(), 0.0f, 1.0f}, kGpu);
  EXPECT_TRUE(scaler.unscale({a}));

  torch::Tensor scale = torch::full({1}, 65536.0f, kGpu);
  torch::Tensor tracker = torch::zeros({1}, torch::TensorOptions(kGpu).dtype(torch::kInt32));
  trainer::LossScale ours;
  const trainer::LossScalerOptions options{65536.0, 2.0, 0.5, 3};
  for (const bool overflow : {false, false, false, true, false, true, true, false, false, false, false}) {
    at::_amp_update_scale_(scale, tracker, torch::full({1}, overflow ? 1.0f : 0.0f, kGpu), 2.0, 0.5, 3);
    ours = trainer::updated_scale(ours, overflow, options);
    EXPECT_EQ(scale.item<float>(), ours.scale);
    EXPECT_EQ(tracker.item<int>(), ours.growth_tracker);
  }
}

}  // namespace
