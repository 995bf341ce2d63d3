#pragma once
// Checkpoint format v1 (docs/checkpoint-format.md, checkpoint/schema.h): a directory per
// checkpoint with one HDF5 shard per rank holding the tensors that rank owns, and index.h5 whose
// logical tree (/model, /optimizer, /epoch and their attributes) reaches every tensor through
// external links into the shards. Written under <name>.tmp and renamed when whole; LATEST names
// the newest complete checkpoint (checkpoint/directory.h).

#include "checkpoint/backend.h"
#include "comm/communicator.h"
#include "streams/device_streams.h"
#include "common/clock.h"
#include "checkpoint/schema.h"
#include "storage/tensor_file.h"

#include <torch/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <optional>
#include <vector>

namespace trainer::checkpoint {

using storage::NamedTensors;
using storage::StoredTensors;

struct OptimizerStateTensor {  // what a save is handed
  std::string parameter;  // the parameter's state-dict name
  std::string key;        // "momentum_buffer", "exp_avg", "step", ...
  torch::Tensor tensor;
};

// What a checkpoint holds, as the trainer hands it over and the reader gives it back. Every rank
// passes the same names and shapes (replicas are identical); each writes only the tensors it owns.
struct CheckpointContents {
  RunRecord run;
  NamedTensors model;  // state-dict names, the model's order
  std::vector<ParamGroupRecord> param_groups;
  std::vector<OptimizerStateTensor> optimizer_state;
  EpochRecord epoch;
  torch::Tensor rng_state;       // LibTorch's CPU generator
  torch::Tensor cuda_rng_state;  // the training GPU's generator; undefined when training on the CPU
};

// The dataset paths and tensors a checkpoint of `contents` holds, sorted by path: the order in which
// tensors are assigned to ranks.
NamedTensors checkpoint_tensors(const CheckpointContents& contents);
// Which rank writes each of `tensors` (checkpoint_tensors' order) in a world of `ranks`: the plan
// every save follows, for callers that must know beforehand what they will write.
std::vector<int> checkpoint_owners(const NamedTensors& tensors, int ranks);

struct SaveReport {
  std::string path;           // the committed checkpoint directory
  std::uint64_t bytes = 0;    // all shards and the index together
  double seconds = 0;         // from the first byte to LATEST replaced, on rank 0
};

// Host buffers for snapshots, kept from one save to the next by name: a steady-state snapshot is a
// plain copy, without allocating (and faulting in) hundreds of megabytes each time. Pinned when
// the tensors live on a GPU; then the copies run on `streams`' side stream: the host does not wait
// for them, the training stream does (the next forward changes BatchNorm's statistics), and
// write_shard() starts writing when the copies' event has completed.
struct SnapshotBuffers {
  std::map<std::string, torch::Tensor> buffers;
  std::unique_ptr<streams::DeviceStreams> streams;  // null: copies in the host's order
};

// A save in three phases, so that the middle one can run on a background thread while training
// goes on (asynchronous checkpoints):
//   1. the constructor (collective): checks that the ranks agree on the layout, assigns owners,
//      has rank 0 begin the checkpoint in the backend (<name>.tmp); with `snapshot`, copies this
//      rank's tensors to host buffers;
//   2. write_shard(): writes and fsyncs this rank's shard in the backend's local directory and
//      hands it to the backend; no communication, so any thread may call it (libhdf5 is not
//      thread-safe: no other HDF5 call may run meanwhile);
//   3. commit() (collective, after every rank's write_shard returned): rank 0 writes the index and
//      has the backend commit (rename <name>.tmp to <name>, fsync the root, replace LATEST).
// Until commit() returns, the previous checkpoint stays LATEST; a failure in 2 or 3 has the
// backend abandon the save (remove <name>.tmp) before rethrowing.
class CheckpointSave {
 public:
  // `snapshot`: copy this rank's tensors into these buffers (null: write from the tensors given,
  // which then must not change before write_shard() returns).
  CheckpointSave(std::shared_ptr<Backend> backend, const std::string& name, const CheckpointContents& contents,
                 comm::Communicator& comm, SnapshotBuffers* snapshot);
  // In the root `root` itself (the posix backend).
  CheckpointSave(const std::string& root, const std::string& name, const CheckpointContents& contents,
                 comm::Communicator& comm, SnapshotBuffers* snapshot);
  void write_shard();
  // `still_ours` (rank 0): throws when the root is no longer this job's; asked right before LATEST.
  SaveReport commit(comm::Communicator& comm, const std::function<void()>& still_ours = {});
  const std::string& name() const { return name_; }

 private:
  void abandon() noexcept;

  std::shared_ptr<Backend> backend_;
  std::string name_;
  NamedTensors tensors_;  // by dataset path, sorted
  std::map<std::string, Attributes> attributes_;
  std::vector<int> owners_;
  int rank_ = 0, ranks_ = 1;
  std::int64_t shard_size_ = 0;
  Clock::time_point start_;
  std::unique_ptr<streams::SideStreamJob> copies_;  // a snapshot's device-to-host copies in flight
};

// Collective: the three phases in a row. On return the checkpoint is committed on every rank.
SaveReport save_checkpoint(const std::string& root, const std::string& name, const CheckpointContents& contents,
                           comm::Communicator& comm);

// One tensor of a checkpoint as inspect lists it.
struct TensorInfo {
  std::string path;   // "/model/conv1.weight"
  std::string dtype;  // "float32", ...
  std::vector<std::int64_t> shape;
  std::uint64_t bytes = 0;
  std::string shard;  // the file holding it
  bool checksummed = false;
};

// A committed checkpoint, opened for reading. The constructor checks the format, the `complete`
// mark and that every shard exists with the size the index recorded. Reads go through the
// checksums; errors name the checkpoint, the tensor and its shard.
class CheckpointReader {
 public:
  explicit CheckpointReader(const std::string& directory);
  ~CheckpointReader();
  CheckpointReader(const CheckpointReader&) = delete;
  CheckpointReader& operator=(const CheckpointReader&) = delete;

  const std::string& directory() const;
  const IndexRecord& index() const;
  std::uint64_t total_bytes() const;  // the index and every shard

  RunRecord run() const;
  EpochRecord epoch() const;
  std::vector<ParamGroupRecord> param_groups() const;  // in group order
  // The model's tensors by state-dict name, sorted, read when asked for (they may outlive the
  // reader). Reading every tensor at once: read_all(model()).
  StoredTensors model() const;
  // Optimizer state: the name is "<parameter>/<key>" (parameter names never hold a slash).
  StoredTensors optimizer_state() const;
  torch::Tensor rng_state() const;
  std::optional<torch::Tensor> cuda_rng_state() const;  // absent when trained on the CPU

  // Every tensor, for inspect; read() reads one by its path (verifying its checksum).
  std::vector<TensorInfo> describe() const;
  torch::Tensor read(const std::string& path) const;

  // Collective: reads the checkpoint once per job instead of once per rank. Each rank reads a share
  // of the tensors from storage (the shard it would have written when the world size is the
  // writer's; otherwise a share balanced by bytes), verifying checksums there, and broadcasts it
  // over `comm`; afterwards every read above is served from memory (each tensor handed out once).
  // A read error on any rank throws the same StorageError, naming that rank, on every rank.
  // Returns the tensor bytes this rank read from storage (0 in a world of one, where nothing is
  // read ahead: each read() reads straight into its tensor, as without share()).
  std::uint64_t share(comm::Communicator& comm);

 private:
  struct Index;
  StoredTensors stored(const char* group) const;
  std::string directory_;
  std::shared_ptr<const Index> index_;
};

// Reads every tensor of `tensors`.
NamedTensors read_all(const StoredTensors& tensors);

// Collective: returns when `error` is empty on every rank; otherwise throws the same StorageError
// on every rank: the message of the lowest rank whose `error` is not empty, naming that rank.
void agree_on_error(const std::string& error, comm::Communicator& comm);

// Collective: opens `directory` on every rank (CheckpointReader) and shares its tensors (share());
// an error on any rank is the same StorageError on every rank. `bytes_read`: this rank's share.
std::unique_ptr<CheckpointReader> open_shared(const std::string& directory, comm::Communicator& comm,
                                              std::uint64_t* bytes_read = nullptr);

// Runs `use` on the checkpoint `path` names (a checkpoint directory, or a root whose LATEST names
// one). A reader needs no lock: when the training job's retention removes the checkpoint while it
// is being read, LATEST is read again and `use` runs again on what it names now.
void with_checkpoint(const std::string& path, const std::function<void(const CheckpointReader&)>& use);

}  // namespace trainer::checkpoint
