#include "trainer/run_directory.h"

#include "common/error.h"
#include "checkpoint/directory.h"
#include "checkpoint/output_path.h"
#include "storage/fs.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

namespace trainer {
namespace {

constexpr const char* kRunsRoot = "runs";
constexpr const char* kConfigFile = "config.ini";

// Options that say where outputs go, how long to train, or how to run: a run continued with other
// values of these is the same run.
const std::set<std::string>& not_identity() {
  static const std::set<std::string> keys = {
      "epochs",       "device",           "gpu-order",      "verbose",          "stop-signals",
      "signal-lead",  "comm-timeout",     "threads",        "metrics-file",     "tensorboard",
      "timeline",     "save-weights",     "run-dir",        "name",             "overwrite",
      "checkpoint-dir", "checkpoint-every", "checkpoint-every-steps", "keep-last", "keep-best",
      "monitor",      "checkpoint-async", "checkpoint-backend", "resume",         "progress-seconds", "workers",
      "prefetch",     "test-batch-size",  "limit-test",     "overlap",
      "shard-optimizer"};
  return keys;
}

std::string trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r") - begin + 1);
}

RunIdentity identity_in(const std::string& ini) { return run_identity(storage::fs::read_text(ini, 1 << 20)); }

bool has_checkpoints(const std::string& root) {
  return storage::fs::is_directory(root) && !checkpoint::list_checkpoints(root).empty();
}

double modified_time(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<double>(info.st_mtim.tv_sec) + info.st_mtim.tv_nsec * 1e-9 : 0;
}

std::string checkpoints_of(const TrainConfig& config, const std::string& run_dir) {
  return config.explicitly("checkpoint-dir") ? config.checkpoint_dir : storage::fs::join(run_dir, "checkpoints");
}

// The run under runs/ whose configuration matches and which has a checkpoint to continue from
// (the newest such); "" when there is none.
std::string matching_run(const TrainConfig& config, const RunIdentity& ours) {
  if (!storage::fs::is_directory(kRunsRoot)) return "";
  std::string best;
  double best_time = -1;
  for (const auto& name : storage::fs::list_directory(kRunsRoot)) {
    const std::string dir = storage::fs::join(kRunsRoot, name);
    const std::string ini = storage::fs::join(dir, kConfigFile);
    if (!storage::fs::exists(ini) || storage::fs::is_directory(ini)) continue;
    try {
      if (!identity_difference(ours, identity_in(ini), ini).empty()) continue;
    } catch (const StorageError&) {
      continue;  // unreadable: not a run this one can be
    }
    if (!has_checkpoints(checkpoints_of(config, dir))) continue;
    if (const double time = modified_time(ini); time > best_time) best = dir, best_time = time;
  }
  return best;
}

// A new runs/version_N, claimed by mkdir so that two jobs starting at once never share one.
std::string new_version_directory() {
  storage::fs::make_directories(kRunsRoot);
  int next = 0;
  for (const auto& name : storage::fs::list_directory(kRunsRoot))
    if (name.rfind("version_", 0) == 0) {
      try {
        next = std::max(next, std::stoi(name.substr(8)) + 1);
      } catch (const std::exception&) {
      }
    }
  for (;; ++next) {
    const std::string dir = storage::fs::join(kRunsRoot, "version_" + std::to_string(next));
    if (::mkdir(dir.c_str(), 0755) == 0) return dir;
    if (errno != EEXIST) throw StorageError(dir + ": cannot create the run directory: " + std::strerror(errno));
  }
}

std::string way_out(const TrainConfig& config) {
  const bool legacy = !config.explicitly("run-dir") && !config.explicitly("name");
  return legacy ? "to keep them, name another --checkpoint-dir (or use --run-dir DIR); to remove them and start "
                  "afresh, add --overwrite"
                : "to keep it, choose a new directory (--run-dir DIR or --name NAME); to remove its checkpoints, "
                  "metrics and weights and start afresh, add --overwrite";
}

// --overwrite: the earlier run's checkpoints (under its lock: never those of a job still running),
// and in a run directory its metrics and weights, removed together before anything is written.
void clear_earlier_run(const TrainConfig& config, const std::string& run_dir, std::ostream& log) {
  std::size_t removed = 0;
  if (config.checkpointing() && storage::fs::is_directory(config.checkpoint_dir)) {
    const auto lock = checkpoint::DirectoryLock::acquire(config.checkpoint_dir);
    removed = checkpoint::remove_checkpoints(config.checkpoint_dir).size();
  }
  if (!run_dir.empty())
    for (const char* file : {"metrics.jsonl", "weights.h5"}) {
      const std::string path = storage::fs::join(run_dir, file);
      if (storage::fs::exists(path) && !storage::fs::is_directory(path)) storage::fs::remove_tree(path);
    }
  log << "--overwrite: removed " << removed << " checkpoint(s) of the earlier run"
      << (run_dir.empty() ? " in " + config.checkpoint_dir : " and its metrics and weights in " + run_dir) << std::endl;
}

// A named directory (run directory or legacy --checkpoint-dir): refused when it holds another run.
void check_directory_is_ours(TrainConfig& config, const std::string& run_dir, const RunIdentity& ours) {
  const std::string ini = run_dir.empty() ? "" : storage::fs::join(run_dir, kConfigFile);
  const bool checkpoints = config.checkpointing() && has_checkpoints(config.checkpoint_dir);
  const std::string where = run_dir.empty() ? "--checkpoint-dir " + config.checkpoint_dir : "run directory " + run_dir;
  if (!ini.empty() && storage::fs::exists(ini) && (checkpoints || storage::fs::exists(config.metrics_file))) {
    const std::string difference = identity_difference(ours, identity_in(ini), ini);
    if (!difference.empty())
      throw CheckpointError(where + " holds another run (" + difference + "); " + way_out(config));
  }
  if (checkpoints && config.resume == "none")
    throw CheckpointError(where + " holds the checkpoints of an earlier run (newest " +
                          checkpoint::list_checkpoints(config.checkpoint_dir).back() +
                          "); --resume none would start afresh beside them; " + way_out(config));
}

// Rank 0's decision; returns the run directory ("" for a legacy --checkpoint-dir run).
std::string choose_run_directory(TrainConfig& config, std::ostream& log) {
  const RunIdentity ours = run_identity(config.resolved_ini);
  const bool named = config.explicitly("run-dir") || config.explicitly("name");
  if (!named && config.explicitly("checkpoint-dir")) {
    if (config.overwrite) clear_earlier_run(config, "", log), config.resume = "none";
    else check_directory_is_ours(config, "", ours);
    return "";
  }
  std::string dir = config.explicitly("run-dir") ? config.run_dir
                    : named                      ? storage::fs::join(kRunsRoot, config.run_name)
                                                 : "";
  if (dir.empty()) {
    if (config.overwrite)
      throw ConfigError("--overwrite needs the directory it clears: --run-dir DIR or --name NAME");
    if (config.resume == "auto" || config.resume == "best") dir = matching_run(config, ours);
    if (!dir.empty())
      log << "run directory " << dir << ": continuing it (its config.ini matches this run's options)" << std::endl;
    else {
      dir = new_version_directory();
      log << "run directory " << dir << " (new)" << std::endl;
    }
  }
  config.run_dir = dir;
  config.checkpoint_dir = checkpoints_of(config, dir);
  if (!config.explicitly("metrics-file")) config.metrics_file = storage::fs::join(dir, "metrics.jsonl");
  if (!config.explicitly("save-weights")) config.save_weights = storage::fs::join(dir, "weights.h5");
  if (named) {
    if (config.overwrite) clear_earlier_run(config, dir, log), config.resume = "none";
    else check_directory_is_ours(config, dir, ours);
    log << "run directory " << dir << std::endl;
  }
  storage::fs::make_directories(dir);
  storage::fs::replace_text_atomically(storage::fs::join(dir, kConfigFile), config.resolved_ini);
  return dir;
}

void create_folder_for(const std::string& option, const std::string& path, bool is_directory) {
  if (path.empty()) return;
  const std::string folder = is_directory ? path : storage::fs::parent_of(path);
  if (folder.empty()) return;
  try {
    storage::fs::make_directories(folder);
  } catch (const StorageError& e) {
    throw ConfigError("--" + option + " " + path + ": cannot create its folder (" + e.what() + ")");
  }
}

}  // namespace

RunIdentity run_identity(const std::string& ini_text) {
  RunIdentity identity;
  std::istringstream lines(ini_text);
  for (std::string line; std::getline(lines, line);) {
    line = trim(line);
    if (line.rfind("# ", 0) == 0) line = line.substr(2);  // a default, written as a comment
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    const auto equals = line.find('=');
    if (equals == std::string::npos) continue;
    const std::string key = trim(line.substr(0, equals));
    if (!not_identity().count(key)) identity[key].push_back(trim(line.substr(equals + 1)));
  }
  return identity;
}

std::string identity_difference(const RunIdentity& ours, const RunIdentity& theirs, const std::string& where) {
  std::set<std::string> keys;
  for (const auto* side : {&ours, &theirs})
    for (const auto& entry : *side) keys.insert(entry.first);
  const auto text = [](const RunIdentity& identity, const std::string& key) {
    const auto it = identity.find(key);
    if (it == identity.end()) return std::string("(unset)");
    std::string joined;
    for (const auto& value : it->second) joined += (joined.empty() ? "" : " ") + value;
    return joined;
  };
  for (const auto& key : keys)
    if (text(ours, key) != text(theirs, key))
      return "--" + key + " " + text(ours, key) + " in this run against " + text(theirs, key) + " in " + where;
  return "";
}

void create_output_folders(const TrainConfig& config) {
  const std::vector<std::string> roots = {config.checkpointing() ? config.checkpoint_dir : std::string()};
  checkpoint::check_output_path("metrics-file", config.metrics_file, checkpoint::OutputKind::kFile, roots);
  checkpoint::check_output_path("timeline", config.timeline_file, checkpoint::OutputKind::kFile, roots);
  checkpoint::check_output_path("save-weights", config.save_weights, checkpoint::OutputKind::kFile, roots);
  checkpoint::check_output_path("tensorboard", config.tensorboard_dir, checkpoint::OutputKind::kDirectory, roots);
  create_folder_for("metrics-file", config.metrics_file, false);
  create_folder_for("timeline", config.timeline_file, false);
  create_folder_for("save-weights", config.save_weights, false);
  create_folder_for("tensorboard", config.tensorboard_dir, true);
}

void place_run(TrainConfig& config, comm::Communicator& comm, std::ostream& log) {
  std::string decided;
  if (comm.rank() == 0) {
    const std::string dir = choose_run_directory(config, log);
    create_output_folders(config);
    decided = dir + "\n" + config.checkpoint_dir + "\n" + config.metrics_file + "\n" + config.save_weights + "\n" +
              config.resume + "\n";
  }
  decided = comm::broadcast_string(decided, comm);
  std::istringstream fields(decided);
  std::getline(fields, config.run_dir);
  std::getline(fields, config.checkpoint_dir);
  std::getline(fields, config.metrics_file);
  std::getline(fields, config.save_weights);
  std::getline(fields, config.resume);
}

}  // namespace trainer
