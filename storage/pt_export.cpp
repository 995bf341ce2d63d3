#include "storage/pt_export.h"

#include "common/error.h"
#include "storage/fs.h"

#include <torch/serialize.h>

#include <fstream>

namespace trainer::storage {

std::uint64_t write_pt_file(const std::string& path, const c10::IValue& root) {
  const std::vector<char> bytes = torch::pickle_save(root);
  fs::write_atomically(path, [&](const std::string& temporary) {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw StorageError(path + ": cannot write");
  });
  return bytes.size();
}

}  // namespace trainer::storage
