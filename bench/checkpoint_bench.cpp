// Checkpoint save and load of ResNet-18 with Adam state against plain POSIX I/O of the same bytes,
// measured in the same run: every rank writes its share with write() + fsync() into a new file of
// its own (what the shards do at best), and reads it back with read() into memory. Prints the
// ratios with their targets, the phases of each, and the training stall of an asynchronous save
// (host snapshot + commit; the shard is written by a background thread meanwhile) against a
// synchronous save. The load is checked: every tensor read back must equal the one saved, bit for
// bit, or the benchmark fails.
//
//   mpirun -np N build/bin/checkpoint_bench [DIR] [REPEATS]          the ratios
//   mpirun -np N build/bin/checkpoint_bench DIR REPEATS --curve      one row of bench/cost_curves.sh's table
//   build/bin/checkpoint_bench DIR 1 --rss MB sync|async              peak memory of a save of MB of tensors

#include "comm/mpi_communicator.h"
#include "comm/mpi_environment.h"
#include "common/clock.h"
#include "models/registry.h"
#include "optim/optimizer.h"
#include "checkpoint/checkpoint.h"
#include "storage/fletcher32.h"
#include "storage/fs.h"
#include "checkpoint/ownership.h"
#include "trainer/checkpointing.h"

#include <fcntl.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <sstream>

namespace {

using trainer::Clock;
namespace storage = trainer::storage;
namespace checkpoint = trainer::checkpoint;

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

// In calls of at most 16 MiB, the size of the checkpoint's chunks (one call of everything was
// slower here when the kernel throttles dirty pages).
void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, std::min<std::size_t>(size, std::size_t{16} << 20));
    if (n <= 0) throw std::runtime_error("write failed");
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

// The ResNet-18 + Adam state after one step: exp_avg and exp_avg_sq for every parameter.
checkpoint::CheckpointContents resnet_contents(int world_size) {
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
  checkpoint::CheckpointContents contents = trainer::capture_checkpoint(config, state, trainer::TrainingProgress{}, world_size);
  for (auto& [name, tensor] : contents.model) tensor = tensor.clone();  // outlive the model
  for (auto& entry : contents.optimizer_state) entry.tensor = entry.tensor.clone();
  return contents;
}

// This rank's share of the tensors, as the checkpoint assigns it, gathered into one buffer.
std::vector<char> share_of(const storage::NamedTensors& tensors, const trainer::comm::Communicator& comm,
                           std::uint64_t* total) {
  std::vector<std::uint64_t> bytes;
  for (const auto& entry : tensors) bytes.push_back(entry.second.numel() * entry.second.element_size());
  const auto owners = checkpoint::assign_owners(bytes, comm.size());
  std::vector<char> mine;
  *total = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    *total += bytes[i];
    if (owners[i] != comm.rank()) continue;
    const auto* p = static_cast<const char*>(tensors[i].second.data_ptr());
    mine.insert(mine.end(), p, p + bytes[i]);
  }
  return mine;
}

std::string status_field(const std::string& field) {  // from /proc/self/status, e.g. "VmHWM:"
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field, 0) == 0) return line.substr(field.size());
  return "";
}

double resident_mb(const char* field) { return std::atof(status_field(field).c_str()) / 1024.0; }

// Lets VmHWM start again from the current resident size (Linux's clear_refs, value 5).
void reset_peak_memory() { std::ofstream("/proc/self/clear_refs") << "5"; }

// write() + fsync() of `mine` into a new file (as every save creates new files): seconds of each on
// the slowest rank.
std::pair<double, double> raw_write(trainer::comm::Communicator& comm, const std::string& path,
                                    const std::vector<char>& mine) {
  double fsync_seconds = 0;
  const double seconds = timed(comm, 1, [&] {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + path);
    write_all(fd, mine.data(), mine.size());
    const auto start = Clock::now();
    ::fsync(fd);
    fsync_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ::close(fd);
  });
  std::vector<torch::Tensor> t{torch::tensor({fsync_seconds}, torch::kFloat64)};
  comm.allreduce(t, {trainer::comm::ReduceOp::kMax});
  return {seconds - t[0].item<double>(), t[0].item<double>()};
}

// read() of the file at `path` into memory, the bytes landing where a load must put them.
double raw_read(trainer::comm::Communicator& comm, const std::string& path, std::size_t size, int repeats) {
  std::vector<char> back(size);
  return timed(comm, repeats, [&] {
    const int fd = ::open(path.c_str(), O_RDONLY);
    std::size_t done = 0;
    while (done < back.size()) done += static_cast<std::size_t>(::read(fd, back.data() + done, back.size() - done));
    ::close(fd);
  });
}

// Every tensor of the checkpoint at `directory` on every rank: shared (read once per job) or each
// rank reading it all. Adds the bytes this rank read from files (rchar) to *read_bytes.
storage::NamedTensors load(const std::string& directory, trainer::comm::Communicator& comm, bool shared,
                           std::uint64_t* read_bytes) {
  const std::uint64_t before = storage::fs::bytes_read_by_process();
  std::unique_ptr<checkpoint::CheckpointReader> reader =
      shared ? checkpoint::open_shared(directory, comm) : std::make_unique<checkpoint::CheckpointReader>(directory);
  storage::NamedTensors loaded;
  for (const auto& info : reader->describe()) loaded.emplace_back(info.path, reader->read(info.path));
  std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  *read_bytes += storage::fs::bytes_read_by_process() - before;
  return loaded;
}

std::uint64_t sum_over_ranks(trainer::comm::Communicator& comm, std::uint64_t value) {
  std::uint64_t sum = 0;
  for (std::int64_t v : comm.allgather(static_cast<std::int64_t>(value))) sum += static_cast<std::uint64_t>(v);
  return sum;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// The verdict on a ratio against its target, with what to look at when it is missed.
std::string verdict(double ratio, double target, bool at_most) {
  char text[96];
  const bool met = at_most ? ratio <= target : ratio >= target;
  if (met) return "met";
  std::snprintf(text, sizeof text, "MISSED by %.1f%%", 100 * std::abs(ratio / target - 1));
  return text;
}

struct SaveTimes {
  double prepare = 0, write = 0, commit = 0;  // the save's phases
  double raw_write = 0, raw_fsync = 0;        // the baseline's
  double total() const { return prepare + write + commit; }
  double raw() const { return raw_write + raw_fsync; }
};

// Synchronous saves under new names, as in training, each phase on the slowest rank, alternating
// with raw writes of the same bytes so that both meet the same moods of the disk (medians). What
// was written is removed afterwards, untimed (retention's work).
SaveTimes sync_saves(const std::string& dir, const checkpoint::CheckpointContents& contents,
                     trainer::comm::Communicator& comm, int repeats, const std::vector<char>& mine) {
  std::vector<double> prepares, writes, commits, raw_writes, raw_fsyncs;
  const auto raw_path = [&](int r) { return dir + "/raw-" + std::to_string(comm.rank()) + "-" + std::to_string(r); };
  for (int r = 0; r < repeats; ++r) {
    const auto [write, fsync] = raw_write(comm, raw_path(r), mine);
    raw_writes.push_back(write);
    raw_fsyncs.push_back(fsync);
    std::unique_ptr<checkpoint::CheckpointSave> save;
    const std::string name = "sync-" + std::to_string(r);
    prepares.push_back(
        timed(comm, 1, [&] { save = std::make_unique<checkpoint::CheckpointSave>(dir, name, contents, comm, nullptr); }));
    writes.push_back(timed(comm, 1, [&] { save->write_shard(); }));
    commits.push_back(timed(comm, 1, [&] { save->commit(comm); }));
  }
  comm.barrier();
  for (int r = 0; r + 1 < repeats; ++r) ::unlink(raw_path(r).c_str());  // the last one is read back
  if (comm.rank() == 0)
    for (int r = 0; r < repeats; ++r) storage::fs::remove_tree(dir + "/sync-" + std::to_string(r));
  comm.barrier();
  return {median(prepares), median(writes), median(commits), median(raw_writes), median(raw_fsyncs)};
}

// Asynchronous: training waits for the snapshot (the constructor) and for the commit, not for the
// write, which a background thread does. Returns the median stall, snapshot and commit.
std::array<double, 3> async_saves(const std::string& dir, const checkpoint::CheckpointContents& contents,
                                  trainer::comm::Communicator& comm, int repeats) {
  std::vector<double> stalls, snapshots, commits;
  checkpoint::SnapshotBuffers buffers;  // reused from one save to the next, as the trainer does
  for (int r = 0; r < repeats; ++r) {
    std::unique_ptr<checkpoint::CheckpointSave> pending;
    const std::string name = "async-" + std::to_string(r);
    const double snapshot = timed(comm, 1, [&] {
      pending = std::make_unique<checkpoint::CheckpointSave>(dir, name, contents, comm, &buffers);
    });
    std::async(std::launch::async, [&] { pending->write_shard(); }).get();
    const double commit = timed(comm, 1, [&] { pending->commit(comm); });
    stalls.push_back(snapshot + commit);
    snapshots.push_back(snapshot);
    commits.push_back(commit);
  }
  comm.barrier();
  if (comm.rank() == 0)
    for (int r = 0; r < repeats; ++r) storage::fs::remove_tree(dir + "/async-" + std::to_string(r));
  return {median(stalls), median(snapshots), median(commits)};
}

struct LoadTimes {
  double seconds = 0;
  std::uint64_t read_by_all = 0;  // bytes all ranks read from files, one load
  storage::NamedTensors tensors;
};

LoadTimes timed_load(const std::string& directory, trainer::comm::Communicator& comm, bool shared, int repeats) {
  LoadTimes load;
  std::uint64_t read = 0;
  load.seconds = timed(comm, repeats, [&] { load.tensors = ::load(directory, comm, shared, &read); });
  load.read_by_all = sum_over_ranks(comm, read) / static_cast<std::uint64_t>(repeats);
  return load;
}

// Every tensor loaded must equal the one saved, bit for bit.
bool check_loaded(const storage::NamedTensors& saved, const storage::NamedTensors& loaded, int rank) {
  std::size_t equal = 0;
  for (std::size_t i = 0; i < saved.size() && i < loaded.size(); ++i)
    if (loaded[i].first == saved[i].first && loaded[i].second.sizes() == saved[i].second.sizes() &&
        loaded[i].second.equal(saved[i].second.to(loaded[i].second.scalar_type())))
      ++equal;
  const bool ok = equal == saved.size() && loaded.size() == saved.size();
  if (rank == 0 && ok) std::printf("check: %zu tensors loaded equal to those saved: OK\n", equal);
  if (rank == 0 && !ok)
    std::printf("check: WRONG RESULT: %zu of %zu tensors loaded differ from those saved\n", saved.size() - equal,
                saved.size());
  return ok;
}

// The three figures of a checkpoint against raw I/O with their targets (default mode), or one row
// of the cost curve (--curve).
int measure(const std::string& dir, int repeats, bool curve, trainer::comm::Communicator& comm) {
  const checkpoint::CheckpointContents contents = resnet_contents(comm.size());
  const storage::NamedTensors tensors = checkpoint::checkpoint_tensors(contents);
  std::uint64_t total = 0;
  const std::vector<char> mine = share_of(tensors, comm, &total);
  const SaveTimes save = sync_saves(dir, contents, comm, repeats, mine);
  const std::string raw_file = dir + "/raw-" + std::to_string(comm.rank()) + "-" + std::to_string(repeats - 1);
  const double raw_read_seconds = raw_read(comm, raw_file, mine.size(), repeats);
  const auto [stall, snapshot, async_commit] = async_saves(dir, contents, comm, repeats);
  checkpoint::save_checkpoint(dir, "loaded", contents, comm);
  const std::string loaded = dir + "/loaded";
  const LoadTimes shared = timed_load(loaded, comm, /*shared=*/true, repeats);
  const LoadTimes all = comm.size() > 1 ? timed_load(loaded, comm, /*shared=*/false, repeats) : LoadTimes{};
  const bool ok = check_loaded(tensors, shared.tensors, comm.rank()) &&
                  (comm.size() == 1 || check_loaded(tensors, all.tensors, comm.rank()));
  if (comm.rank() != 0) return ok ? 0 : 1;
  const double mb = total / 1e6;
  if (curve) {
    std::printf("curve %5d %8.3f %8.3f %8.3f %8.3f %9.1f %9.1f %7.1f\n", comm.size(), save.total(), save.commit,
                shared.seconds, comm.size() > 1 ? all.seconds : shared.seconds, shared.read_by_all / 1e6,
                (comm.size() > 1 ? all.read_by_all : shared.read_by_all) / 1e6, mb);
    return ok ? 0 : 1;
  }
  // The floor of a verified load: the bytes read once, and one Fletcher-32 pass over them.
  const auto start = Clock::now();
  volatile std::uint32_t sink = storage::fletcher32(mine.data(), mine.size());
  (void)sink;
  const double checksum = trainer::seconds_since(start);
  const double raw_save = save.raw(), save_ratio = save.total() / raw_save;
  const double load_ratio = shared.seconds / raw_read_seconds;
  std::printf("# checkpoint_bench: resnet18 + adam, %d rank(s), %.1f MB of tensors, median of %d\n", comm.size(), mb,
              repeats);
  std::printf("save  %7.3f s %6.0f MB/s | raw write+fsync, new files %7.3f s %6.0f MB/s | ratio %.2f\n", save.total(),
              mb / save.total(), raw_save, mb / raw_save, save_ratio);
  std::printf("  save phases: prepare %.3f s, shard written+fsynced %.3f s, commit %.3f s | raw: write %.3f s, fsync %.3f s\n",
              save.prepare, save.write, save.commit, save.raw_write, save.raw_fsync);
  std::printf("load  %7.3f s %6.0f MB/s | raw read into memory       %7.3f s %6.0f MB/s | ratio %.2f%s\n",
              shared.seconds, mb / shared.seconds, raw_read_seconds, mine.size() / 1e6 / raw_read_seconds, load_ratio,
              comm.size() > 1 ? " (each rank reads its share once, receives the rest)" : "");
  std::printf("  load floor: raw read + one Fletcher-32 pass (%.3f s, %.1f GB/s) = %.2fx\n", checksum,
              mine.size() / 1e9 / std::max(checksum, 1e-9), (raw_read_seconds + checksum) / raw_read_seconds);
  if (comm.size() > 1)
    std::printf("  every rank reading it all: %.3f s; read from storage by all ranks: %.1f MB shared, %.1f MB each-reads-all\n",
                all.seconds, shared.read_by_all / 1e6, all.read_by_all / 1e6);
  std::printf("async save: training stall %7.3f s (snapshot %.3f + commit %.3f) | sync save %7.3f s | ratio %.2f\n",
              stall, snapshot, async_commit, save.total(), stall / save.total());
  std::printf("target: sync save <= 1.25x raw write+fsync: %.2fx, %s\n", save_ratio,
              verdict(save_ratio, 1.25, true).c_str());
  std::printf("target: verified load <= 3x raw read: %.2fx, %s\n", load_ratio, verdict(load_ratio, 3, true).c_str());
  return ok ? 0 : 1;
}

// Peak resident memory of one save of `mb` MB of tensors (4 MiB each), sync or async, against the
// resident size before it: what a rank needs beyond its model and optimizer state.
int measure_memory(const std::string& dir, double mb, const std::string& kind, trainer::comm::Communicator& comm) {
  checkpoint::CheckpointContents contents;
  contents.run.model = "synthetic";
  contents.run.num_classes = 1;
  const int count = std::max(1, static_cast<int>(mb / 4.194304));
  for (int i = 0; i < count; ++i)
    contents.model.emplace_back("layer" + std::to_string(i) + ".weight", torch::rand({1024, 1024}));
  contents.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  const double before = resident_mb("VmRSS:");
  reset_peak_memory();
  checkpoint::SnapshotBuffers buffers;
  if (kind == "async") {
    checkpoint::CheckpointSave save(dir, "memory", contents, comm, &buffers);
    std::async(std::launch::async, [&] { save.write_shard(); }).get();
    save.commit(comm);
  } else {
    checkpoint::save_checkpoint(dir, "memory", contents, comm);
  }
  const double peak = resident_mb("VmHWM:");
  if (comm.rank() == 0)
    std::printf("memory %-5s %8.0f %10.0f %10.0f %+10.0f %8.2f\n", kind.c_str(), count * 4.194304, before, peak,
                peak - before, (peak - before) / (count * 4.194304));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  trainer::comm::MpiEnvironment mpi(&argc, &argv);
  const std::string dir = argc > 1 ? argv[1] : "bench-checkpoints";
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
  const std::string mode = argc > 3 ? argv[3] : "";
  torch::set_num_threads(1);
  trainer::comm::MpiCommunicator comm;
  if (comm.rank() == 0) storage::fs::make_directories(dir);
  comm.barrier();
  const int status = mode == "--rss" ? measure_memory(dir, argc > 4 ? std::atof(argv[4]) : 256, argc > 5 ? argv[5] : "sync", comm)
                                     : measure(dir, repeats, mode == "--curve", comm);
  comm.barrier();
  if (comm.rank() == 0) storage::fs::remove_tree(dir);
  return status;
}
