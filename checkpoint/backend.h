#pragma once
// Where a checkpoint's files go: the seam between the save protocol (checkpoint.h: the plan, the
// three phases, the commit's order) and the place that stores the result. A save asks its backend
// for a local directory to write its HDF5 files into (libhdf5 writes POSIX paths), hands every
// finished file over, and rank 0 commits once all ranks have; retention, LATEST and the listing
// go through the backend too. Committed checkpoints are read from <root>/<name>, which every
// backend here commits to (a backend that keeps them elsewhere would also fetch them for reading).
//
// The backends (backends.cpp holds their registry; --checkpoint-backend picks one):
//   posix        the files are written in the checkpoint root itself (the default);
//   staged:DIR   written to DIR (node-local disk), then copied into the root, one file at a time.
// Adding one is a file pair implementing Backend and one line in backends.cpp. Torch-free.

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace trainer::checkpoint {

class Backend {
 public:
  virtual ~Backend() = default;

  // The checkpoint root (--checkpoint-dir): committed checkpoints are the directories <root>/<name>.
  virtual const std::string& root() const = 0;

  // Rank 0, before any rank writes (the save's barrier follows): a fresh place for checkpoint
  // `name`; a leftover of an interrupted save of the same name is removed.
  virtual void begin(const std::string& name) = 0;
  // Every rank, after begin()'s barrier: the local directory this rank writes `name`'s files in.
  virtual std::string local_directory(const std::string& name) = 0;
  // Every rank: `file`, written and fsynced in local_directory(name), becomes part of `name`
  // (durable when this returns). No communication: runs on a save's background thread.
  virtual void write(const std::string& name, const std::string& file) = 0;
  // Rank 0, once every rank's write() returned: `name` becomes whole, then LATEST names it.
  // `still_ours` runs right before LATEST and throws when the root is no longer this job's.
  virtual void commit(const std::string& name, const std::function<void()>& still_ours) = 0;
  // Any rank, after a failed save: removes what it left of `name`; never a committed checkpoint.
  virtual void abandon(const std::string& name) noexcept = 0;

  // The committed checkpoints, oldest first.
  virtual std::vector<std::string> list() const = 0;
  // What LATEST names, or "" when there is none.
  virtual std::string latest() const = 0;
  // Removes the committed checkpoint `name`; false when it is not one the trainer may remove (a
  // symlink a user put there).
  virtual bool remove(const std::string& name) = 0;
};

// --checkpoint-backend's value (NAME or NAME:ARGUMENT) for the root `root`. Throws ConfigError
// (exit 2, one line) naming the option for an unknown name or a bad argument.
std::shared_ptr<Backend> make_backend(const std::string& spec, const std::string& root);
// Checks `spec` without touching the disk: a registered name, an argument where it needs one.
void check_backend_spec(const std::string& spec);
// The registered backends, one "NAME: what it does" per line, for --help and errors.
std::string backend_help();

// Deletes committed checkpoints older than the `keep` newest, but those in `also_keep` (the best
// by a metric) and the one LATEST names. Returns the names removed, oldest first.
std::vector<std::string> apply_retention(Backend& backend, std::int64_t keep,
                                         const std::set<std::string>& also_keep = {});

}  // namespace trainer::checkpoint
