// The training loop, resume and the checkpoint saver in-process, on the loopback communicator:
// fast enough to run under the sanitizers, and real (real data sets, real HDF5 checkpoints).

#include "comm/loopback_communicator.h"
#include "common/error.h"
#include "checkpoint/directory.h"
#include "storage/fs.h"
#include "models/registry.h"
#include "checkpoint/checkpoint.h"
#include "trainer/checkpointing.h"
#include "trainer/replicas.h"
#include "trainer/train.h"

#include <gtest/gtest.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <unistd.h>
#include <sstream>

namespace {

namespace fs = trainer::storage::fs;
using trainer::TrainConfig;

std::string fresh_directory(const std::string& name) {
  // One directory per process: ctest runs each test case as a process of its own, two at a time.
  const std::string dir = ::testing::TempDir() + "/training_loop_test_" + name + "_" + std::to_string(::getpid());
  fs::remove_tree(dir);
  return dir;
}

TrainConfig small_run(const std::string& checkpoint_dir) {
  TrainConfig c;
  c.data.dataset = "synthetic";
  c.data.synthetic_train_size = 256;
  c.data.synthetic_test_size = 64;
  c.data.synthetic_classes = 4;
  c.optimizer.lr = 0.05;
  c.batch_size = 32;
  c.epochs = 2;
  c.seed = 11;
  c.data.seed = c.seed;
  c.progress_seconds = 0;
  c.keep_last = 0;
  c.checkpoint_dir = checkpoint_dir;
  return c;
}

struct Outcome {
  trainer::TrainResult result;
  std::string log;
};

Outcome train(const TrainConfig& config, std::function<bool()> stop = {}) {
  trainer::comm::LoopbackCommunicator loopback;
  std::ostringstream log;
  Outcome run;
  run.result = trainer::run_training(config, {loopback, loopback, torch::kCPU, log, std::move(stop)});
  run.log = log.str();
  return run;
}

// A world of one: reduce-scatter and allgather are copies, with the other backends' checks.
TEST(LoopbackCommunicator, ReduceScatterAndAllgatherCopyAndCheckTheirTensors) {
  trainer::comm::LoopbackCommunicator loopback;
  const torch::Tensor whole = torch::arange(6, torch::kFloat32);
  torch::Tensor chunk = torch::zeros({6});
  loopback.reduce_scatter_async(whole, chunk, {trainer::comm::ReduceOp::kAverage})->wait();
  EXPECT_TRUE(chunk.equal(whole));
  torch::Tensor gathered = torch::zeros({6});
  EXPECT_TRUE(loopback.allgather_async(chunk, gathered)->test());
  EXPECT_TRUE(gathered.equal(whole));
  EXPECT_THROW(loopback.reduce_scatter_async(whole, torch::zeros({5})), trainer::CommError);
  EXPECT_THROW(loopback.allgather_async(chunk, torch::zeros({6}, torch::kFloat64)), trainer::CommError);
  EXPECT_THROW(loopback.reduce_scatter_async(torch::arange(3), torch::zeros({3}, torch::kInt64),
                                             {trainer::comm::ReduceOp::kAverage}),
               trainer::CommError);
}

TEST(TrainingLoop, TwoEpochsWithCheckpointsAndAResumeAreBitIdentical) {
  const std::string straight = fresh_directory("straight"), resumed = fresh_directory("resumed");
  TrainConfig config = small_run(straight);
  // Enough steps that learning does not hinge on the initial weights' draw (64 steps of Adam).
  config.data.synthetic_train_size = 1024;
  config.optimizer.name = "adam";
  config.optimizer.lr = 0.001;
  const Outcome whole = train(config);
  ASSERT_EQ(whole.result.epochs.size(), 2u);
  EXPECT_EQ(trainer::checkpoint::list_checkpoints(straight), (std::vector<std::string>{"epoch-0001", "epoch-0002"}));
  EXPECT_GT(*whole.result.epochs.back().test_accuracy, 0.4) << whole.log;  // it learns: chance is 0.25

  config.checkpoint_dir = resumed;
  config.epochs = 1;
  train(config);
  config.epochs = 2;
  const Outcome second = train(config);
  EXPECT_NE(second.log.find("resumed from " + resumed + "/epoch-0001"), std::string::npos) << second.log;
  ASSERT_EQ(second.result.epochs.size(), 1u);
  EXPECT_EQ(second.result.replica_fingerprint, whole.result.replica_fingerprint);
  EXPECT_EQ(second.result.epochs.back().train_loss, whole.result.epochs.back().train_loss);
}

TEST(TrainingLoop, AStopMidEpochSavesAndTheResumedRunEndsWhereTheStraightOneDoes) {
  const std::string straight = fresh_directory("stop_straight"), stopped = fresh_directory("stopped");
  TrainConfig config = small_run(straight);
  config.checkpoint_async = true;
  config.checkpoint_every_steps = 3;
  const Outcome whole = train(config);

  config.checkpoint_dir = stopped;
  int polls = 0;
  EXPECT_THROW(train(config, [&] { return ++polls == 5; }), trainer::StopRequested);
  EXPECT_EQ(trainer::checkpoint::latest_checkpoint(stopped), "epoch-0000-step-00000005");
  const Outcome rest = train(config);
  EXPECT_NE(rest.log.find("(mid-epoch)"), std::string::npos) << rest.log;
  EXPECT_EQ(rest.result.replica_fingerprint, whole.result.replica_fingerprint);
  // The resumed epoch's metrics include the steps before the stop.
  EXPECT_EQ(rest.result.epochs.front().train_loss, whole.result.epochs.front().train_loss);
}

TEST(TrainingLoop, ResumingWithOtherSettingsIsRefusedByName) {
  const std::string dir = fresh_directory("settings");
  TrainConfig config = small_run(dir);
  config.epochs = 1;
  train(config);
  config.epochs = 2;
  auto message_of = [&](TrainConfig changed) -> std::string {
    try {
      train(changed);
    } catch (const trainer::CheckpointError& e) {
      return e.what();
    }
    return "no error";
  };
  TrainConfig seed = config;
  seed.seed = 12;
  EXPECT_NE(message_of(seed).find("was trained with --seed 11, this run has --seed 12"), std::string::npos);
  TrainConfig momentum = config;
  momentum.optimizer.momentum = 0.5;
  EXPECT_NE(message_of(momentum).find("parameter group 0 was trained with momentum 0.9"), std::string::npos);
  TrainConfig step = config;
  step.schedule.step = 3;
  EXPECT_NE(message_of(step).find("was trained with lr_step 5, this run has 3"), std::string::npos);
  EXPECT_NO_THROW(train(config));
}

// A checkpoint written by the trainer before its loop and checkpoint schema were restructured
// (tests/fixtures/v1_checkpoint/README.md, LibTorch 1.13) is read exactly as it was written, under
// this LibTorch too: the weights restored are the checkpoint's bit for bit, and the rest of the run
// ends where the trainer that wrote it ended. That end is the same bits only with the kernels of
// the same LibTorch. Under LibTorch 2.x (PyPI's wheel) the float results differ in the last bits,
// and from machine to machine too: its MKL and oneDNN choose their kernels by the CPU's instruction
// set (on one Xeon: four different ends with MKL_CBWR=AVX2, ONEDNN_MAX_CPU_ISA=AVX2, both, neither).
// There, what holds on every machine is checked: the same resume ends the same, twice.
class V1Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::make_directories(dir_);
    const std::string fixture = fs::join(TRAINER_FIXTURES_DIR, "v1_checkpoint/epoch-0001-step-00000004");
    fs::make_directories(dir_ + "/epoch-0001-step-00000004");
    for (const auto& name : fs::list_directory(fixture)) {
      std::ifstream in(fixture + "/" + name, std::ios::binary);
      std::ofstream(dir_ + "/epoch-0001-step-00000004/" + name, std::ios::binary) << in.rdbuf();
    }
    fs::replace_text_atomically(dir_ + "/LATEST", "epoch-0001-step-00000004");
  }
  TrainConfig config(std::int64_t epochs) const {
    TrainConfig c;
    c.data.limit_train = 512;
    c.data.limit_test = 128;
    c.data.classes = {0, 6, 9};
    c.epochs = epochs;
    c.batch_size = 32;
    c.seed = 5;
    c.data.seed = 5;
    c.progress_seconds = 0;
    c.keep_last = 0;
    c.optimizer.name = "adam";
    c.optimizer.lr = 0.001;
    c.checkpoint_dir = dir_;
    return c;
  }
  const std::string dir_ = fresh_directory("v1");
};

TEST_F(V1Checkpoint, TheWeightsRestoredAreTheCheckpointsBitForBit) {
  // One epoch is done: nothing to train, and the fingerprint is the restored weights'.
  const Outcome run = train(config(1));
  EXPECT_NE(run.log.find("nothing to train"), std::string::npos) << run.log;
  trainer::checkpoint::CheckpointReader reader(dir_ + "/epoch-0001-step-00000004");
  std::map<std::string, torch::Tensor> saved;
  for (auto& [name, tensor] : trainer::checkpoint::read_all(reader.model())) saved[name] = tensor;
  auto model = trainer::models::make_model("lenet", {1, 3});
  trainer::models::StateDict in_model_order;
  for (const auto& entry : trainer::models::state_dict(*model)) in_model_order.emplace_back(entry.first, saved.at(entry.first));
  EXPECT_EQ(run.result.replica_fingerprint, trainer::fingerprint(in_model_order));
}

// Whether LibTorch dispatches to its AVX-512 kernels here, as it decides: the CPU's flags, unless
// ATEN_CPU_CAPABILITY chooses.
bool kernels_are_avx512() {
  if (const char* chosen = std::getenv("ATEN_CPU_CAPABILITY")) return std::string(chosen) == "avx512";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("flags", 0) == 0) return line.find(" avx512f") != std::string::npos;
  return false;
}

TEST_F(V1Checkpoint, ResumesToTheEndTheTrainerThatWroteItReached) {
  const Outcome run = train(config(2));
  EXPECT_NE(run.log.find("global step 12 (mid-epoch)"), std::string::npos) << run.log;
  // The fingerprint was recorded under 1.13 on an AVX-512 CPU. LibTorch picks its CPU kernels by
  // instruction set (1.13's as 2.x's MKL and oneDNN do), so elsewhere the check is that the same
  // resume ends the same twice.
  if (TORCH_VERSION_MAJOR < 2 && kernels_are_avx512()) {
    EXPECT_EQ(run.result.replica_fingerprint, 0x097147c8d7da415bull) << run.log;
    return;
  }
  fs::remove_tree(dir_ + "/epoch-0002");
  fs::replace_text_atomically(dir_ + "/LATEST", "epoch-0001-step-00000004");
  const Outcome again = train(config(2));
  EXPECT_NE(again.log.find("global step 12 (mid-epoch)"), std::string::npos) << again.log;
  EXPECT_EQ(again.result.replica_fingerprint, run.result.replica_fingerprint) << again.log;
}

// A training state shaped as `reader`'s checkpoint, as the trainer sets it up before a resume.
trainer::TrainingState state_for(const trainer::checkpoint::CheckpointReader& reader, const TrainConfig& run,
                                 std::shared_ptr<trainer::models::Network>& model) {
  trainer::TrainingState state;
  state.identity = {reader.run().model, reader.run().num_classes, reader.run().in_channels, reader.run().model_sha256,
                    reader.run().class_names};
  state.train_samples = reader.epoch().train_samples;
  model = trainer::models::make_model(state.identity.model, {state.identity.in_channels, state.identity.num_classes});
  state.model = trainer::models::state_dict(*model);
  trainer::optim::NamedParameters parameters;
  for (const auto& item : model->named_parameters()) parameters.emplace_back(item.key(), item.value());
  state.optimizer = trainer::optim::make_optimizer(parameters, run.optimizer, run.lr_groups);
  state.schedule = trainer::optim::make_schedule(run.schedule, run.optimizer.lr);
  return state;
}

// What a GPU run adds to a checkpoint (the GPU's generator, fp16's loss scale) round-trips through
// the files, and a CPU run resumes from it: the tensors land on the CPU, the GPU's generator is
// left behind, the scale comes back. (tests/gpu/ writes such checkpoints on a real GPU.)
TEST_F(V1Checkpoint, AGpuCheckpointsGeneratorAndLossScaleRoundTripAndResumeOnTheCpu) {
  TrainConfig run = config(2);
  trainer::checkpoint::CheckpointReader v1(dir_ + "/epoch-0001-step-00000004");
  std::shared_ptr<trainer::models::Network> model;
  trainer::TrainingState state = state_for(v1, run, model);
  std::ostringstream log;
  const trainer::TrainingProgress progress = trainer::restore_checkpoint(v1, run, state, 1, log);
  trainer::checkpoint::CheckpointContents gpu = trainer::capture_checkpoint(run, state, progress, 1);
  gpu.cuda_rng_state = torch::arange(16, torch::kUInt8);  // a Philox seed and offset's 16 bytes
  gpu.epoch.loss_scale = 8192.0;
  gpu.epoch.loss_scale_growth_tracker = 17;
  const std::string out = fresh_directory("gpu_checkpoint");
  trainer::comm::LoopbackCommunicator loopback;
  trainer::checkpoint::save_checkpoint(out, "epoch-0001-step-00000004", gpu, loopback);

  trainer::checkpoint::CheckpointReader reader(out + "/epoch-0001-step-00000004");
  ASSERT_TRUE(reader.cuda_rng_state().has_value());
  EXPECT_TRUE(torch::equal(*reader.cuda_rng_state(), gpu.cuda_rng_state));
  EXPECT_EQ(reader.epoch().loss_scale, 8192.0);
  EXPECT_EQ(reader.epoch().loss_scale_growth_tracker, 17);
  EXPECT_FALSE(v1.cuda_rng_state().has_value());  // a CPU run's checkpoint has none
  EXPECT_FALSE(v1.epoch().loss_scale.has_value());

  trainer::TrainingState resumed = state_for(reader, run, model);
  resumed.scaler.emplace();
  trainer::restore_checkpoint(reader, run, resumed, 1, log);
  EXPECT_EQ(resumed.scaler->state().scale, 8192.0f);
  EXPECT_EQ(resumed.scaler->state().growth_tracker, 17);
  for (const auto& [name, tensor] : resumed.model) EXPECT_TRUE(tensor.device().is_cpu()) << name;
  fs::remove_tree(out);
}

// Restoring a checkpoint and capturing it again gives back every tensor bit for bit, every
// record value for value: what makes a checkpoint written under one LibTorch resume under the other
// exactly (tests/integration/checkpoints_across_versions.sh runs this on the other build's
// checkpoint: TRAINER_ROUND_TRIP_CHECKPOINT; TRAINER_ROUND_TRIP_OUT saves the capture there, for
// the other build to resume). Without them, on the v1 fixture. The run is V1Checkpoint's.
TEST_F(V1Checkpoint, RestoringAndCapturingAgainGivesTheCheckpointBitForBit) {
  const char* given = std::getenv("TRAINER_ROUND_TRIP_CHECKPOINT");
  const std::string path = given ? given : dir_ + "/epoch-0001-step-00000004";
  const TrainConfig run = config(2);
  trainer::checkpoint::CheckpointReader reader(path);
  std::shared_ptr<trainer::models::Network> model;
  trainer::TrainingState state = state_for(reader, run, model);
  std::ostringstream log;
  const int ranks = static_cast<int>(reader.index().world_size);  // as if resumed by as many ranks
  const trainer::TrainingProgress progress = trainer::restore_checkpoint(reader, run, state, ranks, log);
  const trainer::checkpoint::CheckpointContents again = trainer::capture_checkpoint(run, state, progress, ranks);

  std::size_t compared = 0;
  for (const auto& [dataset, tensor] : trainer::checkpoint::checkpoint_tensors(again)) {
    const torch::Tensor stored = reader.read(dataset);
    ASSERT_EQ(stored.scalar_type(), tensor.scalar_type()) << dataset;
    ASSERT_EQ(stored.sizes(), tensor.sizes()) << dataset;
    const torch::Tensor a = stored.contiguous(), b = tensor.cpu().contiguous();
    EXPECT_EQ(std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()), 0) << dataset << " differs";
    ++compared;
  }
  EXPECT_EQ(compared, reader.describe().size()) << "the capture has other tensors than " << path;
  EXPECT_EQ(again.epoch.to_attributes(), reader.epoch().to_attributes());
  const auto groups = reader.param_groups();
  ASSERT_EQ(again.param_groups.size(), groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) EXPECT_EQ(again.param_groups[g].to_attributes(), groups[g].to_attributes());

  if (const char* out = std::getenv("TRAINER_ROUND_TRIP_OUT")) {
    trainer::comm::LoopbackCommunicator loopback;
    const std::string name = path.substr(path.find_last_of('/') + 1);
    trainer::checkpoint::save_checkpoint(out, name, again, loopback);
  }
}

}  // namespace
