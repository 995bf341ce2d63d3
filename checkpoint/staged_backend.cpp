#include "checkpoint/staged_backend.h"

#include "common/error.h"
#include "common/fnv1a.h"
#include "storage/fs.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace trainer::checkpoint {

namespace fs = storage::fs;

namespace {

std::string absolute_path(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (!error) absolute = std::filesystem::weakly_canonical(absolute, error);
  return absolute.lexically_normal().string();
}

bool inside(const std::string& path, const std::string& directory) {
  const std::string prefix = directory.back() == '/' ? directory : directory + "/";
  return path == directory || path.rfind(prefix, 0) == 0;
}

std::string root_key(const std::string& absolute_root) {
  Fnv1a hash;
  hash.update(absolute_root);
  char key[17];
  std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(hash.value()));
  return key;
}

std::string file_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

}  // namespace

StagedBackend::StagedBackend(std::string root, const std::string& stage) : committed_(std::move(root)) {
  const std::string option = "--checkpoint-backend staged:" + stage;
  const std::string absolute_root = absolute_path(committed_.root());
  const std::string absolute_stage = absolute_path(stage);
  if (inside(absolute_stage, absolute_root))
    throw ConfigError(option + ": the staging directory lies inside the checkpoint root " + committed_.root() +
                      " (stage on another disk, such as the node's local one)");
  stage_ = fs::join(stage, "trainer-" + root_key(absolute_root));
  try {
    fs::make_directories(stage_);
  } catch (const StorageError& e) {
    throw ConfigError(option + ": " + e.what());
  }
  // What a killed save of this root left here. Every rank of the job clears before its first save
  // (whose barrier follows on all of them), so nothing of this job is being written yet.
  for (const auto& leftover : fs::list_directory(stage_)) {
    try {
      fs::remove_tree(fs::join(stage_, leftover));
    } catch (const StorageError&) {  // another rank of this node removed it first
    }
  }
}

std::string StagedBackend::local_directory(const std::string& name) {
  const std::string directory = fs::join(stage_, name + ".tmp");
  fs::make_directories(directory);
  return directory;
}

void StagedBackend::write(const std::string& name, const std::string& file) {
  fs::copy_file(file, fs::join(committed_.local_directory(name), file_name(file)));
  fs::remove_tree(file);
  ::rmdir(fs::join(stage_, name + ".tmp").c_str());  // the last rank of this node to finish removes it
}

void StagedBackend::commit(const std::string& name, const std::function<void()>& still_ours) {
  committed_.commit(name, still_ours);  // the copies are fsynced; the root's directory next
}

void StagedBackend::abandon(const std::string& name) noexcept {
  committed_.abandon(name);
  try {
    fs::remove_tree(fs::join(stage_, name + ".tmp"));
  } catch (...) {
  }
}

std::shared_ptr<Backend> make_staged_backend(const std::string& root, const std::string& argument) {
  return std::make_shared<StagedBackend>(root, argument);
}

}  // namespace trainer::checkpoint
