#include "storage/checkpoint.h"

#include "common/error.h"
#include "common/fnv1a.h"
#include "storage/checkpoint_dir.h"
#include "storage/fs.h"
#include "storage/h5.h"
#include "storage/ownership.h"
#include "storage/tensor_types.h"

#include <algorithm>

namespace trainer::storage {
namespace {

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
  index.set_attribute(schema::kRoot, "complete", complete);
  index.close();
}

// Moves `temporary` to `final_path`, replacing an existing checkpoint of the same name (a run that
// resumed from an older checkpoint and reached this point again) without a moment where neither
// exists under a name LATEST could point to.
void commit_directory(const std::string& temporary, const std::string& final_path) {
  const std::string displaced = final_path + ".old.tmp";
  if (fs::exists(final_path)) {
    fs::remove_tree(displaced);
    fs::rename_path(final_path, displaced);
  }
  fs::rename_path(temporary, final_path);
  fs::remove_tree(displaced);
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
// only their names).
void take_snapshot(NamedTensors& tensors, const std::vector<int>& owners, int rank, SnapshotBuffers& buffers) {
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    auto& [path, tensor] = tensors[i];
    if (owners[i] != rank) {
      tensor = torch::Tensor();
      continue;
    }
    torch::Tensor& buffer = buffers[path];
    if (!buffer.defined() || buffer.sizes() != tensor.sizes() || buffer.scalar_type() != tensor.scalar_type())
      buffer = torch::empty(tensor.sizes(), torch::TensorOptions()
                                                .dtype(tensor.scalar_type())
                                                .device(torch::kCPU)
                                                .pinned_memory(tensor.is_cuda()));
    buffer.copy_(tensor.detach());
    tensor = buffer;
  }
}

}  // namespace

NamedTensors checkpoint_tensors(const CheckpointContents& c) {
  NamedTensors tensors;
  for (const auto& [name, tensor] : c.model) tensors.emplace_back(schema::model_tensor(name), tensor);
  for (const auto& s : c.optimizer_state) tensors.emplace_back(schema::optimizer_state(s.parameter, s.key), s.tensor);
  tensors.emplace_back(schema::kRngState, c.rng_state);
  // Ownership must be computed from the same list on every rank: sort by path.
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return tensors;
}

CheckpointSave::CheckpointSave(const std::string& root, const std::string& name, const CheckpointContents& contents,
                               comm::Communicator& comm, SnapshotBuffers* snapshot)
    : root_(root), name_(name), tensors_(checkpoint_tensors(contents)), attributes_(group_attributes(contents)),
      rank_(comm.rank()), ranks_(comm.size()), start_(Clock::now()) {
  final_path_ = fs::join(root, name);
  temporary_ = final_path_ + ".tmp";
  std::vector<std::uint64_t> bytes;
  for (const auto& entry : tensors_)
    bytes.push_back(static_cast<std::uint64_t>(entry.second.numel()) * entry.second.element_size());
  check_same_layout(tensors_, bytes, name, comm);
  owners_ = assign_owners(bytes, ranks_);
  // A snapshot decouples the save from training: the optimizer may change the originals while
  // the shard is written.
  if (snapshot) take_snapshot(tensors_, owners_, rank_, *snapshot);
  if (rank_ == 0) {
    fs::make_directories(root);
    fs::remove_tree(temporary_);
    fs::make_directories(temporary_);
  }
  comm.barrier();
}

void CheckpointSave::write_shard() {
  const std::string shard_path = fs::join(temporary_, schema::shard_file(rank_, ranks_));
  try {
    {
      File shard = File::create(shard_path);
      for (std::size_t i = 0; i < tensors_.size(); ++i) {
        if (owners_[i] != rank_) continue;
        const auto& [path, tensor] = tensors_[i];
        torch::Tensor host = tensor.detach().to(torch::kCPU).contiguous();
        std::vector<std::int64_t> shape(host.sizes().begin(), host.sizes().end());
        shard.write_raw(path, shape, hdf5_type_of(host.scalar_type(), path), host.data_ptr(), /*checksummed=*/true);
      }
      shard.close();
    }
    fs::fsync_path(shard_path);
    shard_size_ = static_cast<std::int64_t>(fs::file_size(shard_path));
  } catch (...) {
    abandon();
    throw;
  }
}

SaveReport CheckpointSave::commit(comm::Communicator& comm) {
  try {
    const std::vector<std::int64_t> shard_sizes = comm.allgather(shard_size_);  // also the barrier
    SaveReport report;
    report.path = final_path_;
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
      const std::string index_path = fs::join(temporary_, schema::kIndexFile);
      write_index(index_path, tensors_, attributes_, owners_, record);
      fs::fsync_path(index_path);
      fs::fsync_path(temporary_);
      commit_directory(temporary_, final_path_);
      fs::fsync_path(root_);
      fs::replace_text_atomically(fs::join(root_, schema::kLatestFile), name_);
      report.bytes = fs::file_size(fs::join(final_path_, schema::kIndexFile));
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
  try {
    fs::remove_tree(temporary_);
  } catch (...) {
  }
}

SaveReport save_checkpoint(const std::string& root, const std::string& name, const CheckpointContents& contents,
                           comm::Communicator& comm) {
  CheckpointSave save(root, name, contents, comm, /*snapshot=*/nullptr);
  save.write_shard();
  return save.commit(comm);
}

// --- reading ---

struct CheckpointReader::Index {
  std::unique_ptr<File> file;
  IndexRecord record;
  std::uint64_t total_bytes = 0;

  // Dataset paths below `group` (external links into the shards), sorted.
  std::vector<std::string> tensors(const std::string& group) const {
    std::vector<std::string> found;
    if (!file->has(group)) return found;
    for (const auto& name : file->list(group)) {
      const std::string path = group + "/" + name;
      if (!file->external_file(path).empty()) found.push_back(path);
      else for (auto& inner : tensors(path)) found.push_back(std::move(inner));
    }
    std::sort(found.begin(), found.end());
    return found;
  }
};

CheckpointReader::CheckpointReader(const std::string& directory)
    : directory_(directory), index_(std::make_unique<Index>()) {
  const std::string index_path = fs::join(directory, schema::kIndexFile);
  if (!fs::is_directory(directory)) throw StorageError(directory + ": no such checkpoint directory");
  if (!fs::exists(index_path)) throw StorageError(directory + ": not a checkpoint (no index.h5)");
  index_->file = std::make_unique<File>(File::open_read(index_path));
  IndexRecord& record = index_->record;
  record = IndexRecord::from_attributes(index_->file->attributes(schema::kRoot), index_path);
  if (record.format != kFormatName)
    throw StorageError(index_path + ": not a trainer checkpoint (no format attribute '" + kFormatName + "')");
  if (record.format_version > kFormatVersion)
    throw StorageError(index_path + ": format version " + std::to_string(record.format_version) +
                       " is newer than this trainer reads (" + std::to_string(kFormatVersion) + ")");
  if (!record.complete) throw StorageError(index_path + ": the checkpoint is incomplete (no 'complete' mark)");
  if (record.shard_sizes.size() != record.shard_files.size())
    throw StorageError(index_path + ": shard list is malformed");
  index_->total_bytes = fs::file_size(index_path);
  for (std::size_t i = 0; i < record.shard_files.size(); ++i) {
    const std::string& name = record.shard_files[i];
    const std::string shard = fs::join(directory, name);
    const std::string recorded = std::to_string(record.shard_sizes[i]);
    if (!fs::exists(shard))
      throw StorageError(directory + ": shard " + name + " is missing (the index records " + recorded + " bytes)");
    const std::uint64_t actual = fs::file_size(shard);
    if (actual != record.shard_sizes[i])
      throw StorageError(directory + ": shard " + name + " has " + std::to_string(actual) + " bytes, the index records " +
                         recorded);
    index_->total_bytes += actual;
  }
}

CheckpointReader::~CheckpointReader() = default;

const std::string& CheckpointReader::directory() const { return directory_; }
const IndexRecord& CheckpointReader::index() const { return index_->record; }
std::uint64_t CheckpointReader::total_bytes() const { return index_->total_bytes; }

RunRecord CheckpointReader::run() const {
  return RunRecord::from_attributes(index_->file->attributes(schema::kRoot), "checkpoint " + directory_);
}

EpochRecord CheckpointReader::epoch() const {
  const std::string where = "checkpoint " + directory_ + ": " + schema::kEpoch;
  if (!index_->file->has(schema::kEpoch)) throw StorageError(where + ": no such group");
  return EpochRecord::from_attributes(index_->file->attributes(schema::kEpoch), where);
}

std::vector<ParamGroupRecord> CheckpointReader::param_groups() const {
  std::vector<ParamGroupRecord> groups;
  if (!index_->file->has(schema::kParamGroups)) return groups;
  const std::size_t count = index_->file->list(schema::kParamGroups).size();
  for (std::size_t g = 0; g < count; ++g) {
    const std::string path = schema::param_group(g);
    const std::string where = "checkpoint " + directory_ + ": " + path;
    if (!index_->file->has(path)) throw StorageError(where + ": missing (groups must be numbered 0.." + std::to_string(count - 1) + ")");
    groups.push_back(ParamGroupRecord::from_attributes(index_->file->attributes(path), where));
  }
  return groups;
}

NamedTensors CheckpointReader::model() const {
  NamedTensors tensors;
  const std::size_t prefix = std::string(schema::kModel).size() + 1;
  for (const auto& path : index_->tensors(schema::kModel)) tensors.emplace_back(path.substr(prefix), read(path));
  return tensors;
}

std::vector<OptimizerStateTensor> CheckpointReader::optimizer_state() const {
  std::vector<OptimizerStateTensor> state;
  const std::size_t prefix = std::string(schema::kOptimizerState).size() + 1;
  for (const auto& path : index_->tensors(schema::kOptimizerState)) {
    // <parameter name>/<key>: parameter names contain dots, never slashes.
    const std::string rest = path.substr(prefix);
    const auto slash = rest.rfind('/');
    if (slash == std::string::npos) throw StorageError("checkpoint " + directory_ + ": " + path + " is not <parameter>/<key>");
    state.push_back({rest.substr(0, slash), rest.substr(slash + 1), read(path)});
  }
  return state;
}

torch::Tensor CheckpointReader::rng_state() const { return read(schema::kRngState); }

std::vector<TensorInfo> CheckpointReader::describe() const {
  std::vector<TensorInfo> infos;
  for (const char* group : {schema::kModel, "/optimizer", schema::kEpoch})
    for (const auto& path : index_->tensors(group)) {
      const DatasetInfo info = index_->file->describe(path);
      infos.push_back({path, element_type_name(info), info.shape,
                       static_cast<std::uint64_t>(info.element_count()) * info.element_size,
                       index_->file->external_file(path), index_->file->checksummed(path)});
    }
  return infos;
}

torch::Tensor CheckpointReader::read(const std::string& path) const {
  try {
    const DatasetInfo info = index_->file->describe(path);
    torch::Tensor tensor = torch::empty(info.shape, torch_type_of(info, path));
    index_->file->read_raw(path, hdf5_type_of(tensor.scalar_type(), path), tensor.data_ptr());
    return tensor;
  } catch (const StorageError& e) {
    throw StorageError("checkpoint " + directory_ + ": tensor " + path + " in " + index_->file->external_file(path) +
                       " cannot be read (corrupt or truncated shard?): " + e.what());
  }
}

}  // namespace trainer::storage
