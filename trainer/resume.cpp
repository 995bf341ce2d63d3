#include "trainer/resume.h"

#include "common/clock.h"
#include "common/error.h"
#include "storage/checkpoint_dir.h"
#include "storage/fs.h"
#include "trainer/python_checkpoint.h"

#include <cstdio>

namespace trainer {
namespace {

TrainingProgress load(const std::string& directory, const TrainConfig& config, TrainingState& state, int world_size,
                      std::ostream& log) {
  const auto start = Clock::now();
  storage::CheckpointReader reader(directory);
  TrainingProgress progress = restore_checkpoint(reader, config, state, world_size, log);
  const double seconds = seconds_since(start);
  char line[256];
  std::snprintf(line, sizeof line, "%.2f MB in %.3f s (%.1f MB/s)", reader.total_bytes() / 1e6, seconds,
                reader.total_bytes() / 1e6 / std::max(seconds, 1e-9));
  log << "resumed from " << directory << ": " << progress.completed_epochs << " epoch(s) done, global step "
      << progress.global_step << (progress.step_in_epoch ? " (mid-epoch)" : "") << "; loaded " << line << std::endl;
  return progress;
}

// Rank 0's choice for --resume auto: "" when there is nothing to resume.
std::string choose_automatically(const TrainConfig& config, TrainingState& state, int world_size, std::ostream& log,
                                 TrainingProgress& loaded) {
  const std::string root = config.checkpoint_dir;
  std::vector<std::string> candidates = storage::list_checkpoints(root);
  const std::string latest = storage::latest_checkpoint(root);
  // LATEST first, then every other committed checkpoint, newest first.
  std::vector<std::string> order;
  if (!latest.empty()) order.push_back(latest);
  for (auto it = candidates.rbegin(); it != candidates.rend(); ++it)
    if (*it != latest) order.push_back(*it);
  for (const auto& name : order) {
    const std::string directory = storage::fs::join(root, name);
    try {
      loaded = load(directory, config, state, world_size, log);
      return directory;
    } catch (const StorageError& e) {
      log << "warning: checkpoint " << directory << " is unusable (" << e.what() << "); trying the previous one"
          << std::endl;
    }
  }
  if (!order.empty()) throw StorageError("--resume auto: no usable checkpoint in " + root);
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

  // Rank 0 decides (and loads); the others learn the directory and load it themselves. An error on
  // rank 0 ends the job from main(), so no rank waits here for an answer that never comes.
  const int world_size = control.size();
  std::string chosen;
  TrainingProgress progress;
  if (control.rank() == 0) {
    if (config.resume == "auto") {
      chosen = choose_automatically(config, state, world_size, log, progress);
    } else if (config.resume == "best") {
      chosen = choose_best(config);
      progress = load(chosen, config, state, world_size, log);
    } else {
      chosen = storage::resolve_checkpoint_path(config.resume);
      progress = load(chosen, config, state, world_size, log);
    }
  }
  chosen = comm::broadcast_string(chosen, control);
  if (chosen.empty()) return std::nullopt;
  if (control.rank() != 0) progress = load(chosen, config, state, world_size, log);
  return Resumed{chosen, progress};
}

}  // namespace trainer
