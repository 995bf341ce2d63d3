#include "checkpoint/directory.h"

#include "common/error.h"
#include "checkpoint/schema.h"
#include "storage/fs.h"
#include "storage/h5.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace trainer::checkpoint {

namespace fs = storage::fs;
using storage::File;
namespace {

constexpr const char* kLockFile = ".trainer.lock";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_real_directory(const std::string& path) {  // not a symlink to one
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

// A leftover of the trainer's own: what an interrupted save or replacement leaves.
bool is_stale_temporary(const std::string& name) {
  if (name == std::string(schema::kLatestFile) + ".tmp") return true;
  if (name.rfind(fs::kPrivatePrefix, 0) == 0) return true;
  for (const char* suffix : {".old.tmp", ".tmp"})
    if (ends_with(name, suffix) && parse_checkpoint_name(name.substr(0, name.size() - std::strlen(suffix))))
      return true;
  return false;
}

}  // namespace

namespace {

// Reads 1 to 18 digits at `at` into `value`; false when there are none or too many.
bool read_number(const std::string& text, std::size_t& at, std::int64_t& value) {
  const std::size_t start = at;
  value = 0;
  while (at < text.size() && text[at] >= '0' && text[at] <= '9' && at - start < 18) value = value * 10 + (text[at++] - '0');
  return at > start && (at == text.size() || text[at] < '0' || text[at] > '9');
}

}  // namespace

std::optional<CheckpointOrder> parse_checkpoint_name(const std::string& name) {
  // epoch-N or epoch-N-step-M, N and M of 1 to 18 digits.
  const std::string epoch = "epoch-", step = "-step-";
  if (name.compare(0, epoch.size(), epoch) != 0) return std::nullopt;
  CheckpointOrder order;
  std::size_t at = epoch.size();
  if (!read_number(name, at, order.epochs)) return std::nullopt;
  if (at == name.size()) return order;
  if (name.compare(at, step.size(), step) != 0) return std::nullopt;
  at += step.size();
  if (!read_number(name, at, order.steps) || at != name.size()) return std::nullopt;
  return order;
}

std::vector<std::string> list_checkpoints(const std::string& root) {
  std::vector<std::pair<CheckpointOrder, std::string>> found;
  if (!fs::is_directory(root)) return {};
  for (const auto& name : fs::list_directory(root)) {
    const auto order = parse_checkpoint_name(name);
    if (order && fs::exists(fs::join(fs::join(root, name), schema::kIndexFile))) found.emplace_back(*order, name);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> names;
  for (auto& entry : found) names.push_back(std::move(entry.second));
  return names;
}

std::string latest_checkpoint(const std::string& root) {
  const std::string path = fs::join(root, schema::kLatestFile);
  if (!fs::exists(path)) return "";
  const std::string name = fs::read_text(path, 256);
  if (!parse_checkpoint_name(name))
    throw StorageError(path + ": does not name a checkpoint (expected epoch-NNNN or epoch-NNNN-step-NNNNNNNN)");
  return name;
}

std::string resolve_checkpoint_path(const std::string& path) {
  if (fs::exists(fs::join(path, schema::kIndexFile))) return path;
  const std::string latest = latest_checkpoint(path);
  if (!latest.empty()) return fs::join(path, latest);
  // A run directory (trainer/run_directory.h): its checkpoints/ root.
  const std::string run_checkpoints = fs::join(path, "checkpoints");
  if (fs::is_directory(run_checkpoints) && !fs::exists(fs::join(path, "LATEST"))) {
    const std::string in_run = latest_checkpoint(run_checkpoints);
    if (!in_run.empty()) return fs::join(run_checkpoints, in_run);
  }
  throw StorageError(path + ": no checkpoint here (neither index.h5 nor LATEST, nor a run directory's checkpoints/LATEST)");
}

int remove_stale_temporaries(const std::string& root) {
  if (!fs::is_directory(root)) return 0;
  int removed = 0;
  for (const auto& name : fs::list_directory(root))
    if (is_stale_temporary(name)) {
      fs::remove_tree(fs::join(root, name));  // a symlink is unlinked, never followed
      ++removed;
    }
  return removed;
}

bool remove_checkpoint(const std::string& root, const std::string& name) {
  const std::string path = fs::join(root, name);
  if (!is_real_directory(path)) return false;  // a symlink the user put there is theirs
  fs::remove_tree(path);
  return true;
}

void commit_checkpoint_directory(const std::string& root, const std::string& name) {
  const std::string final_path = fs::join(root, name);
  const std::string temporary = final_path + ".tmp";
  const std::string displaced = final_path + ".old.tmp";
  fs::fsync_path(temporary);
  if (fs::exists(final_path)) {  // a run that resumed from an older checkpoint reached this one again
    fs::remove_tree(displaced);
    fs::rename_path(final_path, displaced);
  }
  fs::rename_path(temporary, final_path);
  fs::remove_tree(displaced);
  fs::fsync_path(root);
}

std::vector<std::string> remove_checkpoints(const std::string& root) {
  std::vector<std::string> removed;
  if (!fs::is_directory(root)) return removed;
  const std::string latest = fs::join(root, "LATEST");
  if (fs::exists(latest) && !fs::is_directory(latest)) fs::remove_tree(latest);
  for (const auto& name : list_checkpoints(root))
    if (remove_checkpoint(root, name)) removed.push_back(name);
  remove_stale_temporaries(root);
  return removed;
}

namespace {

// The holder's note, read for the message of a job that finds the directory locked.
std::string read_holder(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat info {};
  char holder[256] = {};
  const ssize_t got = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) ? ::pread(fd, holder, sizeof holder - 1, 0) : -1;
  ::close(fd);
  std::string who = got > 0 ? std::string(holder, static_cast<std::size_t>(got)) : "";
  while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
  return who;
}

[[noreturn]] void throw_in_use(const std::string& root) {
  const std::string who = read_holder(fs::join(root, kLockFile));
  throw CheckpointError("--checkpoint-dir " + root + " is in use by another training job" +
                        (who.empty() ? std::string() : " (" + who + ")") +
                        "; one directory holds one run: choose another --checkpoint-dir or wait for that job to end");
}

int open_lock_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0) throw StorageError(path + ": cannot open the lock file: " + std::string(std::strerror(errno)));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw StorageError(path + ": the lock file is not a regular file");
  }
  return fd;
}

// Who holds the lock, for the next job's message (a courtesy: the lock itself is the flock).
void write_holder_note(const std::string& root) {
  try {
    const int fd = open_lock_file(fs::join(root, kLockFile));
    char host[256] = "?";
    ::gethostname(host, sizeof host - 1);
    const std::string who = "pid " + std::to_string(::getpid()) + " on " + host + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, who.data(), who.size(), 0) < 0) {
      // The lock holds without the note; a second job is refused all the same.
    }
    ::close(fd);
  } catch (const StorageError&) {
  }
}

bool same_file(int fd, const std::string& path) {
  struct stat held {}, named {};
  return ::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_dev == named.st_dev &&
         held.st_ino == named.st_ino;
}

}  // namespace

std::unique_ptr<DirectoryLock> DirectoryLock::acquire(const std::string& root) {
  fs::make_directories(root);
  fs::list_directory(root);  // a directory the job cannot list is reported as such
  // The lock is held on the directory itself, which a user's `rm` of a file cannot take away.
  const int directory = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory < 0) throw StorageError(root + ": cannot open the checkpoint directory: " + std::strerror(errno));
  int locked = directory;
  if (::flock(directory, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK) {
      ::close(directory);
      throw_in_use(root);
    }
    // File systems that cannot lock a directory (NFS emulates flock with byte-range locks, which
    // need a file open for writing): the note file is locked instead, and re-checked before commits.
    locked = open_lock_file(fs::join(root, kLockFile));
    if (::flock(locked, LOCK_EX | LOCK_NB) != 0) {
      const int file_error = errno;
      ::close(locked);
      ::close(directory);
      if (file_error == EWOULDBLOCK) throw_in_use(root);
      throw StorageError(root + ": cannot lock the checkpoint directory: " + std::strerror(file_error));
    }
  }
  write_holder_note(root);
  return std::unique_ptr<DirectoryLock>(new DirectoryLock(root, directory, locked));
}

void DirectoryLock::verify() {
  if (!same_file(directory_, root_))
    throw CheckpointError("--checkpoint-dir " + root_ +
                          " was removed or replaced while this job ran; not committing a checkpoint into a directory "
                          "this job does not hold");
  if (locked_ == directory_) {
    // The note may have been deleted; the lock has not. Put the note back for the next job's message.
    if (!fs::exists(fs::join(root_, kLockFile))) write_holder_note(root_);
    return;
  }
  if (same_file(locked_, fs::join(root_, kLockFile))) return;
  // The locked file was deleted: take the lock again on the new one, unless another job has it.
  const int fd = open_lock_file(fs::join(root_, kLockFile));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw CheckpointError("--checkpoint-dir " + root_ +
                          ": the lock file was deleted while this job ran and another job now holds the directory; "
                          "not committing into it");
  }
  ::close(locked_);
  locked_ = fd;
  write_holder_note(root_);
}

DirectoryLock::~DirectoryLock() {
  if (locked_ != directory_) ::close(locked_);
  ::close(directory_);
}

}  // namespace trainer::checkpoint
