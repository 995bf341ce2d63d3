#include "storage/checkpoint_dir.h"

#include "common/error.h"
#include "storage/checkpoint_schema.h"
#include "storage/fs.h"

namespace trainer::storage {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<std::string> list_checkpoints(const std::string& root) {
  std::vector<std::string> names;
  if (!fs::is_directory(root)) return names;
  for (const auto& name : fs::list_directory(root))
    if (!ends_with(name, ".tmp") && fs::exists(fs::join(fs::join(root, name), schema::kIndexFile))) names.push_back(name);
  return names;
}

std::string latest_checkpoint(const std::string& root) {
  const std::string path = fs::join(root, schema::kLatestFile);
  return fs::exists(path) ? fs::read_text(path) : "";
}

std::string resolve_checkpoint_path(const std::string& path) {
  if (fs::exists(fs::join(path, schema::kIndexFile))) return path;
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
