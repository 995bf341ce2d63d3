#include "storage/checkpoint.h"

#include "common/error.h"
#include "storage/fs.h"
#include "storage/ownership.h"
#include "storage/tensor_types.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace trainer::storage {
namespace {

constexpr const char* kIndexFile = "index.h5";
constexpr const char* kLatestFile = "LATEST";

std::string shard_file_name(int rank, int ranks) {
  char name[64];
  std::snprintf(name, sizeof name, "shard-%05d-of-%05d.h5", rank, ranks);
  return name;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void write_index(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                 const std::map<std::string, Attributes>& groups, const std::vector<int>& owners, int ranks,
                 const std::vector<std::int64_t>& shard_sizes) {
  File index = File::create(path);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string& name = tensors[i].first;
    index.link_external(name, shard_file_name(owners[i], ranks), name);
  }
  for (const auto& [group, attributes] : groups) {
    index.create_group(group);
    for (const auto& [name, value] : attributes) index.set_attribute(group, name, value);
  }
  std::vector<std::string> files, sizes;
  for (int r = 0; r < ranks; ++r) {
    files.push_back(shard_file_name(r, ranks));
    sizes.push_back(std::to_string(shard_sizes[static_cast<std::size_t>(r)]));
  }
  index.set_attribute("/", "format", std::string(kFormatName));
  index.set_attribute("/", "format_version", kFormatVersion);
  index.set_attribute("/", "world_size", static_cast<std::int64_t>(ranks));
  index.set_attribute("/", "shard_files", files);
  index.set_attribute("/", "shard_sizes", sizes);
  index.set_attribute("/", "complete", std::int64_t{1});  // last: a reader trusts nothing without it
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

}  // namespace

CheckpointSave::CheckpointSave(const std::string& root, const std::string& name, const CheckpointData& data,
                               comm::Communicator& comm, SnapshotBuffers* snapshot)
    : root_(root), name_(name), attributes_(data.attributes), rank_(comm.rank()), ranks_(comm.size()),
      start_(std::chrono::steady_clock::now()) {
  final_path_ = fs::join(root, name);
  temporary_ = final_path_ + ".tmp";

  // Ownership must be computed from the same list on every rank: sort by name (the caller's order
  // may come from a hash map), and check that all ranks hand over the same layout.
  tensors_ = data.tensors;
  std::sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::uint64_t> bytes;
  std::uint64_t layout = 0xcbf29ce484222325ull;
  for (const auto& [tensor_name, tensor] : tensors_) {
    bytes.push_back(static_cast<std::uint64_t>(tensor.numel()) * tensor.element_size());
    for (char c : tensor_name + ":" + std::to_string(bytes.back()) + ";")
      layout = (layout ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  }
  for (std::int64_t other : comm.allgather(static_cast<std::int64_t>(layout)))
    if (other != static_cast<std::int64_t>(layout))
      throw Error("checkpoint " + name + ": the ranks hand over different tensors (" + comm.where() + ")");
  owners_ = assign_owners(bytes, ranks_);

  // A snapshot decouples the save from training: this rank's tensors are copied to host buffers
  // now, so that the optimizer may change the originals while the shard is written. The index
  // needs only the names of the others.
  if (snapshot) {
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
      auto& [tensor_name, tensor] = tensors_[i];
      if (owners_[i] != rank_) {
        tensor = torch::Tensor();
        continue;
      }
      torch::Tensor& buffer = (*snapshot)[tensor_name];
      if (!buffer.defined() || buffer.sizes() != tensor.sizes() || buffer.scalar_type() != tensor.scalar_type())
        buffer = torch::empty(tensor.sizes(), torch::TensorOptions()
                                                  .dtype(tensor.scalar_type())
                                                  .device(torch::kCPU)
                                                  .pinned_memory(tensor.is_cuda()));
      buffer.copy_(tensor.detach());
      tensor = buffer;
    }
  }

  if (rank_ == 0) {
    fs::make_directories(root);
    fs::remove_tree(temporary_);
    fs::make_directories(temporary_);
  }
  comm.barrier();
}

void CheckpointSave::write_shard() {
  const std::string shard_path = fs::join(temporary_, shard_file_name(rank_, ranks_));
  try {
    {
      File shard = File::create(shard_path);
      for (std::size_t i = 0; i < tensors_.size(); ++i) {
        if (owners_[i] != rank_) continue;
        const auto& [tensor_name, tensor] = tensors_[i];
        torch::Tensor host = tensor.detach().to(torch::kCPU).contiguous();
        std::vector<std::int64_t> shape(host.sizes().begin(), host.sizes().end());
        shard.write_raw(tensor_name, shape, hdf5_type_of(host.scalar_type(), tensor_name), host.data_ptr(),
                        /*checksummed=*/true);
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
      const std::string index_path = fs::join(temporary_, kIndexFile);
      write_index(index_path, tensors_, attributes_, owners_, ranks_, shard_sizes);
      fs::fsync_path(index_path);
      fs::fsync_path(temporary_);
      commit_directory(temporary_, final_path_);
      fs::fsync_path(root_);
      fs::replace_text_atomically(fs::join(root_, kLatestFile), name_);
      report.bytes = fs::file_size(fs::join(final_path_, kIndexFile));
    }
    for (std::int64_t size : shard_sizes) report.bytes += static_cast<std::uint64_t>(size);
    comm.barrier();  // nobody goes on (or deletes old checkpoints) before the commit
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
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

SaveReport save_checkpoint(const std::string& root, const std::string& name, const CheckpointData& data,
                           comm::Communicator& comm) {
  CheckpointSave save(root, name, data, comm, /*snapshot=*/nullptr);
  save.write_shard();
  return save.commit(comm);
}

CheckpointReader::CheckpointReader(const std::string& directory) : directory_(directory) {
  const std::string index_path = fs::join(directory, kIndexFile);
  if (!fs::is_directory(directory)) throw StorageError(directory + ": no such checkpoint directory");
  if (!fs::exists(index_path)) throw StorageError(directory + ": not a checkpoint (no index.h5)");
  index_ = std::make_unique<File>(File::open_read(index_path));
  if (!index_->has_attribute("/", "format") || index_->string_attribute("/", "format") != kFormatName)
    throw StorageError(index_path + ": not a trainer checkpoint (no format attribute '" + kFormatName + "')");
  const std::int64_t version = index_->int_attribute("/", "format_version");
  if (version > kFormatVersion)
    throw StorageError(index_path + ": format version " + std::to_string(version) +
                       " is newer than this trainer reads (" + std::to_string(kFormatVersion) + ")");
  if (!index_->has_attribute("/", "complete") || index_->int_attribute("/", "complete") != 1)
    throw StorageError(index_path + ": the checkpoint is incomplete (no 'complete' mark)");
  shard_files_ = index_->strings_attribute("/", "shard_files");
  const std::vector<std::string> sizes = index_->strings_attribute("/", "shard_sizes");
  if (sizes.size() != shard_files_.size()) throw StorageError(index_path + ": shard list is malformed");
  total_bytes_ = fs::file_size(index_path);
  for (std::size_t i = 0; i < shard_files_.size(); ++i) {
    const std::string shard = fs::join(directory, shard_files_[i]);
    const std::uint64_t recorded = std::stoull(sizes[i]);
    if (!fs::exists(shard))
      throw StorageError(directory + ": shard " + shard_files_[i] + " is missing (the index records " +
                         sizes[i] + " bytes)");
    const std::uint64_t actual = fs::file_size(shard);
    if (actual != recorded)
      throw StorageError(directory + ": shard " + shard_files_[i] + " has " + std::to_string(actual) +
                         " bytes, the index records " + sizes[i]);
    total_bytes_ += actual;
  }
}

std::vector<std::string> CheckpointReader::tensors(const std::string& group) const {
  std::vector<std::string> found;
  if (!index_->has(group)) return found;
  for (const auto& name : index_->list(group)) {
    const std::string path = group + "/" + name;
    if (!index_->external_file(path).empty()) found.push_back(path);
    else for (auto& inner : tensors(path)) found.push_back(std::move(inner));
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string CheckpointReader::shard_of(const std::string& dataset) const { return index_->external_file(dataset); }

std::vector<std::int64_t> CheckpointReader::shape(const std::string& dataset) const {
  return index_->describe(dataset).shape;
}

torch::Tensor CheckpointReader::read(const std::string& dataset) const {
  try {
    DatasetInfo info = index_->describe(dataset);
    torch::Tensor tensor = torch::empty(info.shape, torch_type_of(info, dataset));
    index_->read_raw(dataset, hdf5_type_of(tensor.scalar_type(), dataset), tensor.data_ptr());
    return tensor;
  } catch (const StorageError& e) {
    throw StorageError("checkpoint " + directory_ + ": tensor " + dataset + " in " + shard_of(dataset) +
                       " cannot be read (corrupt or truncated shard?): " + e.what());
  }
}

std::vector<std::string> list_checkpoints(const std::string& root) {
  std::vector<std::string> names;
  if (!fs::is_directory(root)) return names;
  for (const auto& name : fs::list_directory(root))
    if (!ends_with(name, ".tmp") && fs::exists(fs::join(fs::join(root, name), kIndexFile))) names.push_back(name);
  return names;
}

std::string latest_checkpoint(const std::string& root) {
  const std::string path = fs::join(root, kLatestFile);
  return fs::exists(path) ? fs::read_text(path) : "";
}

std::string resolve_checkpoint_path(const std::string& path) {
  if (fs::exists(fs::join(path, kIndexFile))) return path;
  const std::string latest = latest_checkpoint(path);
  if (!latest.empty()) return fs::join(path, latest);
  throw StorageError(path + ": no checkpoint here (neither index.h5 nor LATEST)");
}

int remove_stale_temporaries(const std::string& root) {
  if (!fs::is_directory(root)) return 0;
  int removed = 0;
  for (const auto& name : fs::list_directory(root))
    if (ends_with(name, ".tmp")) {
      fs::remove_tree(fs::join(root, name));
      ++removed;
    }
  return removed;
}

std::vector<std::string> apply_retention(const std::string& root, int keep) {
  std::vector<std::string> removed;
  if (keep < 1) return removed;
  const std::string latest = latest_checkpoint(root);
  const std::vector<std::string> names = list_checkpoints(root);
  // The `keep` newest by name stay, and so does the one LATEST names, whatever its age.
  for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < names.size(); ++i) {
    if (names[i] == latest) continue;
    fs::remove_tree(fs::join(root, names[i]));
    removed.push_back(names[i]);
  }
  return removed;
}

}  // namespace trainer::storage
