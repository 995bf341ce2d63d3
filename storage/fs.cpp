#include "storage/fs.h"

#include "common/error.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <sstream>

namespace trainer::storage::fs {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw StorageError(path + ": " + what + ": " + std::strerror(errno));
}

// stat() that tells "not there" (false) from "cannot look" (permission, I/O error: an exception),
// so that an unreadable directory is reported as such, not as a missing checkpoint.
bool stat_path(const std::string& path, struct stat& info) {
  if (::stat(path.c_str(), &info) == 0) return true;
  if (errno == ENOENT || errno == ENOTDIR) return false;
  fail("cannot access", path);
}

}  // namespace

bool exists(const std::string& path) {
  struct stat info {};
  return stat_path(path, info);
}

bool is_directory(const std::string& path) {
  struct stat info {};
  return stat_path(path, info) && S_ISDIR(info.st_mode);
}

std::uint64_t file_size(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) fail("cannot stat", path);
  return static_cast<std::uint64_t>(info.st_size);
}

void make_directories(const std::string& path) {
  if (path.empty() || is_directory(path)) return;
  make_directories(parent_of(path));
  if (::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) fail("cannot create directory", path);
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open for fsync", path);
  const int status = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (status != 0) fail("fsync failed", path);
}

void copy_file(const std::string& from, const std::string& to) {
  std::error_code error;  // libstdc++ copies in the kernel (copy_file_range, sendfile) where it can
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, error);
  if (error) {
    errno = error.value();
    fail("cannot copy to " + to, from);
  }
  fsync_path(to);
}

void rename_path(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) fail("cannot rename to " + to, from);
}

void remove_tree(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return;
  if (S_ISDIR(info.st_mode)) {
    for (const auto& name : list_directory(path)) remove_tree(join(path, name));
    if (::rmdir(path.c_str()) != 0) fail("cannot remove directory", path);
  } else if (::unlink(path.c_str()) != 0) {
    fail("cannot remove", path);
  }
}

std::vector<std::string> list_directory(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) fail("cannot list", path);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

void require_regular_file(const std::string& path) {
  struct stat info {};
  if (!stat_path(path, info)) throw StorageError(path + ": no such file");
  if (S_ISDIR(info.st_mode)) throw StorageError(path + ": is a directory, not a file");
  if (!S_ISREG(info.st_mode))
    throw StorageError(path + ": not a regular file (" + (S_ISFIFO(info.st_mode) ? "a FIFO" : S_ISSOCK(info.st_mode) ? "a socket" : "a device") +
                       "): refused, reading it could block forever");
}

std::string read_text(const std::string& path, std::size_t max_bytes) {
  require_regular_file(path);
  // O_NONBLOCK: should the file have become a FIFO since, the open still returns.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail("cannot read", path);
  struct stat info {};
  const bool regular = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
  std::string s(regular ? std::min<std::uint64_t>(static_cast<std::uint64_t>(info.st_size), max_bytes + 1) : 0, '\0');
  const ssize_t got = regular ? ::read(fd, s.data(), s.size()) : -1;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (!regular) throw StorageError(path + ": not a regular file");
  if (got < 0) fail("cannot read", path);
  s.resize(static_cast<std::size_t>(got));
  if (s.size() > max_bytes) throw StorageError(path + ": longer than the " + std::to_string(max_bytes) + " bytes expected");
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

void write_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write) {
  // The temporary lives in a fresh directory of our own (mkdtemp: mode 0700, unpredictable name),
  // so that no name someone else controls (a symlink called FILE.tmp) is ever opened or followed;
  // the rename then replaces `path` itself, a symlink included, never what it points to.
  const std::string parent = parent_of(path);
  std::string pattern = join(parent, std::string(kPrivatePrefix) + "XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr)
    throw StorageError(path + ": cannot write (no private directory in " + parent + ": " + std::strerror(errno) + ")");
  const std::string private_directory = pattern;
  const std::string temporary = join(private_directory, path.substr(path.find_last_of('/') + 1));
  try {
    write(temporary);
    fsync_path(temporary);
    rename_path(temporary, path);
    ::rmdir(private_directory.c_str());
  } catch (...) {
    try {
      remove_tree(private_directory);  // `path` keeps its old content
    } catch (...) {
    }
    throw;
  }
  fsync_path(parent);
}

void replace_text_atomically(const std::string& path, const std::string& text) {
  write_atomically(path, [&](const std::string& temporary) {
    std::ofstream out(temporary, std::ios::trunc);
    out << text << '\n';
    out.flush();
    if (!out) fail("cannot write", path);
  });
}

std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string join(const std::string& directory, const std::string& name) {
  if (directory.empty()) return name;
  return directory.back() == '/' ? directory + name : directory + "/" + name;
}

std::uint64_t bytes_read_by_process() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value)
    if (key == "rchar:") return value;
  return 0;
}

}  // namespace trainer::storage::fs
