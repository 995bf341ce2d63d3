#include "launcher/device_selection.h"
#include "launcher/rank_log.h"

#include "common/error.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace {

using namespace trainer::launcher;

auto environment(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const char* name) -> const char* {
    auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

TEST(LocalRank, OpenMpiFirstThenSlurmElseNothing) {
  EXPECT_EQ(local_rank_from_environment(environment({{"OMPI_COMM_WORLD_LOCAL_RANK", "3"}, {"SLURM_LOCALID", "1"}})), 3);
  EXPECT_EQ(local_rank_from_environment(environment({{"SLURM_LOCALID", "1"}})), 1);
  EXPECT_EQ(local_rank_from_environment(environment({})), std::nullopt);
  EXPECT_EQ(local_rank_from_environment(environment({{"OMPI_COMM_WORLD_LOCAL_RANK", "x"}, {"SLURM_LOCALID", "2"}})), 2);
  EXPECT_EQ(local_rank_from_environment(environment({{"SLURM_LOCALID", "-1"}})), std::nullopt);
}

TEST(GpuOrder, ByIndexOrByFreeMemoryWithTiesByIndex) {
  std::vector<GpuInfo> gpus{{0, 10}, {1, 30}, {2, 30}, {3, 5}};
  EXPECT_EQ(order_gpus(gpus, GpuOrder::kIndex), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(order_gpus(gpus, GpuOrder::kFreeMemory), (std::vector<int>{1, 2, 0, 3}));
  EXPECT_EQ(parse_gpu_order("free-memory"), GpuOrder::kFreeMemory);
  EXPECT_THROW(parse_gpu_order("fastest"), trainer::ConfigError);
}

TEST(ChooseDevice, AutoTakesTheLocalRanksGpuOrTheCpu) {
  EXPECT_EQ(choose_device("auto", 1, 2, {}).device, "cpu");
  EXPECT_EQ(choose_device("auto", 1, 4, {2, 0, 1, 3}).device, "cuda:0");
  EXPECT_EQ(choose_device("cuda", 3, 4, {0, 1, 2, 3}).device, "cuda:3");
}

// NCCL refuses two ranks on one GPU: more ranks on a host than GPUs is an error that says what to do.
TEST(ChooseDevice, MoreRanksThanGpusIsAnError) {
  try {
    choose_device("auto", 3, 4, {0, 1});
    FAIL() << "4 ranks on 2 GPUs were accepted";
  } catch (const trainer::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("4 ranks on this host but 2 GPU(s) visible"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("mpirun -np 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(choose_device("cuda", 0, 2, {0}), trainer::ConfigError);
  EXPECT_THROW(choose_device("cuda:0", 0, 2, {0, 1}), trainer::ConfigError);  // every rank on GPU 0
  EXPECT_EQ(choose_device("auto", 1, 2, {}).device, "cpu");  // no GPU: the CPU, with any number of ranks
}

TEST(ChooseDevice, ExplicitChoicesAndErrors) {
  EXPECT_EQ(choose_device("cpu", 0, 1, {0, 1}).device, "cpu");
  EXPECT_EQ(choose_device("cpu", 0, 8, {0, 1}).device, "cpu");
  EXPECT_EQ(choose_device("cuda:1", 0, 1, {0, 1}).device, "cuda:1");
  EXPECT_THROW(choose_device("cuda", 0, 1, {}), trainer::ConfigError);
  EXPECT_THROW(choose_device("cuda:2", 0, 1, {0, 1}), trainer::ConfigError);
  EXPECT_THROW(choose_device("cuda:x", 0, 1, {0}), trainer::ConfigError);
  EXPECT_THROW(choose_device("cuda:", 0, 1, {0}), trainer::ConfigError);
  EXPECT_THROW(choose_device("tpu", 0, 1, {}), trainer::ConfigError);
}

TEST(RankLog, RankZeroPlainOthersSilentOrPrefixed) {
  std::ostringstream out0, out1, out2;
  RankLog(out0, 0, false).stream() << "hello\nworld\n";
  RankLog(out1, 1, false).stream() << "hello\n";
  RankLog(out2, 2, true).stream() << "hello\nworld\n";
  EXPECT_EQ(out0.str(), "hello\nworld\n");
  EXPECT_EQ(out1.str(), "");
  EXPECT_EQ(out2.str(), "[rank 2] hello\n[rank 2] world\n");
}

}  // namespace
