// Runs under `mpirun -np N` (N >= 2): a checkpoint read once per job (CheckpointReader::share), each
// rank reading a share and receiving the rest, gives every rank the tensors a plain read gives, for
// a checkpoint written by this world (a shard per rank) and by another (shares balanced by bytes);
// a damaged tensor is the same error, naming the rank that read it, on every rank.

#include "comm/loopback_communicator.h"
#include "comm/mpi_communicator.h"
#include "common/error.h"
#include "checkpoint/checkpoint.h"
#include "storage/fs.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <iterator>

namespace {

namespace storage = trainer::storage;
namespace checkpoint = trainer::checkpoint;
using trainer::comm::MpiCommunicator;

// Tensors of several dtypes and sizes; "big" spans two 16 MiB chunks, the second a padded edge one.
checkpoint::CheckpointContents contents() {
  checkpoint::CheckpointContents c;
  c.run.model = "test";
  c.run.num_classes = 10;
  torch::manual_seed(1);
  c.model = {{"big", torch::randn({5000, 1000})},
             {"conv.weight", torch::randn({16, 3, 3, 3})},
             {"marked", torch::arange(4096, torch::kFloat32) * 0.5 + 1000},
             {"bn.num_batches_tracked", torch::tensor(7, torch::kInt64)},
             {"empty", torch::empty({0, 4})}};
  c.optimizer_state = {{"conv.weight", "exp_avg", torch::randn({16, 3, 3, 3})},
                       {"conv.weight", "step", torch::tensor(3, torch::kInt64)}};
  c.rng_state = torch::randint(0, 255, {5056}, torch::kUInt8);
  return c;
}

class SharedRead : public ::testing::Test {
 protected:
  MpiCommunicator comm;
  std::string root = "share-test-" + std::to_string(::getpid());  // rank 0's pid, below

  void SetUp() override {
    root = trainer::comm::broadcast_string(root, comm);
    ASSERT_GE(comm.size(), 2) << "run under mpirun -np 2 or more";
  }
  void TearDown() override {
    comm.barrier();
    if (comm.rank() == 0) storage::fs::remove_tree(root);
  }

  // Every tensor as a plain (unshared) read gives it, against every tensor share() gave this rank;
  // and each rank read exactly the bytes `reader_of` assigns it.
  void expect_shared_equals_read(const std::string& directory,
                                 const std::function<std::vector<int>(const std::vector<checkpoint::TensorInfo>&)>& reader_of) {
    std::uint64_t mine = 0;
    const auto shared = checkpoint::open_shared(directory, comm, &mine);
    const checkpoint::CheckpointReader plain(directory);
    std::vector<checkpoint::TensorInfo> infos = plain.describe();
    std::sort(infos.begin(), infos.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    std::vector<std::int64_t> expected(static_cast<std::size_t>(comm.size()), 0);
    const std::vector<int> readers = reader_of(infos);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < infos.size(); ++i) {
      const auto& info = infos[i];
      total += info.bytes;
      expected.at(static_cast<std::size_t>(readers[i])) += static_cast<std::int64_t>(info.bytes);
      const torch::Tensor want = plain.read(info.path);
      const torch::Tensor got = shared->read(info.path);
      EXPECT_EQ(got.scalar_type(), want.scalar_type()) << info.path;
      EXPECT_TRUE(got.sizes() == want.sizes() && got.equal(want)) << info.path << " on rank " << comm.rank();
    }
    const std::vector<std::int64_t> shares = comm.allgather(static_cast<std::int64_t>(mine));
    EXPECT_EQ(shares, expected) << "the bytes each rank read, against the plan";
    std::int64_t read = 0;
    for (auto bytes : shares) read += bytes;
    EXPECT_EQ(static_cast<std::uint64_t>(read), total) << "every byte read once";
    EXPECT_LT(static_cast<std::uint64_t>(mine), total) << "no rank reads it all";
  }
};

// The shard a tensor lives in names the rank that wrote it, and so the rank that reads it.
std::vector<int> shard_ranks(const std::vector<checkpoint::TensorInfo>& infos) {
  std::vector<int> ranks;
  for (const auto& info : infos) ranks.push_back(std::stoi(info.shard.substr(6, 5)));  // shard-NNNNN-of-...
  return ranks;
}

TEST_F(SharedRead, WrittenByThisWorldEachRankReadsItsShard) {
  checkpoint::save_checkpoint(root, "same", contents(), comm);
  expect_shared_equals_read(storage::fs::join(root, "same"), shard_ranks);
}

TEST_F(SharedRead, WrittenByOneRankSharesAreBalancedByBytes) {
  if (comm.rank() == 0) {
    trainer::comm::LoopbackCommunicator one;
    checkpoint::save_checkpoint(root, "one", contents(), one);
  }
  comm.barrier();
  const int ranks = comm.size();
  expect_shared_equals_read(storage::fs::join(root, "one"), [ranks](const std::vector<checkpoint::TensorInfo>& infos) {
    // Balanced: largest first, each to the least-loaded rank. Checked here by hand, not by calling
    // the planner: every rank's load is within the largest tensor of the mean (list scheduling's
    // bound), and the largest tensor goes to rank 0.
    std::vector<std::size_t> order(infos.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return infos[a].bytes > infos[b].bytes; });
    std::vector<std::uint64_t> load(static_cast<std::size_t>(ranks), 0);
    std::vector<int> reader(infos.size(), 0);
    for (auto i : order) {
      const auto least = std::min_element(load.begin(), load.end()) - load.begin();
      reader[i] = static_cast<int>(least);
      load[static_cast<std::size_t>(least)] += infos[i].bytes;
    }
    std::uint64_t total = 0, largest = 0;
    for (const auto& info : infos) total += info.bytes, largest = std::max(largest, info.bytes);
    for (auto bytes : load) EXPECT_LE(bytes, total / static_cast<std::uint64_t>(ranks) + largest);
    return reader;
  });
}

TEST_F(SharedRead, ADamagedTensorIsTheSameErrorOnEveryRank) {
  checkpoint::save_checkpoint(root, "damaged", contents(), comm);
  const std::string directory = storage::fs::join(root, "damaged");
  std::string holder;  // the shard that holds /model/marked: found by its bytes, one of them flipped
  if (comm.rank() == 0) {
    const torch::Tensor marked = contents().model[2].second;
    const std::string pattern(static_cast<const char*>(marked.data_ptr()), 256);
    for (const auto& name : storage::fs::list_directory(directory)) {
      const std::string path = storage::fs::join(directory, name);
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const auto at = bytes.find(pattern);
      if (at == std::string::npos) continue;
      std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
      out.seekp(static_cast<std::streamoff>(at + 100));
      out.put(static_cast<char>(bytes[at + 100] ^ 0x40));
      holder = name;
    }
  }
  holder = trainer::comm::broadcast_string(holder, comm);
  ASSERT_FALSE(holder.empty());
  const std::string reader = "rank " + std::to_string(std::stoi(holder.substr(6, 5))) + ": ";
  try {
    checkpoint::open_shared(directory, comm);
    ADD_FAILURE() << "a damaged tensor was shared";
  } catch (const trainer::StorageError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(reader, 0), 0u) << message;
    EXPECT_NE(message.find("tensor /model/marked in " + holder), std::string::npos) << message;
  }
}

}  // namespace
