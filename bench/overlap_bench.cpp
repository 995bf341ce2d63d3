// Gradient exchange inside real training steps, with and without overlap: ResNet-18 on synthetic
// 3x32x32 images, forward + backward + gradient averaging per step. Measured in the same run:
//   - step time with --overlap off and on;
//   - the exchange time training waits for (average_gradients() after backward returns);
//   - one raw MPI_Allreduce of the same bytes (all gradients in one buffer), the baseline.
// The ratio "exposed exchange / raw allreduce" is what overlap is for: with it, what backward has
// not hidden is what remains. Checked: the averaged gradients of the last step are the same bits
// with overlap on and off, or the benchmark fails.
//
//   mpirun -np 2 build/bin/overlap_bench [STEPS] [BATCH]

#include "comm/gradient_bucketer.h"
#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"
#include "common/clock.h"
#include "models/registry.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace {

using trainer::Clock;
using trainer::seconds_since;
using trainer::comm::MpiCommunicator;

double slowest(MpiCommunicator& comm, double seconds) {
  std::vector<torch::Tensor> t{torch::tensor({seconds}, torch::kFloat64)};
  comm.allreduce(t, {trainer::comm::ReduceOp::kMax});
  return t[0].item<double>();
}

struct StepTimes {
  double step = 0;     // median seconds per step, slowest rank
  double exposed = 0;  // median seconds in average_gradients() after backward
  torch::Tensor gradients;  // the last step's averaged gradients, flattened
};

StepTimes run_steps(MpiCommunicator& comm, bool overlap, int steps, int batch) {
  torch::manual_seed(1);
  auto model = trainer::models::make_model("resnet18", {3, 10});
  trainer::comm::GradientBucketer bucketer(model->parameters(), comm, overlap);
  torch::Tensor images = torch::randn({batch, 3, 32, 32});
  torch::Tensor labels = torch::randint(0, 10, {batch});
  std::vector<double> step_times, exposed_times;
  for (int s = 0; s < steps + 2; ++s) {  // two warm-up steps
    for (auto& p : model->parameters())
      if (p.grad().defined()) p.mutable_grad().zero_();
    comm.barrier();
    const auto start = Clock::now();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(images), labels);
    bucketer.prepare_backward(/*accumulated=*/false);
    loss.backward();
    const auto exchange = Clock::now();
    bucketer.average_gradients();
    const double exposed = slowest(comm, seconds_since(exchange));
    const double step = slowest(comm, seconds_since(start));
    if (s >= 2) {
      step_times.push_back(step);
      exposed_times.push_back(exposed);
    }
  }
  std::sort(step_times.begin(), step_times.end());
  std::sort(exposed_times.begin(), exposed_times.end());
  std::vector<torch::Tensor> gradients;
  for (const auto& p : model->parameters()) gradients.push_back(p.grad().reshape({-1}));
  return {step_times[step_times.size() / 2], exposed_times[exposed_times.size() / 2], torch::cat(gradients)};
}

}  // namespace

int main(int argc, char** argv) {
  trainer::comm::MpiEnvironment mpi(&argc, &argv);
  const int steps = argc > 1 ? std::atoi(argv[1]) : 8;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 32;
  torch::set_num_threads(1);
  MpiCommunicator comm;

  auto probe = trainer::models::make_model("resnet18", {3, 10});
  std::int64_t elements = 0;
  for (const auto& p : probe->parameters()) elements += p.numel();
  torch::Tensor raw = torch::ones({elements});
  std::vector<double> raw_times;
  for (int i = 0; i < steps + 2; ++i) {
    std::vector<torch::Tensor> tensors{raw};
    comm.barrier();
    const auto start = Clock::now();
    comm.allreduce(tensors, {trainer::comm::ReduceOp::kSum});
    if (i >= 2) raw_times.push_back(slowest(comm, seconds_since(start)));
  }
  std::sort(raw_times.begin(), raw_times.end());
  const double raw_s = raw_times[raw_times.size() / 2];

  const StepTimes off = run_steps(comm, false, steps, batch);
  const StepTimes on = run_steps(comm, true, steps, batch);
  // Every rank compares; a difference anywhere fails the run.
  std::vector<torch::Tensor> differs{torch::tensor({on.gradients.equal(off.gradients) ? 0 : 1}, torch::kInt64)};
  comm.allreduce(differs, {trainer::comm::ReduceOp::kMax});
  const bool identical = differs[0].item<std::int64_t>() == 0;
  if (comm.rank() == 0) {
    std::printf("# overlap_bench: resnet18, %d rank(s), batch %d per rank, %.1f MB of gradients, median of %d steps\n",
                comm.size(), batch, elements * 4 / 1e6, steps);
    std::printf("raw MPI_Allreduce of all gradient bytes: %8.4f s\n", raw_s);
    std::printf("overlap off: step %7.3f s | exchange after backward %8.4f s | ratio to raw %.2f\n", off.step,
                off.exposed, off.exposed / raw_s);
    std::printf("overlap on:  step %7.3f s | exchange after backward %8.4f s | ratio to raw %.2f | step speed-up %.2f\n",
                on.step, on.exposed, on.exposed / raw_s, off.step / on.step);
    std::printf(identical ? "check: gradients with overlap on and off are bit-identical: OK\n"
                          : "check: WRONG RESULT: gradients with overlap on differ from overlap off\n");
  }
  return identical ? 0 : 1;
}
