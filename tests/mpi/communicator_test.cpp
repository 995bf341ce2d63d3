// Runs under `mpirun -np N` (N >= 2): the MPI communicator and the gradient bucketer across real
// processes.

#include "comm/gradient_bucketer.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"
#include "comm/virtual_reducer.h"
#include "common/error.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using trainer::comm::AllreduceOptions;
using trainer::comm::MpiCommunicator;
using trainer::comm::ReduceOp;

class Mpi : public ::testing::Test {
 protected:
  MpiCommunicator comm;
  double n() const { return comm.size(); }
  double r() const { return comm.rank(); }
};

TEST_F(Mpi, RanksAndLocalRanksAreConsistent) {
  ASSERT_GE(comm.size(), 2) << "run under mpirun -np 2 or more";
  EXPECT_EQ(comm.local_size(), comm.size());  // one host
  EXPECT_EQ(comm.local_rank(), comm.rank());
  EXPECT_EQ(comm.backend(), "mpi");
  EXPECT_NE(comm.where().find("rank " + std::to_string(comm.rank()) + "/"), std::string::npos);
}

TEST_F(Mpi, AllreduceSumAverageMaxInPlace) {
  std::vector<torch::Tensor> t{torch::full({1000}, r() + 1, torch::kFloat32),
                               torch::full({3}, static_cast<std::int64_t>(r()), torch::kInt64)};
  comm.allreduce(t, {ReduceOp::kSum});
  EXPECT_TRUE(t[0].eq(n() * (n() + 1) / 2).all().item<bool>());
  EXPECT_TRUE(t[1].eq(static_cast<std::int64_t>(n() * (n() - 1) / 2)).all().item<bool>());

  std::vector<torch::Tensor> avg{torch::full({5}, r(), torch::kFloat64)};
  comm.allreduce(avg, {ReduceOp::kAverage});
  EXPECT_NEAR(avg[0][4].item<double>(), (n() - 1) / 2, 1e-12);

  std::vector<torch::Tensor> mx{torch::full({2}, r(), torch::kFloat32)};
  comm.allreduce(mx, {ReduceOp::kMax});
  EXPECT_EQ(mx[0][0].item<float>(), n() - 1);
}

TEST_F(Mpi, BroadcastFromAnyRootAndAllgather) {
  std::vector<torch::Tensor> t{torch::full({4, 4}, r(), torch::kFloat32)};
  const int root = comm.size() - 1;
  comm.broadcast(t, {root});
  EXPECT_TRUE(t[0].eq(static_cast<float>(root)).all().item<bool>());
  auto values = comm.allgather(comm.rank() * 10);
  ASSERT_EQ(static_cast<int>(values.size()), comm.size());
  for (int i = 0; i < comm.size(); ++i) EXPECT_EQ(values[i], i * 10);
  comm.barrier();
}

// ZeRO's pair: each rank's chunk of the sum (or mean) of every rank's whole, then every rank's
// chunk to every rank; uneven values per rank and position, so a chunk in the wrong place shows.
TEST_F(Mpi, ReduceScatterThenAllgatherRebuildTheAllreduce) {
  const std::int64_t chunk = 1001;
  const torch::Tensor whole = torch::arange(chunk * comm.size(), torch::kFloat64) * (r() + 1);
  torch::Tensor mine = torch::empty({chunk}, torch::kFloat64);
  comm.reduce_scatter_async(whole, mine, {ReduceOp::kSum})->wait();
  const double ranks_sum = n() * (n() + 1) / 2;
  const torch::Tensor expected = torch::arange(chunk * comm.rank(), chunk * (comm.rank() + 1), torch::kFloat64) * ranks_sum;
  EXPECT_TRUE(mine.equal(expected));

  torch::Tensor gathered = torch::empty({chunk * comm.size()}, torch::kFloat64);
  auto work = comm.allgather_async(mine, gathered);
  while (!work->test()) {
  }
  work->wait();
  EXPECT_TRUE(gathered.equal(torch::arange(chunk * comm.size(), torch::kFloat64) * ranks_sum));

  torch::Tensor mean = torch::empty({chunk}, torch::kFloat64);
  comm.reduce_scatter_async(whole, mean, {ReduceOp::kAverage})->wait();
  EXPECT_TRUE(mean.allclose(expected / n(), 0, 1e-12));
  torch::Tensor wrong = torch::empty({chunk + 1}, torch::kFloat64);
  EXPECT_THROW(comm.reduce_scatter_async(whole, wrong), trainer::CommError);
  EXPECT_THROW(comm.allgather_async(mine, wrong), trainer::CommError);
}

// Chunk q of rank p's input lands as chunk p of rank q's output.
TEST_F(Mpi, AlltoallSendsEachRankItsChunkFromEveryRank) {
  const std::int64_t chunk = 257;
  const torch::Tensor input = torch::arange(chunk * comm.size(), torch::kFloat32) + 10000 * r();
  torch::Tensor output = torch::empty_like(input);
  comm.alltoall_async(input, output)->wait();
  for (int p = 0; p < comm.size(); ++p)
    EXPECT_TRUE(output.narrow(0, p * chunk, chunk).equal(torch::arange(chunk * comm.rank(), chunk * (comm.rank() + 1), torch::kFloat32) + 10000 * p))
        << "chunk from rank " << p;
  torch::Tensor wrong = torch::empty({chunk * comm.size() + 1}, torch::kFloat32);
  EXPECT_THROW(comm.alltoall_async(input, wrong), trainer::CommError);
}

// --virtual-ranks' exchange: 3 virtual ranks a process, gradients from real backwards (the last
// through the hooks, over 2 accumulated micro-batches; one parameter outside the graph), tiny
// buckets that complete out of their order, two steps (in the second, .grad aliases the
// first one's averages). Each element's average is the double sum in virtual-rank order, rounded
// once.
TEST_F(Mpi, VirtualRanksAverageInVirtualRankOrderThroughTheHooks) {
  const std::int64_t local = 3, ranks = local * comm.size();
  std::vector<torch::Tensor> params;
  for (int i = 0; i < 12; ++i) params.push_back(torch::zeros({i % 5 + 1, 3}, torch::requires_grad()));
  trainer::comm::VirtualRankReducer reducer(params, comm, ranks, /*overlap=*/true, {/*first=*/64, /*cap=*/256});
  EXPECT_GT(reducer.bucket_count(), 2u);
  // Virtual rank v's gradient of parameter i at step s: a value of its own at every element, far
  // apart in magnitude so that float sums in another order would differ.
  const auto value = [](int s, std::int64_t v, int i, std::int64_t e) {
    return std::ldexp(1.0 + 0.1 * static_cast<double>((v * 7 + i * 3 + e + s) % 11), static_cast<int>((v * 5 + e) % 30) - 15);
  };
  const auto target = [&](int s, std::int64_t v, int i) {
    torch::Tensor t = torch::empty({params[i].numel()}, torch::kFloat32);
    for (std::int64_t e = 0; e < t.numel(); ++e) t[e] = static_cast<float>(value(s, v, i, e));
    return t.view(params[i].sizes());
  };
  // Autograd runs the terms' backward last-created first, so the gradients arrive 6, 4, 8, 3, 1, 7,
  // 2, 9, 11, 5, 10: the buckets (reverse registration order: {11, 10}, {9..4}, {3..0}) complete
  // out of their order (the first one last, by gradient 10, after the second); parameter
  // 0 is not in the graph, so the last bucket completes in average().
  const int order[] = {10, 5, 11, 9, 2, 7, 1, 3, 8, 4, 6};
  for (int step = 0; step < 2; ++step) {
    for (std::int64_t k = 0; k < local; ++k) {
      const std::int64_t v = comm.rank() * local + k;
      for (auto& p : params)
        if (p.grad().defined()) p.mutable_grad().zero_();
      for (int micro = 0; micro < 2; ++micro) {
        if (k + 1 == local && micro == 1) reducer.prepare_last(/*accumulated=*/true);
        torch::Tensor loss = torch::zeros({});
        for (int i : order) loss = loss + (params[i] * target(step, v, i)).sum() * 0.5;  // half a micro-batch each
        loss.backward();
      }
      if (k + 1 < local) reducer.keep(k);
    }
    ASSERT_TRUE(reducer.average());
    for (int i = 0; i < 12; ++i) {
      const torch::Tensor grad = params[i].grad().reshape({-1});
      for (std::int64_t e = 0; e < grad.numel(); ++e) {
        double sum = 0;
        for (std::int64_t v = 0; v < ranks; ++v) sum += i == 0 ? 0.0 : static_cast<double>(static_cast<float>(value(step, v, i, e)));
        ASSERT_EQ(grad[e].item<float>(), static_cast<float>(sum / static_cast<double>(ranks)))
            << "step " << step << " parameter " << i << " element " << e;
      }
    }
  }
}

TEST_F(Mpi, RejectsWhatItCannotMove) {
  std::vector<torch::Tensor> strided{torch::zeros({4, 4}).t()};
  EXPECT_THROW(comm.allreduce(strided), trainer::CommError);
  std::vector<torch::Tensor> ints{torch::zeros({4}, torch::kInt64)};
  EXPECT_THROW(comm.allreduce(ints, {ReduceOp::kAverage}), trainer::CommError);
  std::vector<torch::Tensor> half{torch::zeros({4}, torch::kFloat16)};
  EXPECT_THROW(comm.allreduce(half), trainer::CommError);
}

TEST_F(Mpi, BucketerAveragesGradientsAndLeavesFrozenOnesAlone) {
  // 40 parameters of assorted sizes in tiny buckets, so that several buckets are exercised.
  std::vector<torch::Tensor> params;
  for (int i = 0; i < 40; ++i) params.push_back(torch::zeros({i % 7 + 1, 3}, torch::requires_grad()));
  torch::Tensor frozen = torch::zeros({5}, torch::requires_grad(false));
  params.push_back(frozen);
  trainer::comm::GradientBucketer bucketer(params, comm, /*overlap=*/false, {/*first=*/64, /*cap=*/256});
  EXPECT_EQ(bucketer.parameter_count(), 40u);
  EXPECT_GT(bucketer.bucket_count(), 3u);

  for (int i = 0; i < 40; ++i) {
    if (i == 13 && comm.rank() == 0) continue;  // no gradient on rank 0: contributes zeros
    params[i].mutable_grad() = torch::full(params[i].sizes(), (r() + 1) * (i + 1));
  }
  bucketer.average_gradients();
  for (int i = 0; i < 40; ++i) {
    double sum = 0;
    for (int k = 0; k < comm.size(); ++k) sum += (i == 13 && k == 0) ? 0 : (k + 1) * (i + 1);
    ASSERT_TRUE(params[i].grad().defined()) << i;
    EXPECT_TRUE(torch::allclose(params[i].grad(), torch::full(params[i].sizes(), sum / n())))
        << "parameter " << i;
  }
  EXPECT_FALSE(frozen.grad().defined());
}

TEST_F(Mpi, OverlappedBucketsAverageWhatBackwardProducesAndWhatItDoesNot) {
  // Gradients from a real backward reach the buckets through hooks; one parameter is not in the
  // graph (its bucket is completed afterwards), and one step accumulates two micro-batches.
  std::vector<torch::Tensor> params;
  for (int i = 0; i < 30; ++i) params.push_back(torch::zeros({i % 5 + 1, 4}, torch::requires_grad()));
  trainer::comm::GradientBucketer bucketer(params, comm, /*overlap=*/true, {/*first=*/64, /*cap=*/256});
  ASSERT_TRUE(bucketer.overlapping() || comm.size() == 1);
  const int unused = 17;
  const auto backward = [&](double scale) {
    torch::Tensor loss = torch::zeros({});
    for (int i = 0; i < 30; ++i)
      if (i != unused) loss = loss + (params[i] * (scale * (r() + 1) * (i + 1))).sum();
    loss.backward();
  };
  for (int step = 0; step < 2; ++step) {
    for (auto& p : params)
      if (p.grad().defined()) p.mutable_grad().zero_();
    backward(1.0);              // micro-batch 1: accumulated locally, nothing sent
    bucketer.prepare_backward(/*accumulated=*/true);
    backward(2.0);              // micro-batch 2: the hooks send each bucket as it fills
    bucketer.average_gradients();
    for (int i = 0; i < 30; ++i) {
      double sum = 0;
      for (int k = 0; k < comm.size(); ++k) sum += i == unused ? 0 : 3.0 * (k + 1) * (i + 1);
      ASSERT_TRUE(params[i].grad().defined()) << i;
      EXPECT_TRUE(torch::allclose(params[i].grad(), torch::full(params[i].sizes(), sum / n())))
          << "step " << step << " parameter " << i << ": " << params[i].grad().view(-1)[0].item<double>();
    }
  }
}

TEST_F(Mpi, ReduceScatteringBucketsLeaveEachRankItsChunksOfTheAverage) {
  // --shard-optimizer's exchange: with overlap and accumulation, each bucket padded to a multiple
  // of the world size; rank r's chunk of each bucket holds the average of those elements, the
  // padding averages to zero, and the gradients themselves are left as they are.
  std::vector<torch::Tensor> params;
  for (int i = 0; i < 30; ++i) params.push_back(torch::zeros({i % 5 + 1, 3}, torch::requires_grad()));
  for (bool overlap : {true, false}) {
    trainer::comm::GradientBucketer bucketer(params, comm, overlap, {/*first=*/64, /*cap=*/256}, false,
                                             trainer::comm::Exchange::kReduceScatter);
    ASSERT_GT(bucketer.bucket_count(), 3u);
    for (auto& p : params)
      if (p.grad().defined()) p.mutable_grad().zero_();
    const auto backward = [&](double scale) {
      torch::Tensor loss = torch::zeros({});
      for (int i = 0; i < 30; ++i) loss = loss + (params[i] * (scale * (r() + 1) * (i + 1))).sum();
      loss.backward();
    };
    backward(1.0);
    bucketer.prepare_backward(/*accumulated=*/true);
    backward(2.0);
    bucketer.average_gradients();
    for (std::size_t b = 0; b < bucketer.bucket_count(); ++b) {
      std::vector<torch::Tensor> expected;  // the bucket's average, parameter by parameter
      for (const auto& p : bucketer.bucket_parameters(b)) {
        std::size_t i = 0;
        while (!params[i].is_same(p)) ++i;
        double sum = 0;
        for (int k = 0; k < comm.size(); ++k) sum += 3.0 * (k + 1) * (static_cast<double>(i) + 1);
        expected.push_back(torch::full({p.numel()}, sum / n()));
        EXPECT_TRUE(torch::allclose(p.grad(), torch::full(p.sizes(), 3.0 * (r() + 1) * (static_cast<double>(i) + 1))))
            << "a gradient was changed";
      }
      torch::Tensor whole = torch::cat(expected);
      const std::int64_t chunk = bucketer.chunk(b).numel();
      ASSERT_EQ(bucketer.buffer(b).numel(), chunk * comm.size());
      whole = torch::cat({whole, torch::zeros({chunk * comm.size() - whole.numel()})});
      EXPECT_TRUE(torch::allclose(bucketer.chunk(b), whole.narrow(0, chunk * comm.rank(), chunk)))
          << "bucket " << b << (overlap ? " with" : " without") << " overlap";
    }
  }
}

TEST_F(Mpi, AsyncAllreduceCompletesOnWait) {
  torch::Tensor t = torch::full({1000}, static_cast<double>(r() + 1));
  auto work = comm.allreduce_async(t, {ReduceOp::kAverage});
  work->test();
  work->wait();
  EXPECT_TRUE(t.eq((n() + 1) / 2.0).all().item<bool>());
}

}  // namespace

int main(int argc, char** argv) {
  trainer::comm::MpiEnvironment mpi(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  // Every rank prints its report (a failure on rank 1 must be visible); any rank's failure fails all.
  const int failed = RUN_ALL_TESTS();
  MpiCommunicator world;
  std::vector<torch::Tensor> any{torch::tensor({static_cast<std::int64_t>(failed)})};
  world.allreduce(any, {ReduceOp::kMax});
  return any[0].item<std::int64_t>() == 0 ? 0 : 1;
}
