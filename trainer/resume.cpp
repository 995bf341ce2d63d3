#include "trainer/resume.h"

#include "common/clock.h"
#include "common/error.h"
#include "checkpoint/directory.h"
#include "storage/fs.h"
#include "trainer/python_checkpoint.h"

#include <cstdio>
#include <iostream>
#include <sstream>
#include <vector>

namespace trainer {
namespace {

// Collective: every rank opens `directory`, reads its share of the tensors and receives the rest
// (checkpoint::open_shared), then restores them. A StorageError is the same on every rank, so every
// rank falls back alike; what restore_checkpoint checks is the same everywhere too.
TrainingProgress load(const std::string& directory, const TrainConfig& config, TrainingState& state,
                      comm::Communicator& comm, std::ostream& log) {
  const auto start = Clock::now();
  const std::uint64_t before = storage::fs::bytes_read_by_process();
  const auto reader = checkpoint::open_shared(directory, comm);
  TrainingProgress progress = restore_checkpoint(*reader, config, state, comm.size(), log);
  const double seconds = seconds_since(start);
  const std::uint64_t size = reader->total_bytes();
  double read_by_all = 0;  // what the ranks read from files while loading (the checkpoint, once)
  for (std::int64_t bytes : comm.allgather(static_cast<std::int64_t>(storage::fs::bytes_read_by_process() - before)))
    read_by_all += static_cast<double>(bytes);
  char line[256];
  std::snprintf(line, sizeof line, "%.2f MB in %.3f s (%.1f MB/s); %.2f MB read from storage by %d rank(s)",
                size / 1e6, seconds, size / 1e6 / std::max(seconds, 1e-9), read_by_all / 1e6, comm.size());
  log << "resumed from " << directory << ": " << progress.completed_epochs << " epoch(s) done, global step "
      << progress.global_step << (progress.step_in_epoch ? " (mid-epoch)" : "") << "; loaded " << line << std::endl;
  return progress;
}

// --resume auto, on every rank alike: LATEST first, then every other committed checkpoint, newest
// first (rank 0's listing); "" when there is nothing to resume.
std::string choose_automatically(const TrainConfig& config, TrainingState& state, comm::Communicator& comm,
                                 std::ostream& log, TrainingProgress& loaded) {
  const std::string root = config.checkpoint_dir;
  // Warnings go to standard error, once (rank 0: every rank meets the same unusable checkpoints),
  // when a checkpoint was found; otherwise the error says it all in one line.
  std::vector<std::string> warnings;
  const auto print_warnings = [&] {
    for (const auto& warning : warnings) std::cerr << "trainer: warning: " << warning << std::endl;
  };
  std::string listing;
  if (comm.rank() == 0) {
    const std::vector<std::string> candidates = checkpoint::list_checkpoints(root);
    std::string latest;
    try {
      latest = checkpoint::latest_checkpoint(root);
    } catch (const StorageError& e) {  // a damaged LATEST: the newest checkpoint that loads is as good
      warnings.push_back(std::string(e.what()) + "; trying the checkpoints by their names, newest first");
    }
    if (!latest.empty()) listing += latest + "\n";
    for (auto it = candidates.rbegin(); it != candidates.rend(); ++it)
      if (*it != latest) listing += *it + "\n";
  }
  listing = comm::broadcast_string(listing, comm);
  std::istringstream order(listing);
  std::string newest_failure;
  int tried = 0;
  for (std::string name; std::getline(order, name);) {
    ++tried;
    const std::string directory = storage::fs::join(root, name);
    try {
      loaded = load(directory, config, state, comm, log);
      print_warnings();
      return directory;
    } catch (const StorageError& e) {
      if (newest_failure.empty()) newest_failure = name + ": " + e.what();
      if (comm.rank() == 0)
        warnings.push_back("checkpoint " + directory + " is unusable (" + e.what() + "); trying the previous one");
    }
  }
  if (tried > 0)
    throw StorageError("--resume auto: no usable checkpoint in " + root + " (" + std::to_string(tried) +
                       " tried; the newest, " + newest_failure + ")");
  print_warnings();
  return "";
}

// --resume best: the best committed checkpoint of --checkpoint-dir by --monitor.
std::string choose_best(const TrainConfig& config) {
  if (!config.checkpointing()) throw ConfigError("--resume best needs a --checkpoint-dir");
  const std::vector<std::string> ranked = rank_checkpoints(config.checkpoint_dir, config.monitor);
  if (ranked.empty())
    throw CheckpointError("--resume best: no checkpoint in " + config.checkpoint_dir + " records " + config.monitor +
                          " (only checkpoints at an epoch's end, of runs with a test set, do)");
  return storage::fs::join(config.checkpoint_dir, ranked.front());
}

}  // namespace

std::optional<Resumed> resume_training(const TrainConfig& config, TrainingState& state, comm::Communicator& control,
                                       std::ostream& log) {
  if (config.resume == "none") return std::nullopt;
  if (config.resume == "auto" && !config.checkpointing()) return std::nullopt;
  if (config.resume != "auto" && is_python_checkpoint(config.resume))  // every rank reads the file
    return Resumed{config.resume, resume_from_python(config.resume, config, state, control.size(), log)};

  // Rank 0 names the checkpoint (an error there ends the job from main(), so no rank waits here for
  // an answer that never comes); every rank loads it together (load()).
  if (config.resume == "auto") {
    TrainingProgress progress;
    std::string chosen;
    try {
      chosen = choose_automatically(config, state, control, log, progress);
    } catch (const CheckpointError& e) {  // another run's checkpoints: say what would work
      throw CheckpointError(std::string(e.what()) + " (--resume auto continues the run in " + config.checkpoint_dir +
                            "; for another run: a new --run-dir or --name, or --overwrite to remove its checkpoints "
                            "and start afresh)");
    }
    if (chosen.empty()) return std::nullopt;
    return Resumed{chosen, progress};
  }
  std::string chosen;
  if (control.rank() == 0)
    chosen = config.resume == "best" ? choose_best(config) : checkpoint::resolve_checkpoint_path(config.resume);
  chosen = comm::broadcast_string(chosen, control);
  return Resumed{chosen, load(chosen, config, state, control, log)};
}

}  // namespace trainer
