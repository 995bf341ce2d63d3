#include "checkpoint/inspect.h"

#include "storage/fs.h"
#include "storage/tensor_file.h"
#include "storage/tensor_types.h"

#include <iomanip>

namespace trainer::checkpoint {

namespace fs = storage::fs;
using storage::shape_text;
using storage::stored_tensors;
using storage::weights_file_attributes;
namespace {

// "  class names: 0:boot 1:trouser", when the training data named its classes.
void print_class_names(const RunRecord& run, std::ostream& out) {
  if (run.class_names.empty()) return;
  out << "  class names:";
  for (std::size_t i = 0; i < run.class_names.size(); ++i) out << " " << i << ":" << run.class_names[i];
  out << "\n";
}

}  // namespace

void inspect_checkpoint(const CheckpointReader& checkpoint, bool verify, std::ostream& out) {
  const IndexRecord& index = checkpoint.index();
  const RunRecord run = checkpoint.run();
  const EpochRecord epoch = checkpoint.epoch();
  const TrainingProgress& progress = epoch.progress;
  auto known = [](const std::string& text) { return text.empty() ? std::string("?") : text; };
  out << "checkpoint " << checkpoint.directory() << " (format " << index.format << " v" << index.format_version
      << ", complete)\n"
      << "  model " << run.model << (run.model_sha256.empty() ? "" : " (TorchScript file, sha256 " + run.model_sha256 + ")")
      << ", " << run.num_classes << " classes, "
      << (run.in_channels > 0 ? std::to_string(run.in_channels) : "?") << " input channel(s); written by "
      << index.world_size << " rank(s) with LibTorch " << known(run.torch_version) << " at " << known(run.created)
      << "\n";
  print_class_names(run, out);
  out << "  progress: " << progress.completed_epochs << " epoch(s) done, global step " << progress.global_step << ", "
      << progress.samples_seen << " samples seen";
  if (progress.step_in_epoch > 0) out << ", " << progress.step_in_epoch << " step(s) into the next epoch";
  out << "\n  shards:";
  for (std::size_t i = 0; i < index.shard_files.size(); ++i)
    out << " " << index.shard_files[i] << " (" << index.shard_sizes[i] << " bytes)";
  out << "\n  tensors (dtype, shape, bytes, shard):\n";

  const std::vector<TensorInfo> tensors = checkpoint.describe();
  std::uint64_t tensor_bytes = 0;
  for (const auto& t : tensors) {
    tensor_bytes += t.bytes;
    out << "    " << std::left << std::setw(48) << t.path << " " << std::setw(8) << t.dtype << " " << std::setw(16)
        << shape_text(t.shape) << " " << std::right << std::setw(10) << t.bytes << "  " << t.shard << "\n";
  }
  out << "  total: " << tensors.size() << " tensors, " << tensor_bytes << " bytes of tensor data, "
      << checkpoint.total_bytes() << " bytes on disk\n";
  if (verify) {
    std::size_t checksummed = 0;
    for (const auto& t : tensors) {
      checkpoint.read(t.path);  // throws on a checksum mismatch or a truncated shard
      if (t.checksummed) ++checksummed;
    }
    out << "verify: " << tensors.size() << " tensors read, " << checksummed
        << " of them through their Fletcher-32 checksums: OK";
    if (checksummed < tensors.size()) out << " (scalars are stored without a checksum)";
    out << "\n";
  }
  out << std::flush;
}

void inspect_weights_file(const std::string& path, bool verify, std::ostream& out) {
  const Attributes attributes = weights_file_attributes(path);
  out << "weights file " << path << " (--save-weights)\n";
  {
    const RunRecord run = RunRecord::from_attributes(attributes, path);
    out << "  model " << run.model << (run.model_sha256.empty() ? "" : " (TorchScript file, sha256 " + run.model_sha256 + ")")
        << ", " << run.num_classes << " classes; written with LibTorch " << run.torch_version << " at " << run.created
        << "\n";
    print_class_names(run, out);
  }
  const StoredTensors tensors = stored_tensors(path, "/model");
  out << "  tensors (shape):\n";
  for (const auto& t : tensors) {
    out << "    " << std::left << std::setw(48) << t.name << " " << shape_text(t.shape) << "\n";
    if (verify) t.read();
  }
  out << std::right << "  total: " << tensors.size() << " tensors" << (verify ? "; every one read: OK" : "") << "\n"
      << std::flush;
}

}  // namespace trainer::checkpoint
