#pragma once
// The default backend: each rank writes its files straight into <root>/<name>.tmp, which rank 0
// renames to <name> when whole (docs/checkpoint-format.md, "Commit").

#include "checkpoint/backend.h"

namespace trainer::checkpoint {

class PosixBackend : public Backend {
 public:
  explicit PosixBackend(std::string root) : root_(std::move(root)) {}

  const std::string& root() const override { return root_; }
  void begin(const std::string& name) override;
  std::string local_directory(const std::string& name) override;
  void write(const std::string& name, const std::string& file) override;
  void commit(const std::string& name, const std::function<void()>& still_ours) override;
  void abandon(const std::string& name) noexcept override;
  std::vector<std::string> list() const override;
  std::string latest() const override;
  bool remove(const std::string& name) override;

 private:
  std::string root_;
};

std::shared_ptr<Backend> make_posix_backend(const std::string& root, const std::string& argument);

}  // namespace trainer::checkpoint
