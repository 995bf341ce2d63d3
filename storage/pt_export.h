#pragma once
// Writing a file Python's torch.load reads: a value of plain containers (dicts, lists, tuples,
// numbers, strings) and tensors, pickled as torch.save does, written atomically. What goes into
// it (a state dict, a tutorial checkpoint dict) is the caller's business (trainer/export.h).

#include <ATen/core/ivalue.h>

#include <cstdint>
#include <string>

namespace trainer::storage {

// Returns the bytes written. Throws StorageError naming the file when it cannot be written.
std::uint64_t write_pt_file(const std::string& path, const c10::IValue& root);

}  // namespace trainer::storage
