// Gradient-exchange benchmark in the style of nccl-tests: for message sizes from 4 KiB to 64 MiB,
// the time, algorithm bandwidth and bus bandwidth of (a) one raw MPI_Allreduce of the bytes and
// (b) our GradientBucketer averaging a model-like set of gradients of the same total bytes, in the
// same run, and their ratio. Every result is checked, not only timed.
//
//   mpirun -np 2 build/bin/allreduce_bench [--min-bytes N] [--max-bytes N] [--seconds S]

#include "comm/gradient_bucketer.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

using trainer::comm::MpiCommunicator;
using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t min_bytes = 4 << 10;
  std::size_t max_bytes = 64 << 20;
  double seconds = 0.3;  // per size and variant
};

// Seconds per call of `op`, the slowest rank's, after warm-up; repeats until `seconds` have passed.
template <typename Op>
double time_per_call(MpiCommunicator& comm, double seconds, Op op) {
  for (int i = 0; i < 3; ++i) op();
  // Agree on the repetitions first, so every rank calls the collective equally often.
  comm.barrier();
  auto start = Clock::now();
  op();
  double once = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<torch::Tensor> t{torch::tensor({once}, torch::kFloat64)};
  comm.allreduce(t, {trainer::comm::ReduceOp::kMax});
  const int reps = std::max(3, static_cast<int>(seconds / std::max(t[0].item<double>(), 1e-7)));
  comm.barrier();
  start = Clock::now();
  for (int i = 0; i < reps; ++i) op();
  double per_call = std::chrono::duration<double>(Clock::now() - start).count() / reps;
  t = {torch::tensor({per_call}, torch::kFloat64)};
  comm.allreduce(t, {trainer::comm::ReduceOp::kMax});
  return t[0].item<double>();
}

// Gradients shaped like a network's: sizes cycling through a few layer sizes, up to `bytes`.
std::vector<torch::Tensor> model_like_parameters(std::size_t bytes) {
  const std::int64_t shapes[] = {64, 4096, 147456, 512, 589824, 16};
  std::vector<torch::Tensor> params;
  std::int64_t left = static_cast<std::int64_t>(bytes / sizeof(float));
  for (int i = 0; left > 0; ++i) {
    const std::int64_t n = std::min(left, shapes[i % 6]);
    params.push_back(torch::zeros({n}, torch::requires_grad()));
    left -= n;
  }
  return params;
}

}  // namespace

int main(int argc, char** argv) {
  trainer::comm::MpiEnvironment mpi(&argc, &argv);
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--min-bytes")) options.min_bytes = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--max-bytes")) options.max_bytes = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) options.seconds = std::stod(argv[i + 1]);
  }
  torch::set_num_threads(1);
  MpiCommunicator comm;
  const int n = comm.size();
  const double bus_factor = 2.0 * (n - 1) / n;  // nccl-tests' allreduce bus bandwidth factor
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  if (comm.rank() == 0) {
    std::printf("# allreduce_bench: %d ranks, float32, MPI on %s; times are the slowest rank's\n", n, host);
    std::printf("# %10s %10s | %10s %8s %8s | %10s %8s %8s %7s | %5s\n", "bytes", "floats", "raw us",
                "algbw", "busbw", "ours us", "algbw", "busbw", "buckets", "ratio");
  }
  bool all_correct = true;
  for (std::size_t bytes = options.min_bytes; bytes <= options.max_bytes; bytes *= 2) {
    const std::int64_t count = static_cast<std::int64_t>(bytes / sizeof(float));
    torch::Tensor raw = torch::empty({count});
    std::vector<torch::Tensor> raw_list{raw};
    const double raw_s = time_per_call(comm, options.seconds, [&] {
      raw.fill_(comm.rank() + 1);
      comm.allreduce(raw_list, {trainer::comm::ReduceOp::kSum});
    });
    bool correct = raw.eq(n * (n + 1) / 2.0).all().item<bool>();

    std::vector<torch::Tensor> params = model_like_parameters(bytes);
    for (auto& p : params) p.mutable_grad() = torch::empty_like(p);
    trainer::comm::GradientBucketer bucketer(params, comm, /*overlap=*/false);
    const double ours_s = time_per_call(comm, options.seconds, [&] {
      for (auto& p : params) p.mutable_grad().fill_(comm.rank() + 1);
      bucketer.average_gradients();
    });
    for (auto& p : params) correct = correct && p.grad().eq((n + 1) / 2.0).all().item<bool>();

    // Subtract the fills, which both variants do, as nearly as one can: time them alone.
    const double fill_raw = time_per_call(comm, options.seconds / 3, [&] { raw.fill_(comm.rank() + 1); });
    const double fill_ours = time_per_call(comm, options.seconds / 3, [&] {
      for (auto& p : params) p.mutable_grad().fill_(comm.rank() + 1);
    });
    const double raw_net = std::max(raw_s - fill_raw, 1e-9), ours_net = std::max(ours_s - fill_ours, 1e-9);
    std::vector<torch::Tensor> ok{torch::tensor({correct ? 0 : 1}, torch::kInt64)};
    comm.allreduce(ok, {trainer::comm::ReduceOp::kMax});
    correct = ok[0].item<std::int64_t>() == 0;
    all_correct = all_correct && correct;
    if (comm.rank() == 0) {
      const double gb = static_cast<double>(bytes) / 1e9;
      std::printf("  %10zu %10lld | %10.1f %8.2f %8.2f | %10.1f %8.2f %8.2f %7zu | %5.2f %s\n", bytes,
                  static_cast<long long>(count), raw_net * 1e6, gb / raw_net, gb / raw_net * bus_factor,
                  ours_net * 1e6, gb / ours_net, gb / ours_net * bus_factor, bucketer.bucket_count(),
                  ours_net / raw_net, correct ? "" : "WRONG RESULT");
    }
  }
  if (comm.rank() == 0) {
    std::printf("# bandwidths in GB/s; ratio = ours / raw (lower is better; 1.00 = no overhead)\n");
    std::printf(all_correct ? "check: every sum and average correct: OK\n" : "check: WRONG RESULT in a row above\n");
  }
  return all_correct ? 0 : 1;
}
