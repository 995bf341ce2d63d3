#include "storage/inspect.h"

#include "storage/fs.h"
#include "storage/tensor_types.h"

#include <iomanip>

namespace trainer::storage {
namespace {

const char* dtype_name(const DatasetInfo& info) {
  if (info.kind == ElementKind::kFloat) return info.element_size == 8 ? "float64" : "float32";
  if (info.kind == ElementKind::kInteger) {
    if (!info.is_signed && info.element_size == 1) return "uint8";
    return info.element_size == 8 ? "int64" : "int32";
  }
  return "other";
}

}  // namespace

void inspect_checkpoint(const CheckpointReader& checkpoint, bool verify, std::ostream& out) {
  const File& index = checkpoint.index();
  auto text = [&](const char* group, const char* name) {
    return index.has_attribute(group, name) ? index.string_attribute(group, name) : std::string("?");
  };
  auto number = [&](const char* group, const char* name) {
    return index.has_attribute(group, name) ? std::to_string(index.int_attribute(group, name)) : std::string("?");
  };
  out << "checkpoint " << checkpoint.directory() << " (format " << text("/", "format") << " v"
      << number("/", "format_version") << ", complete)\n"
      << "  model " << text("/", "model") << ", " << number("/", "num_classes") << " classes, "
      << number("/", "in_channels") << " input channel(s); written by " << number("/", "world_size")
      << " rank(s) with LibTorch " << text("/", "torch_version") << " at " << text("/", "created") << "\n"
      << "  progress: " << number("/epoch", "completed_epochs") << " epoch(s) done, global step "
      << number("/epoch", "global_step") << ", " << number("/epoch", "samples_seen") << " samples seen";
  if (index.has_attribute("/epoch", "step_in_epoch") && index.int_attribute("/epoch", "step_in_epoch") > 0)
    out << ", " << index.int_attribute("/epoch", "step_in_epoch") << " step(s) into the next epoch";
  out << "\n  shards:";
  for (const auto& shard : checkpoint.shard_files())
    out << " " << shard << " (" << fs::file_size(fs::join(checkpoint.directory(), shard)) << " bytes)";
  out << "\n  tensors (dtype, shape, bytes, shard):\n";

  std::uint64_t tensor_bytes = 0;
  std::vector<std::string> names;
  for (const char* group : {"/model", "/optimizer", "/epoch"})
    for (const auto& name : checkpoint.tensors(group)) names.push_back(name);
  for (const auto& name : names) {
    const DatasetInfo info = index.describe(name);
    const std::uint64_t bytes = static_cast<std::uint64_t>(info.element_count()) * info.element_size;
    tensor_bytes += bytes;
    out << "    " << std::left << std::setw(48) << name << " " << std::setw(8) << dtype_name(info) << " "
        << std::setw(16) << shape_text(info.shape) << " " << std::right << std::setw(10) << bytes << "  "
        << checkpoint.shard_of(name) << "\n";
  }
  out << "  total: " << names.size() << " tensors, " << tensor_bytes << " bytes of tensor data, "
      << checkpoint.total_bytes() << " bytes on disk\n";
  if (verify) {
    for (const auto& name : names) checkpoint.read(name);  // throws on a checksum mismatch
    out << "verify: " << names.size() << " tensors read through their Fletcher-32 checksums: OK\n";
  }
  out << std::flush;
}

}  // namespace trainer::storage
