#pragma once
// The few file-system operations the commit protocol needs, each checked, each throwing
// StorageError with the path and errno's text. POSIX, torch-free.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace trainer::storage::fs {

// False when nothing is there; throws StorageError when the path cannot be looked at (EACCES, EIO).
bool exists(const std::string& path);
bool is_directory(const std::string& path);
std::uint64_t file_size(const std::string& path);
void make_directories(const std::string& path);  // like mkdir -p
void fsync_path(const std::string& path);        // a file or a directory
void rename_path(const std::string& from, const std::string& to);
// Copies the bytes of `from` into a new (or truncated) `to` and fsyncs it.
void copy_file(const std::string& from, const std::string& to);
void remove_tree(const std::string& path);       // like rm -rf; missing is fine
std::vector<std::string> list_directory(const std::string& path);  // names, sorted, no . and ..
// Throws StorageError unless `path` is a regular file (following symlinks): a FIFO, socket or
// device would block or never end, a directory is not a file.
void require_regular_file(const std::string& path);
// The whole file (a regular file of at most `max_bytes`), trailing newline removed.
std::string read_text(const std::string& path, std::size_t max_bytes = 4096);
// The one way a file of ours comes into being whole or not at all: `write` fills a temporary in a
// fresh private directory beside `path` (kPrivatePrefix + 6 random characters), which is fsynced,
// renamed over `path`, and the directory fsynced. If anything fails the temporary is removed and
// `path` keeps what it had.
inline constexpr const char* kPrivatePrefix = ".trainer-tmp-";
void write_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write);
// write_atomically of `text` and a newline.
void replace_text_atomically(const std::string& path, const std::string& text);
// Bytes this process has read through read() and its kind so far, from the page cache or the device
// (Linux's /proc/self/io rchar); 0 where the kernel does not say.
std::uint64_t bytes_read_by_process();
std::string parent_of(const std::string& path);
std::string join(const std::string& directory, const std::string& name);

}  // namespace trainer::storage::fs
