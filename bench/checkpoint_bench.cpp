// Checkpoint save and load of ResNet-18 with Adam state against plain POSIX I/O of the same bytes,
// measured in the same run: every rank writes its share with write() + fsync() into a file of its
// own (what the shards do at best), and reads it back with read(). Prints the ratios, and the
// training stall of an asynchronous save (host snapshot + commit; the shard is written by a
// background thread meanwhile) against the duration of a synchronous save. The load is checked:
// every tensor read back must equal the one saved, bit for bit, or the benchmark fails.
//
//   mpirun -np 2 build/bin/checkpoint_bench [DIR] [REPEATS]

#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"
#include "common/clock.h"
#include "models/registry.h"
#include "optim/optimizer.h"
#include "storage/checkpoint.h"
#include "storage/fs.h"
#include "storage/ownership.h"
#include "trainer/checkpointing.h"

#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>

namespace {

using trainer::Clock;
namespace storage = trainer::storage;

// The slowest rank's seconds for `work`, median over `repeats`.
double timed(trainer::comm::Communicator& comm, int repeats, const std::function<void()>& work) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    comm.barrier();
    const auto start = Clock::now();
    work();
    std::vector<torch::Tensor> t{torch::tensor({std::chrono::duration<double>(Clock::now() - start).count()},
                                               torch::kFloat64)};
    comm.allreduce(t, {trainer::comm::ReduceOp::kMax});
    times.push_back(t[0].item<double>());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n <= 0) throw std::runtime_error("write failed");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  trainer::comm::MpiEnvironment mpi(&argc, &argv);
  const std::string dir = argc > 1 ? argv[1] : "bench-checkpoints";
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
  torch::set_num_threads(1);
  trainer::comm::MpiCommunicator comm;

  // ResNet-18 and Adam after one step: exp_avg and exp_avg_sq for every parameter.
  torch::manual_seed(0);
  auto model = trainer::models::make_model("resnet18", {3, 10});
  trainer::TrainConfig config;
  config.optimizer.name = "adam";
  config.optimizer.lr = 1e-3;
  trainer::TrainingState state;
  state.identity = {"resnet18", 10, 3, "", {}};
  state.model = trainer::models::state_dict(*model);
  trainer::optim::NamedParameters parameters;
  for (const auto& item : model->named_parameters()) parameters.emplace_back(item.key(), item.value());
  state.optimizer = trainer::optim::make_optimizer(parameters, config.optimizer);
  state.schedule = trainer::optim::make_schedule(config.schedule, config.optimizer.lr);
  model->forward(torch::randn({2, 3, 32, 32})).sum().backward();
  state.optimizer.optimizer->step();
  const storage::CheckpointContents contents =
      trainer::capture_checkpoint(config, state, trainer::TrainingProgress{}, comm.size());
  const storage::NamedTensors tensors = storage::checkpoint_tensors(contents);

  // This rank's share, as the checkpoint assigns it, gathered into one buffer for plain I/O.
  std::vector<std::uint64_t> bytes;
  for (const auto& entry : tensors) bytes.push_back(entry.second.numel() * entry.second.element_size());
  const auto owners = storage::assign_owners(bytes, comm.size());
  std::vector<char> mine;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    total += bytes[i];
    if (owners[i] != comm.rank()) continue;
    const auto* p = static_cast<const char*>(tensors[i].second.data_ptr());
    mine.insert(mine.end(), p, p + bytes[i]);
  }
  if (comm.rank() == 0) storage::fs::make_directories(dir);
  comm.barrier();
  const std::string raw_path = dir + "/raw-" + std::to_string(comm.rank()) + ".bin";

  const double raw_write = timed(comm, repeats, [&] {
    const int fd = ::open(raw_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write_all(fd, mine.data(), mine.size());
    ::fsync(fd);
    ::close(fd);
  });
  // Every save under a new name, as in training; removing old ones is retention's work, not timed.
  int saves = 0;
  const auto next_name = [&] { return "bench-" + std::to_string(saves++); };
  const auto remove_saved = [&] {
    comm.barrier();
    if (comm.rank() == 0)
      for (int i = 0; i < saves; ++i) storage::fs::remove_tree(dir + "/bench-" + std::to_string(i));
    comm.barrier();
  };
  const double save = timed(comm, repeats, [&] { storage::save_checkpoint(dir, next_name(), contents, comm); });
  remove_saved();
  // Asynchronous: training waits for the snapshot (the constructor) and for the commit, not for
  // the write. Each part is timed on the slowest rank.
  std::vector<double> stalls, snapshots, commits;
  storage::SnapshotBuffers buffers;  // reused from one save to the next, as the trainer does
  for (int r = 0; r < repeats; ++r) {
    double snapshot = 0;
    std::unique_ptr<storage::CheckpointSave> pending;
    snapshot = timed(comm, 1, [&] {
      pending = std::make_unique<storage::CheckpointSave>(dir, next_name(), contents, comm, &buffers);
    });
    std::async(std::launch::async, [&] { pending->write_shard(); }).get();
    const double commit = timed(comm, 1, [&] { pending->commit(comm); });
    stalls.push_back(snapshot + commit);
    snapshots.push_back(snapshot);
    commits.push_back(commit);
  }
  std::sort(stalls.begin(), stalls.end());
  std::sort(snapshots.begin(), snapshots.end());
  std::sort(commits.begin(), commits.end());
  const double async_stall = stalls[stalls.size() / 2];
  remove_saved();
  std::vector<char> back(mine.size());
  const double raw_read = timed(comm, repeats, [&] {
    const int fd = ::open(raw_path.c_str(), O_RDONLY);
    std::size_t done = 0;
    while (done < back.size()) done += static_cast<std::size_t>(::read(fd, back.data() + done, back.size() - done));
    ::close(fd);
  });
  // Loading reads every tensor; each rank reads the whole checkpoint, as a resume does, so the
  // baseline for the load is every rank reading all ranks' raw files.
  const double raw_read_all = timed(comm, repeats, [&] {
    std::vector<char> buffer(1 << 20);
    for (int r = 0; r < comm.size(); ++r) {
      const int fd = ::open((dir + "/raw-" + std::to_string(r) + ".bin").c_str(), O_RDONLY);
      while (::read(fd, buffer.data(), buffer.size()) > 0) {
      }
      ::close(fd);
    }
  });
  storage::save_checkpoint(dir, "loaded", contents, comm);
  storage::NamedTensors loaded;
  const double load = timed(comm, repeats, [&] {
    storage::CheckpointReader reader(dir + "/loaded");
    loaded.clear();
    for (const auto& entry : tensors) loaded.emplace_back(entry.first, reader.read(entry.first));
  });
  // What was read back must be what was saved, bit for bit.
  std::size_t equal = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (loaded[i].first == tensors[i].first && loaded[i].second.sizes() == tensors[i].second.sizes() &&
        loaded[i].second.equal(tensors[i].second.to(loaded[i].second.scalar_type())))
      ++equal;
  if (comm.rank() == 0) {
    const double mb = total / 1e6;
    std::printf("# checkpoint_bench: resnet18 + adam, %d rank(s), %.1f MB of tensors, median of %d\n",
                comm.size(), mb, repeats);
    std::printf("save  %7.3f s %7.0f MB/s | raw write+fsync      %7.3f s %7.0f MB/s | ratio %.2f\n", save,
                mb / save, raw_write, mb / raw_write, save / raw_write);
    std::printf("load  %7.3f s %7.0f MB/s | raw read (all files) %7.3f s %7.0f MB/s | ratio %.2f\n", load,
                mb * comm.size() / load, raw_read_all, mb * comm.size() / raw_read_all, load / raw_read_all);
    std::printf("async save: training stall %7.3f s (snapshot %.3f + commit %.3f) | sync save %7.3f s | ratio %.2f\n",
                async_stall, snapshots[snapshots.size() / 2], commits[commits.size() / 2], save, async_stall / save);
    std::printf("# (raw read of one rank's share alone: %.3f s; reads come from the page cache)\n", raw_read);
    if (equal == tensors.size())
      std::printf("check: %zu tensors loaded equal to those saved: OK\n", equal);
    else
      std::printf("check: WRONG RESULT: %zu of %zu tensors loaded differ from those saved\n", tensors.size() - equal,
                  tensors.size());
  }
  comm.barrier();
  if (comm.rank() == 0) storage::fs::remove_tree(dir);
  return equal == tensors.size() ? 0 : 1;
}
