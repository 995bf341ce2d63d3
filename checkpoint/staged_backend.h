#pragma once
// --checkpoint-backend staged:DIR: each rank writes its files to DIR, a disk of its own node, and
// copies each finished file into <root>/<name>.tmp; rank 0 then commits in the root as the posix
// backend does. For roots on shared file systems that are slow at HDF5's many small writes and
// metadata (Lustre, GPFS, NFS): the root sees one sequential copy per file. With
// --checkpoint-async the copies run on the background thread too.
//
// Each job stages under DIR/trainer-<hash of the root's absolute path>: one job per root (the
// root's lock), so a job removes only its own leftovers (the start of a job clears them) and never
// touches another job's files or a user's.

#include "checkpoint/backend.h"
#include "checkpoint/posix_backend.h"

namespace trainer::checkpoint {

class StagedBackend : public Backend {
 public:
  // Throws ConfigError when `stage` lies inside the root or cannot be created.
  StagedBackend(std::string root, const std::string& stage);

  const std::string& root() const override { return committed_.root(); }
  void begin(const std::string& name) override { committed_.begin(name); }
  std::string local_directory(const std::string& name) override;
  void write(const std::string& name, const std::string& file) override;
  void commit(const std::string& name, const std::function<void()>& still_ours) override;
  void abandon(const std::string& name) noexcept override;
  std::vector<std::string> list() const override { return committed_.list(); }
  std::string latest() const override { return committed_.latest(); }
  bool remove(const std::string& name) override { return committed_.remove(name); }

  const std::string& stage() const { return stage_; }

 private:
  PosixBackend committed_;  // the root, where files are copied to and committed
  std::string stage_;       // DIR/trainer-<hash>
};

std::shared_ptr<Backend> make_staged_backend(const std::string& root, const std::string& argument);

}  // namespace trainer::checkpoint
