#include "telemetry/tensorboard_writer.h"

#include "common/error.h"
#include "telemetry/event_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace trainer::telemetry {
namespace {

constexpr std::size_t kFlushBytes = 1 << 16;
constexpr std::chrono::seconds kFlushInterval{5};

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string event_file_name() {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  return "events.out.tfevents." + std::to_string(seconds.count()) + "." + host + "." + std::to_string(::getpid()) +
         ".trainer";
}

}  // namespace

TensorBoardWriter::TensorBoardWriter(const std::string& directory, std::int64_t resumed_step)
    : last_flush_(std::chrono::steady_clock::now()) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) throw StorageError("--tensorboard " + directory + ": cannot create the directory: " + error.message());
  path_ = (std::filesystem::path(directory) / event_file_name()).string();
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw StorageError("--tensorboard: cannot create " + path_ + ": " + std::strerror(errno));
  append(file_version_event(wall_time()));
  if (resumed_step > 0) append(session_start_event(wall_time(), resumed_step + 1));
  flush();
}

TensorBoardWriter::~TensorBoardWriter() {
  try {
    flush();
  } catch (const std::exception&) {
    // Destructors do not throw; a failed final flush was reported by the flush before it, if any.
  }
  ::close(fd_);
}

void TensorBoardWriter::scalar(const std::string& tag, double value, std::int64_t step) {
  append(scalar_event(wall_time(), step, tag, static_cast<float>(value)));
  if (pending_.size() >= kFlushBytes || std::chrono::steady_clock::now() - last_flush_ >= kFlushInterval) flush();
}

void TensorBoardWriter::append(const std::string& event) { pending_ += tf_record(event); }

void TensorBoardWriter::flush() {
  std::size_t written = 0;
  if (const int error = write_all(fd_, pending_, written)) {
    pending_.erase(0, written);
    throw StorageError("--tensorboard: cannot write " + path_ + ": " + std::strerror(error));
  }
  pending_.clear();
  last_flush_ = std::chrono::steady_clock::now();
}

}  // namespace trainer::telemetry
