// The training loop, resume and the checkpoint saver in-process, on the loopback communicator:
// fast enough to run under the sanitizers, and real (real data sets, real HDF5 checkpoints).

#include "comm/loopback_communicator.h"
#include "common/error.h"
#include "storage/checkpoint_dir.h"
#include "storage/fs.h"
#include "trainer/train.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace {

namespace fs = trainer::storage::fs;
using trainer::TrainConfig;

std::string fresh_directory(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/training_loop_test_" + name;
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

TEST(TrainingLoop, TwoEpochsWithCheckpointsAndAResumeAreBitIdentical) {
  const std::string straight = fresh_directory("straight"), resumed = fresh_directory("resumed");
  TrainConfig config = small_run(straight);
  const Outcome whole = train(config);
  ASSERT_EQ(whole.result.epochs.size(), 2u);
  EXPECT_EQ(trainer::storage::list_checkpoints(straight), (std::vector<std::string>{"epoch-0001", "epoch-0002"}));
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
  EXPECT_EQ(trainer::storage::latest_checkpoint(stopped), "epoch-0000-step-00000005");
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
// (tests/fixtures/v1_checkpoint/README.md) resumes to the end that trainer reached.
TEST(TrainingLoop, AFormatV1CheckpointFromBeforeTheRestructuringResumesBitIdentically) {
  const std::string dir = fresh_directory("v1");
  fs::make_directories(dir);
  const std::string fixture = std::string(TRAINER_FIXTURES_DIR) + "/v1_checkpoint/epoch-0001-step-00000004";
  fs::make_directories(dir + "/epoch-0001-step-00000004");
  for (const auto& name : fs::list_directory(fixture)) {
    std::ifstream in(fixture + "/" + name, std::ios::binary);
    std::ofstream(dir + "/epoch-0001-step-00000004/" + name, std::ios::binary) << in.rdbuf();
  }
  fs::replace_text_atomically(dir + "/LATEST", "epoch-0001-step-00000004");

  TrainConfig config;
  config.data.limit_train = 512;
  config.data.limit_test = 128;
  config.data.classes = {0, 6, 9};
  config.epochs = 2;
  config.batch_size = 32;
  config.seed = 5;
  config.data.seed = 5;
  config.progress_seconds = 0;
  config.keep_last = 0;
  config.optimizer.name = "adam";
  config.optimizer.lr = 0.001;
  config.checkpoint_dir = dir;
  const Outcome run = train(config);
  EXPECT_NE(run.log.find("global step 12 (mid-epoch)"), std::string::npos) << run.log;
  EXPECT_EQ(run.result.replica_fingerprint, 0x097147c8d7da415bull) << run.log;
}

}  // namespace
