#include "checkpoint/posix_backend.h"

#include "checkpoint/directory.h"
#include "checkpoint/schema.h"
#include "storage/fs.h"

namespace trainer::checkpoint {

namespace fs = storage::fs;

void PosixBackend::begin(const std::string& name) {
  const std::string temporary = local_directory(name);
  fs::make_directories(root_);
  fs::remove_tree(temporary);
  fs::make_directories(temporary);
}

std::string PosixBackend::local_directory(const std::string& name) { return fs::join(root_, name) + ".tmp"; }

void PosixBackend::write(const std::string&, const std::string&) {}  // written in place, fsynced by the writer

void PosixBackend::commit(const std::string& name, const std::function<void()>& still_ours) {
  commit_checkpoint_directory(root_, name);
  if (still_ours) still_ours();  // the last moment before LATEST: the root may have been replaced
  fs::replace_text_atomically(fs::join(root_, schema::kLatestFile), name);
}

void PosixBackend::abandon(const std::string& name) noexcept {
  try {
    fs::remove_tree(local_directory(name));
  } catch (...) {
  }
}

std::vector<std::string> PosixBackend::list() const { return list_checkpoints(root_); }

std::string PosixBackend::latest() const { return latest_checkpoint(root_); }

bool PosixBackend::remove(const std::string& name) { return remove_checkpoint(root_, name); }

std::shared_ptr<Backend> make_posix_backend(const std::string& root, const std::string&) {
  return std::make_shared<PosixBackend>(root);
}

}  // namespace trainer::checkpoint
