// Runs under `mpirun -np N` (N >= 2): the end-of-run replica check (trainer/replicas.cpp) passes for
// identical replicas, with the same fingerprint on every rank, and names exactly the ranks whose
// parameters differ from rank 0's, on every rank, when one bit of one replica differs.

#include "comm/mpi_communicator.h"
#include "common/error.h"
#include "trainer/replicas.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using trainer::comm::MpiCommunicator;

trainer::models::StateDict replica() {
  return {{"weight", torch::arange(1000, torch::kFloat32) * 0.25}, {"steps", torch::tensor(7, torch::kInt64)}};
}

TEST(Replicas, IdenticalReplicasPassWithOneFingerprint) {
  MpiCommunicator comm;
  const std::uint64_t mine = trainer::check_replicas_identical(replica(), comm);
  EXPECT_EQ(comm.allgather(static_cast<std::int64_t>(mine)),
            std::vector<std::int64_t>(static_cast<std::size_t>(comm.size()), static_cast<std::int64_t>(mine)));
}

TEST(Replicas, OneDivergedBitOnTheLastRankIsNamedOnEveryRank) {
  MpiCommunicator comm;
  ASSERT_GE(comm.size(), 2) << "run under mpirun -np 2 or more";
  auto state = replica();
  if (comm.rank() == comm.size() - 1) {
    auto* words = static_cast<std::int32_t*>(state[0].second.data_ptr());
    words[123] ^= 1;  // the last bit of one weight's mantissa
  }
  try {
    trainer::check_replicas_identical(state, comm);
    FAIL() << "diverged replicas passed the check on rank " << comm.rank();
  } catch (const trainer::Error& e) {
    EXPECT_EQ(std::string(e.what()), "replicas diverged: the parameters of rank(s) " +
                                         std::to_string(comm.size() - 1) + " differ from rank 0's");
  }
}

}  // namespace
