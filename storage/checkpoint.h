#pragma once
// Checkpoint format v1 (ARCHITECTURE.md): a directory per checkpoint with one HDF5 shard per rank
// holding the tensors that rank owns, and index.h5 whose logical tree (/model, /optimizer, /epoch
// and their attributes) reaches every tensor through external links into the shards. Written
// under <name>.tmp and renamed when whole; LATEST names the newest complete checkpoint.

#include "comm/communicator.h"
#include "storage/h5.h"

#include <torch/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace trainer::storage {

inline constexpr const char* kFormatName = "trainer-checkpoint";
inline constexpr std::int64_t kFormatVersion = 1;

using Attributes = std::map<std::string, AttributeValue>;

// What a checkpoint holds, as the trainer hands it over: tensors by absolute dataset path
// ("/model/conv1.weight"), and attributes by group path ("/", "/epoch", ...). Every rank passes the
// same names and shapes (replicas are identical); each writes only the tensors it owns.
struct CheckpointData {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::map<std::string, Attributes> attributes;
};

struct SaveReport {
  std::string path;           // the committed checkpoint directory
  std::uint64_t bytes = 0;    // all shards and the index together
  double seconds = 0;         // from the first byte to LATEST replaced, on rank 0
};

// Collective: every rank of `comm` calls it with the same `root`, `name` and data layout. Writes
// and fsyncs the shards in parallel, then rank 0 writes the index, renames <name>.tmp to <name>,
// fsyncs <root> and replaces <root>/LATEST. On return the checkpoint is committed on every rank.
SaveReport save_checkpoint(const std::string& root, const std::string& name,
                           const CheckpointData& data, comm::Communicator& comm);

// save_checkpoint in its three phases, so that the middle one can run on a background thread
// while training goes on (asynchronous checkpoints):
//   1. the constructor (collective): checks that the ranks agree on the layout, assigns owners,
//      creates <name>.tmp; with `snapshot`, copies this rank's tensors to host buffers;
//   2. write_shard(): writes and fsyncs this rank's shard; no communication, so any thread may
//      call it (libhdf5 is not thread-safe: no other HDF5 call may run meanwhile);
//   3. commit() (collective, after every rank's write_shard returned): index, rename, LATEST.
// Until commit() returns, the previous checkpoint stays LATEST; a failure in 2 or 3 removes
// <name>.tmp before rethrowing.
// Host buffers for snapshots, kept from one save to the next by name: a steady-state snapshot is a
// plain copy, without allocating (and faulting in) hundreds of megabytes each time. Pinned when
// the tensors live on a GPU.
using SnapshotBuffers = std::map<std::string, torch::Tensor>;

class CheckpointSave {
 public:
  // `snapshot`: copy this rank's tensors into these buffers (null: write from the tensors given,
  // which then must not change before write_shard() returns).
  CheckpointSave(const std::string& root, const std::string& name, const CheckpointData& data,
                 comm::Communicator& comm, SnapshotBuffers* snapshot);
  void write_shard();
  SaveReport commit(comm::Communicator& comm);
  const std::string& name() const { return name_; }

 private:
  void abandon() noexcept;

  std::string root_, name_, final_path_, temporary_;
  std::vector<std::pair<std::string, torch::Tensor>> tensors_;
  std::map<std::string, Attributes> attributes_;
  std::vector<int> owners_;
  int rank_ = 0, ranks_ = 1;
  std::int64_t shard_size_ = 0;
  std::chrono::steady_clock::time_point start_;
};

// A committed checkpoint, opened for reading. The constructor checks the format, the `complete`
// mark and that every shard exists with the size the index recorded.
class CheckpointReader {
 public:
  explicit CheckpointReader(const std::string& directory);

  const std::string& directory() const { return directory_; }
  const File& index() const { return *index_; }

  bool has(const std::string& dataset) const { return index_->has(dataset); }
  // Absolute dataset paths below `group`, sorted (e.g. "/model/conv1.weight").
  std::vector<std::string> tensors(const std::string& group) const;
  // Reads through the checksums; errors name the checkpoint, the tensor and its shard.
  torch::Tensor read(const std::string& dataset) const;
  std::vector<std::int64_t> shape(const std::string& dataset) const;
  std::string shard_of(const std::string& dataset) const;
  std::uint64_t total_bytes() const { return total_bytes_; }
  const std::vector<std::string>& shard_files() const { return shard_files_; }

 private:
  std::string directory_;
  std::unique_ptr<File> index_;
  std::vector<std::string> shard_files_;
  std::uint64_t total_bytes_ = 0;
};

// --- checkpoint roots (a --checkpoint-dir) ---

// Names of the committed checkpoints under `root` (directories with an index.h5, not .tmp),
// oldest first by name (epoch-0001 < epoch-0001-step-00000010 < epoch-0002).
std::vector<std::string> list_checkpoints(const std::string& root);
// What LATEST names, or "" when there is none.
std::string latest_checkpoint(const std::string& root);
// A path given by the user: a checkpoint directory, or a root whose LATEST names one.
std::string resolve_checkpoint_path(const std::string& path);
// Removes leftover <name>.tmp directories of interrupted saves; returns how many.
int remove_stale_temporaries(const std::string& root);
// Deletes committed checkpoints older than the `keep` newest (by name); never the one LATEST names.
std::vector<std::string> apply_retention(const std::string& root, int keep);

}  // namespace trainer::storage
