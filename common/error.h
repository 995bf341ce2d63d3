#pragma once
// Exceptions shared by every folder. Libraries throw; only main() turns them into a message and an
// exit status (see launcher/main.cpp). Messages carry their context: which file, tensor or rank.

#include <stdexcept>
#include <string>

namespace trainer {

// Something went wrong inside trainer or a library it uses: exit status 1.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The user's input is wrong (option, value, file, checkpoint): exit status 2.
class InputError : public Error {
 public:
  using Error::Error;
};

// A command-line or configuration-file problem.
class ConfigError : public InputError {
 public:
  using InputError::InputError;
};

// A data set that is missing, unreadable or malformed.
class DataError : public InputError {
 public:
  using InputError::InputError;
};

// An HDF5 file that is missing, unreadable or not what was expected.
class StorageError : public InputError {
 public:
  using InputError::InputError;
};

// A checkpoint that does not fit this run (another model, optimizer or shape).
class CheckpointError : public InputError {
 public:
  using InputError::InputError;
};

// A communication failure between ranks (MPI or NCCL).
class CommError : public Error {
 public:
  using Error::Error;
};

// Not an error: a stop signal (SIGTERM, SIGUSR1, ...) was agreed on by all ranks and the state is
// saved. main() exits with kExitStopped so that a batch script can requeue the job.
class StopRequested : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The first line of an error's text: LibTorch's messages go on with context and backtraces.
inline std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace trainer
