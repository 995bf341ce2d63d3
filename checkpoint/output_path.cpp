#include "checkpoint/output_path.h"

#include "common/error.h"
#include "common/output_file.h"
#include "checkpoint/directory.h"

#include <filesystem>
#include <system_error>

namespace trainer::checkpoint {
namespace {

namespace stdfs = std::filesystem;

stdfs::path resolved(const std::string& option, const std::string& path) {
  std::error_code error;
  stdfs::path absolute = stdfs::absolute(path, error);
  if (!error) absolute = stdfs::weakly_canonical(absolute, error);
  if (error) throw ConfigError("--" + option + " " + path + ": cannot resolve the path (" + error.message() + ")");
  return absolute;
}

// A checkpoint root holds LATEST or the lock; a checkpoint directory is epoch-N[-step-M] with an index.
bool is_checkpoint_place(const stdfs::path& directory) {
  std::error_code error;
  for (const char* marker : {"LATEST", ".trainer.lock"})
    if (stdfs::symlink_status(directory / marker, error).type() != stdfs::file_type::not_found && !error) return true;
  return parse_checkpoint_name(directory.filename().string()).has_value() &&
         stdfs::exists(directory / "index.h5", error);
}

}  // namespace

void check_output_path(const std::string& option, const std::string& path, OutputKind kind,
                       const std::vector<std::string>& checkpoint_roots) {
  if (path.empty() || (kind == OutputKind::kFile && is_null_device(path))) return;
  const stdfs::path target = resolved(option, path);
  std::vector<stdfs::path> roots;
  for (const auto& root : checkpoint_roots)
    if (!root.empty()) roots.push_back(resolved("checkpoint-dir", root));
  const std::string refused = "--" + option + " " + path + ": ";
  for (stdfs::path at = kind == OutputKind::kDirectory ? target : target.parent_path();; at = at.parent_path()) {
    bool inside = is_checkpoint_place(at);
    for (const auto& root : roots) inside = inside || at == root;
    if (inside)
      throw ConfigError(refused + "lies inside the checkpoint directory " + at.string() +
                        ", whose files only checkpoint commits write; choose a path outside it");
    if (at == at.parent_path()) break;
  }
  std::error_code error;
  const stdfs::file_status status = stdfs::status(target, error);
  if (status.type() == stdfs::file_type::not_found) return;
  if (error) throw ConfigError(refused + "cannot look at it (" + error.message() + ")");
  const bool fits = kind == OutputKind::kFile ? status.type() == stdfs::file_type::regular
                                              : status.type() == stdfs::file_type::directory;
  if (!fits)
    throw ConfigError(refused + (kind == OutputKind::kFile ? "not a regular file" : "not a directory") +
                      " (outputs are written to regular files only: a FIFO or device would block or never end)");
}

}  // namespace trainer::checkpoint
