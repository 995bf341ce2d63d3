#include "checkpoint/checkpoint.h"

#include "common/error.h"
#include "common/fnv1a.h"
#include "checkpoint/directory.h"
#include "storage/fs.h"
#include "storage/h5.h"
#include "checkpoint/index_checksum.h"
#include "checkpoint/ownership.h"
#include "storage/tensor_types.h"

#include <algorithm>
#include <functional>

namespace trainer::checkpoint {

namespace fs = storage::fs;
using storage::File;
using storage::hdf5_type_of;
using storage::torch_type_of;
using storage::RawDataset;
using storage::DatasetInfo;
using storage::element_type_name;
namespace {

constexpr int kMaxDepth = 8;  // the schema's deepest path has 4 levels

std::map<std::string, Attributes> group_attributes(const CheckpointContents& c) {
  std::map<std::string, Attributes> groups;
  groups[schema::kRoot] = c.run.to_attributes();
  groups[schema::kEpoch] = c.epoch.to_attributes();
  for (std::size_t g = 0; g < c.param_groups.size(); ++g) groups[schema::param_group(g)] = c.param_groups[g].to_attributes();
  return groups;
}

void write_index(const std::string& path, const NamedTensors& tensors, const std::map<std::string, Attributes>& groups,
                 const std::vector<int>& owners, const IndexRecord& record) {
  File index = File::create(path);
  for (std::size_t i = 0; i < tensors.size(); ++i)
    index.link_external(tensors[i].first, record.shard_files[static_cast<std::size_t>(owners[i])], tensors[i].first);
  for (const auto& [group, attributes] : groups) {
    index.create_group(group);
    for (const auto& [name, value] : attributes) index.set_attribute(group, name, value);
  }
  // `complete` last: a reader trusts nothing without it.
  Attributes root = record.to_attributes();
  const AttributeValue complete = root.at("complete");
  root.erase("complete");
  for (const auto& [name, value] : root) index.set_attribute(schema::kRoot, name, value);
  index.set_attribute(schema::kRoot, kMetadataChecksum, index_metadata_checksum(index, kMaxDepth));
  index.set_attribute(schema::kRoot, "complete", complete);
  index.close();
}

// Every rank must hand over the same names and sizes: ownership and the index depend on it.
void check_same_layout(const NamedTensors& tensors, const std::vector<std::uint64_t>& bytes, const std::string& name,
                       comm::Communicator& comm) {
  Fnv1a layout;
  for (std::size_t i = 0; i < tensors.size(); ++i) layout.update(tensors[i].first + ":" + std::to_string(bytes[i]) + ";");
  const auto mine = static_cast<std::int64_t>(layout.value());
  for (std::int64_t other : comm.allgather(mine))
    if (other != mine) throw Error("checkpoint " + name + ": the ranks hand over different tensors (" + comm.where() + ")");
}

// Copies this rank's tensors into reused host buffers; the others are dropped (the index needs
// only their names). Device tensors are copied on the side stream of `snapshot.streams`; the job
// returned (null when nothing was copied that way) tells when the copies have landed.
std::unique_ptr<streams::SideStreamJob> take_snapshot(NamedTensors& tensors, const std::vector<int>& owners, int rank,
                                                      SnapshotBuffers& snapshot) {
  std::vector<torch::Tensor> buffers, sources;  // of the copies on the side stream
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    auto& [path, tensor] = tensors[i];
    if (owners[i] != rank) {
      tensor = torch::Tensor();
      continue;
    }
    torch::Tensor& buffer = snapshot.buffers[path];
    if (!buffer.defined() || buffer.sizes() != tensor.sizes() || buffer.scalar_type() != tensor.scalar_type())
      buffer = torch::empty(tensor.sizes(), torch::TensorOptions()
                                                .dtype(tensor.scalar_type())
                                                .device(torch::kCPU)
                                                .pinned_memory(tensor.is_cuda()));
    if (tensor.is_cuda() && snapshot.streams) {
      buffers.push_back(buffer);
      sources.push_back(tensor.detach());
    } else {
      buffer.copy_(tensor.detach());
    }
    tensor = buffer;
  }
  if (sources.empty()) return nullptr;
  auto job = std::make_unique<streams::SideStreamJob>(*snapshot.streams, sources, [&] {
    for (std::size_t i = 0; i < sources.size(); ++i) buffers[i].copy_(sources[i], /*non_blocking=*/true);
  });
  job->make_compute_wait();
  return job;
}

}  // namespace

NamedTensors checkpoint_tensors(const CheckpointContents& c) {
  NamedTensors tensors;
  for (const auto& [name, tensor] : c.model) tensors.emplace_back(schema::model_tensor(name), tensor);
  for (const auto& s : c.optimizer_state) tensors.emplace_back(schema::optimizer_state(s.parameter, s.key), s.tensor);
  tensors.emplace_back(schema::kRngState, c.rng_state);
  if (c.cuda_rng_state.defined()) tensors.emplace_back(schema::kCudaRngState, c.cuda_rng_state);
  // Ownership must be computed from the same list on every rank: sort by path.
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return tensors;
}

namespace {
std::vector<std::uint64_t> tensor_bytes(const NamedTensors& tensors) {
  std::vector<std::uint64_t> bytes;
  for (const auto& entry : tensors)
    bytes.push_back(static_cast<std::uint64_t>(entry.second.numel()) * entry.second.element_size());
  return bytes;
}
}  // namespace

std::vector<int> checkpoint_owners(const NamedTensors& tensors, int ranks) {
  return assign_owners(tensor_bytes(tensors), ranks);
}

CheckpointSave::CheckpointSave(const std::string& root, const std::string& name, const CheckpointContents& contents,
                               comm::Communicator& comm, SnapshotBuffers* snapshot)
    : CheckpointSave(make_backend("posix", root), name, contents, comm, snapshot) {}

CheckpointSave::CheckpointSave(std::shared_ptr<Backend> backend, const std::string& name,
                               const CheckpointContents& contents, comm::Communicator& comm, SnapshotBuffers* snapshot)
    : backend_(std::move(backend)), name_(name), tensors_(checkpoint_tensors(contents)),
      attributes_(group_attributes(contents)), rank_(comm.rank()), ranks_(comm.size()), start_(Clock::now()) {
  check_same_layout(tensors_, tensor_bytes(tensors_), name, comm);
  owners_ = checkpoint_owners(tensors_, ranks_);
  // A snapshot decouples the save from training: the optimizer may change the originals while
  // the shard is written.
  if (snapshot) copies_ = take_snapshot(tensors_, owners_, rank_, *snapshot);
  if (rank_ == 0) backend_->begin(name_);
  comm.barrier();
}

void CheckpointSave::write_shard() {
  try {
    const std::string shard_path = fs::join(backend_->local_directory(name_), schema::shard_file(rank_, ranks_));
    if (copies_) copies_->synchronize();  // the snapshot's bytes have landed in host memory
    {
      std::vector<torch::Tensor> hosts;  // kept alive until written
      std::vector<RawDataset> datasets;
      for (std::size_t i = 0; i < tensors_.size(); ++i) {
        if (owners_[i] != rank_) continue;
        const auto& [path, tensor] = tensors_[i];
        hosts.push_back(tensor.detach().to(torch::kCPU).contiguous());
        const torch::Tensor& host = hosts.back();
        datasets.push_back({path, std::vector<std::int64_t>(host.sizes().begin(), host.sizes().end()),
                            hdf5_type_of(host.scalar_type(), path), host.data_ptr()});
      }
      File shard = File::create(shard_path);
      shard.write_checksummed(datasets);
      shard.close();
    }
    fs::fsync_path(shard_path);
    shard_size_ = static_cast<std::int64_t>(fs::file_size(shard_path));
    backend_->write(name_, shard_path);
  } catch (...) {
    abandon();
    throw;
  }
}

SaveReport CheckpointSave::commit(comm::Communicator& comm, const std::function<void()>& still_ours) {
  try {
    const std::vector<std::int64_t> shard_sizes = comm.allgather(shard_size_);  // also the barrier
    SaveReport report;
    report.path = fs::join(backend_->root(), name_);
    if (rank_ == 0) {
      IndexRecord record;
      record.format = kFormatName;
      record.format_version = kFormatVersion;
      record.world_size = ranks_;
      record.complete = true;
      for (int r = 0; r < ranks_; ++r) {
        record.shard_files.push_back(schema::shard_file(r, ranks_));
        record.shard_sizes.push_back(static_cast<std::uint64_t>(shard_sizes[static_cast<std::size_t>(r)]));
      }
      const std::string index_path = fs::join(backend_->local_directory(name_), schema::kIndexFile);
      write_index(index_path, tensors_, attributes_, owners_, record);
      fs::fsync_path(index_path);
      report.bytes = fs::file_size(index_path);
      backend_->write(name_, index_path);
      backend_->commit(name_, still_ours);
    }
    for (std::int64_t size : shard_sizes) report.bytes += static_cast<std::uint64_t>(size);
    comm.barrier();  // nobody goes on (or deletes old checkpoints) before the commit
    report.seconds = seconds_since(start_);
    return report;
  } catch (...) {
    abandon();
    throw;
  }
}

void CheckpointSave::abandon() noexcept {
  // A failed save (disk full, quota, I/O error) removes its partial files, so that the space is
  // not held until the next start; the committed checkpoints are never touched.
  backend_->abandon(name_);
}

SaveReport save_checkpoint(const std::string& root, const std::string& name, const CheckpointContents& contents,
                           comm::Communicator& comm) {
  CheckpointSave save(root, name, contents, comm, /*snapshot=*/nullptr);
  save.write_shard();
  return save.commit(comm);
}

// --- reading ---

namespace {

// Room behind a tensor read from storage for the 4-byte checksum a raw chunk read places there.
constexpr std::uint64_t kChecksumSlack = 4;
constexpr std::size_t kMaxTensors = 1u << 20;

// The index's attributes and links against the checksum written with them (format 1 had none).
void verify_metadata(const File& index, const IndexRecord& record, const std::string& index_path) {
  if (!index.has_attribute(schema::kRoot, kMetadataChecksum)) {
    if (record.format_version < 2) return;
    throw StorageError(index_path + ": the metadata checksum is missing (format version " +
                       std::to_string(record.format_version) + " always writes one): the index is damaged");
  }
  const AttributeValue stored = index.attribute(schema::kRoot, kMetadataChecksum);
  const std::string* text = std::get_if<std::string>(&stored);
  if (text == nullptr || *text != index_metadata_checksum(index, kMaxDepth))
    throw StorageError(index_path + ": its metadata (attributes and links) does not match the checksum written with "
                       "it: the index is damaged");
}

bool is_shard_name(const std::string& name) {  // shard-NNNNN-of-NNNNN.h5
  const std::string shape = "shard-#####-of-#####.h5";
  if (name.size() != shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == '#' ? (name[i] < '0' || name[i] > '9') : name[i] != shape[i]) return false;
  return true;
}

}  // namespace

struct CheckpointReader::Index {
  std::string directory;
  std::unique_ptr<File> file;
  IndexRecord record;
  std::map<std::string, std::uint64_t> shard_sizes;  // by shard name
  std::uint64_t total_bytes = 0;

  std::string where() const { return "checkpoint " + directory; }

  // Dataset paths below `group`: external links into the shards, each checked to point into a
  // shard of this checkpoint at the same path. Bounded in depth and count, so that a link cycle
  // or a hostile index ends in an error, not in endless recursion.
  void collect(const std::string& group, int depth, std::vector<std::string>& found) const {
    if (depth > kMaxDepth) throw StorageError(where() + ": index.h5 nests groups deeper than any checkpoint (a link cycle?) at " + group);
    for (const auto& name : file->list(group)) {
      const std::string path = group + "/" + name;
      const auto [target_file, target_object] = file->external_target(path);
      if (target_file.empty()) {
        collect(path, depth + 1, found);
        continue;
      }
      if (!shard_sizes.count(target_file) || target_object != path)
        throw StorageError(where() + ": index.h5 links " + path + " to " + target_file + ":" + target_object +
                           ", which is not the same tensor in a shard of this checkpoint");
      found.push_back(path);
      if (found.size() > kMaxTensors) throw StorageError(where() + ": index.h5 lists more tensors than any checkpoint");
    }
  }

  // Every tensor of the checkpoint: the model's, the optimizer's, then /epoch's, each group sorted.
  std::vector<std::string> every_tensor() const {
    std::vector<std::string> found;
    for (const char* group : {schema::kModel, "/optimizer", schema::kEpoch})
      for (auto& path : tensors(group)) found.push_back(std::move(path));
    return found;
  }

  std::vector<std::string> tensors(const std::string& group) const {
    std::vector<std::string> found;
    if (file->has(group)) collect(group, 1, found);
    std::sort(found.begin(), found.end());
    return found;
  }

  // Tensors read by CheckpointReader::share(), each handed out once by read().
  mutable std::map<std::string, torch::Tensor> shared;

  struct Located {
    torch::ScalarType dtype;
    std::vector<std::int64_t> shape;
    std::uint64_t bytes = 0;
    std::string shard;
  };

  // A tensor cannot hold more bytes than the shard it lives in (checkpoints are not compressed):
  // checked before anything is allocated.
  Located locate(const std::string& path) const {
    Located located;
    located.shard = file->external_file(path);
    guarded(path, located.shard, [&] {
      const DatasetInfo info = file->describe(path);
      located.dtype = torch_type_of(info, path);
      located.shape = info.shape;
      located.bytes = static_cast<std::uint64_t>(info.element_count()) * info.element_size;
      const auto size = shard_sizes.find(located.shard);
      if (size == shard_sizes.end() || located.bytes > size->second)
        throw StorageError("announces " + std::to_string(located.bytes) + " bytes, more than its shard holds");
    });
    return located;
  }

  // Reads through the checksums into `out` (`capacity` bytes writable there: see File::read_raw).
  void read_into(const std::string& path, const Located& located, void* out, std::size_t capacity) const {
    guarded(path, located.shard, [&] { file->read_raw(path, hdf5_type_of(located.dtype, path), out, capacity); });
  }

  torch::Tensor read(const std::string& path) const {
    if (const auto it = shared.find(path); it != shared.end()) {
      torch::Tensor tensor = std::move(it->second);
      shared.erase(it);
      return tensor;
    }
    const Located located = locate(path);
    torch::Tensor bytes = torch::empty({static_cast<std::int64_t>(located.bytes + kChecksumSlack)}, torch::kUInt8);
    read_into(path, located, bytes.data_ptr(), static_cast<std::size_t>(bytes.numel()));
    return typed_view(bytes, 0, located);
  }

  // The tensor at `offset` of a byte buffer, in its dtype and shape (a view).
  static torch::Tensor typed_view(const torch::Tensor& buffer, std::uint64_t offset, const Located& located) {
    return buffer.narrow(0, static_cast<std::int64_t>(offset), static_cast<std::int64_t>(located.bytes))
        .view(located.dtype)
        .view(located.shape);
  }

  void guarded(const std::string& path, const std::string& shard, const std::function<void()>& work) const {
    try {
      work();
    } catch (const StorageError& e) {
      throw StorageError(where() + ": tensor " + path + " in " + shard +
                         " cannot be read (corrupt or truncated shard?): " + e.what());
    }
  }
};

CheckpointReader::CheckpointReader(const std::string& directory) : directory_(directory) {
  auto index = std::make_shared<Index>();
  index->directory = directory;
  const std::string index_path = fs::join(directory, schema::kIndexFile);
  if (!fs::is_directory(directory)) throw StorageError(directory + ": no such checkpoint directory");
  if (!fs::exists(index_path)) throw StorageError(directory + ": not a checkpoint (no index.h5)");
  index->file = std::make_unique<File>(File::open_read(index_path));
  IndexRecord& record = index->record;
  record = IndexRecord::from_attributes(index->file->attributes(schema::kRoot), index_path);
  if (record.format != kFormatName)
    throw StorageError(index_path + ": not a trainer checkpoint (no format attribute '" + kFormatName + "')");
  if (record.format_version > kFormatVersion)
    throw StorageError(index_path + ": format version " + std::to_string(record.format_version) +
                       " is newer than this trainer reads (" + std::to_string(kFormatVersion) + ")");
  if (!record.complete) throw StorageError(index_path + ": the checkpoint is incomplete (no 'complete' mark)");
  if (record.shard_sizes.size() != record.shard_files.size())
    throw StorageError(index_path + ": shard list is malformed");
  index->total_bytes = fs::file_size(index_path);
  for (std::size_t i = 0; i < record.shard_files.size(); ++i) {
    const std::string& name = record.shard_files[i];
    if (!is_shard_name(name))
      throw StorageError(index_path + ": shard name '" + name.substr(0, 80) +
                         "' is not shard-NNNNN-of-NNNNN.h5 (a checkpoint never refers outside its directory)");
    const std::string shard = fs::join(directory, name);
    const std::string recorded = std::to_string(record.shard_sizes[i]);
    if (!fs::exists(shard))
      throw StorageError(directory + ": shard " + name + " is missing (the index records " + recorded + " bytes)");
    fs::require_regular_file(shard);
    const std::uint64_t actual = fs::file_size(shard);
    if (actual != record.shard_sizes[i])
      throw StorageError(directory + ": shard " + name + " has " + std::to_string(actual) + " bytes, the index records " +
                         recorded);
    index->shard_sizes[name] = actual;
    index->total_bytes += actual;
  }
  verify_metadata(*index->file, record, index_path);
  index_ = std::move(index);
}

CheckpointReader::~CheckpointReader() = default;

const std::string& CheckpointReader::directory() const { return directory_; }
const IndexRecord& CheckpointReader::index() const { return index_->record; }
std::uint64_t CheckpointReader::total_bytes() const { return index_->total_bytes; }

RunRecord CheckpointReader::run() const {
  return RunRecord::from_attributes(index_->file->attributes(schema::kRoot), index_->where());
}

EpochRecord CheckpointReader::epoch() const {
  const std::string where = index_->where() + ": " + schema::kEpoch;
  if (!index_->file->has(schema::kEpoch)) throw StorageError(where + ": no such group");
  return EpochRecord::from_attributes(index_->file->attributes(schema::kEpoch), where);
}

std::vector<ParamGroupRecord> CheckpointReader::param_groups() const {
  std::vector<ParamGroupRecord> groups;
  if (!index_->file->has(schema::kParamGroups)) return groups;
  const std::size_t count = index_->file->list(schema::kParamGroups).size();
  for (std::size_t g = 0; g < count; ++g) {
    const std::string path = schema::param_group(g);
    const std::string where = index_->where() + ": " + path;
    if (!index_->file->has(path)) throw StorageError(where + ": missing (groups must be numbered 0.." + std::to_string(count - 1) + ")");
    groups.push_back(ParamGroupRecord::from_attributes(index_->file->attributes(path), where));
  }
  return groups;
}

StoredTensors CheckpointReader::stored(const char* group) const {
  StoredTensors tensors;
  const std::size_t prefix = std::string(group).size() + 1;
  for (const auto& path : index_->tensors(group)) {
    const DatasetInfo info = index_->file->describe(path);
    std::shared_ptr<const Index> index = index_;
    tensors.push_back({path.substr(prefix), info.shape, [index, path] { return index->read(path); }});
  }
  return tensors;
}

StoredTensors CheckpointReader::model() const { return stored(schema::kModel); }

StoredTensors CheckpointReader::optimizer_state() const {
  StoredTensors state = stored(schema::kOptimizerState);
  for (const auto& entry : state)
    if (entry.name.find('/') == std::string::npos || entry.name.find('/') != entry.name.rfind('/'))
      throw StorageError(index_->where() + ": " + schema::kOptimizerState + "/" + entry.name + " is not <parameter>/<key>");
  return state;
}

torch::Tensor CheckpointReader::rng_state() const { return read(schema::kRngState); }

std::optional<torch::Tensor> CheckpointReader::cuda_rng_state() const {
  if (!index_->file->has(schema::kCudaRngState)) return std::nullopt;
  return read(schema::kCudaRngState);
}

std::vector<TensorInfo> CheckpointReader::describe() const {
  std::vector<TensorInfo> infos;
  for (const auto& path : index_->every_tensor()) {
    const DatasetInfo info = index_->file->describe(path);
    infos.push_back({path, element_type_name(info), info.shape,
                     static_cast<std::uint64_t>(info.element_count()) * info.element_size,
                     index_->file->external_file(path), index_->file->checksummed(path)});
  }
  return infos;
}

torch::Tensor CheckpointReader::read(const std::string& path) const { return index_->read(path); }

std::uint64_t CheckpointReader::share(comm::Communicator& comm) {
  if (comm.size() == 1) return 0;  // nothing to share: each read() reads straight into its tensor
  const Index& index = *index_;
  std::vector<std::string> paths = index.every_tensor();
  std::sort(paths.begin(), paths.end());
  std::vector<Index::Located> located;
  std::vector<std::uint64_t> bytes;
  for (const auto& path : paths) {
    located.push_back(index.locate(path));
    bytes.push_back(located.back().bytes);
  }
  // Who reads what. The writer's world size: each rank its own shard, one file per rank. Another:
  // balanced by bytes (the rule that made the shards), so no rank reads much more than 1/N.
  std::vector<int> readers = assign_owners(bytes, comm.size());
  const std::vector<std::string>& shards = index.record.shard_files;
  if (static_cast<int>(shards.size()) == comm.size())
    for (std::size_t i = 0; i < paths.size(); ++i)
      readers[i] = static_cast<int>(std::find(shards.begin(), shards.end(), located[i].shard) - shards.begin());
  // Each tensor in memory of its own, with room for a raw chunk read's checksum behind it.
  std::vector<torch::Tensor> tensors;
  for (const auto& where : located) {
    const auto bytes_with_slack = static_cast<std::int64_t>(where.bytes + kChecksumSlack);
    tensors.push_back(Index::typed_view(torch::empty({bytes_with_slack}, torch::kUInt8), 0, where));
  }
  std::uint64_t read_here = 0;
  std::string error;
  try {
    for (std::size_t i = 0; i < paths.size(); ++i)
      if (readers[i] == comm.rank()) {
        index.read_into(paths[i], located[i], tensors[i].data_ptr(), located[i].bytes + kChecksumSlack);
        read_here += located[i].bytes;
      }
  } catch (const StorageError& e) {
    error = e.what();
  }
  agree_on_error(error, comm);
  // Each reader's tensors to every rank, in place (MPI: all readers' broadcasts at once).
  std::vector<std::vector<torch::Tensor>> from_each(static_cast<std::size_t>(comm.size()));
  for (std::size_t i = 0; i < paths.size(); ++i) from_each[static_cast<std::size_t>(readers[i])].push_back(tensors[i]);
  comm.broadcast_from_each(from_each);
  for (std::size_t i = 0; i < paths.size(); ++i) index.shared[paths[i]] = std::move(tensors[i]);
  return read_here;
}

void agree_on_error(const std::string& error, comm::Communicator& comm) {
  const std::vector<std::int64_t> failed = comm.allgather(error.empty() ? 0 : 1);
  const auto first = std::find(failed.begin(), failed.end(), 1);
  if (first == failed.end()) return;
  const int rank = static_cast<int>(first - failed.begin());
  const std::string message = comm::broadcast_string(error, comm, rank);
  throw StorageError(comm.size() > 1 ? "rank " + std::to_string(rank) + ": " + message : message);
}

std::unique_ptr<CheckpointReader> open_shared(const std::string& directory, comm::Communicator& comm,
                                              std::uint64_t* bytes_read) {
  std::unique_ptr<CheckpointReader> reader;
  std::string error;
  try {
    reader = std::make_unique<CheckpointReader>(directory);
  } catch (const StorageError& e) {
    error = e.what();
  }
  agree_on_error(error, comm);
  const std::uint64_t bytes = reader->share(comm);
  if (bytes_read) *bytes_read = bytes;
  return reader;
}

NamedTensors read_all(const StoredTensors& tensors) {
  NamedTensors out;
  for (const auto& entry : tensors) out.emplace_back(entry.name, entry.read());
  return out;
}

void with_checkpoint(const std::string& path, const std::function<void(const CheckpointReader&)>& use) {
  for (int attempt = 1;; ++attempt) {
    const std::string resolved = resolve_checkpoint_path(path);
    try {
      const CheckpointReader reader(resolved);
      use(reader);
      return;
    } catch (const StorageError&) {
      // Only a checkpoint named through LATEST, and only when LATEST has moved on meanwhile (the
      // job's retention is removing the one read), is read again.
      std::string now;
      try {
        now = resolve_checkpoint_path(path);
      } catch (const StorageError&) {
      }
      if (attempt >= 5 || resolved == path || now == resolved || now.empty()) throw;
    }
  }
}

}  // namespace trainer::checkpoint
