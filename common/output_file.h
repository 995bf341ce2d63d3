#pragma once
// Opening a file the user named as an output (--metrics-file, --timeline): never blocking on a
// FIFO, and only ever a regular file (or /dev/null, where a user sends what they do not want).
// POSIX, header-only, so that telemetry/ and trainer/ share it without linking storage/.

#include "common/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace trainer {

inline bool is_null_device(const std::string& path) { return path == "/dev/null"; }

// open(2) with O_WRONLY | O_CREAT | `flags`, non-blocking while it opens (a FIFO without a reader
// fails at once with ENXIO instead of blocking the run forever), blocking again on return. Returns
// -1 with errno set when the open fails; throws ConfigError naming `option` when what it opened is
// not a regular file.
inline int open_output_file(const std::string& option, const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC | flags, 0644);
  if (fd < 0) return fd;
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !(S_ISREG(info.st_mode) || is_null_device(path))) {
    ::close(fd);
    throw ConfigError("--" + option + " " + path + ": not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace trainer
