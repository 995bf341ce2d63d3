// libFuzzer harness for the torch.save reader (zip container and restricted unpickler), built with
// AddressSanitizer and UndefinedBehaviorSanitizer by tests/fuzz/run.sh. Any input must end in a
// value or a StorageError: no crash, no leak, no hang.

#include "common/error.h"
#include "storage/pickle_reader.h"
#include "storage/zip_reader.h"

#include <cstdint>
#include <vector>

namespace {

// Walks a value the way the loader does, with the loader's depth bound.
void walk(trainer::storage::PyPtr v, int depth) {
  if (v == nullptr || depth > 32) return;
  for (auto item : v->items) walk(item, depth + 1);
  for (const auto& [key, value] : v->dict) {
    walk(key, depth + 1);
    walk(value, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    if (size > 0 && data[0] == 0x80) {  // a bare pickle
      walk(trainer::storage::unpickle(data, size, "fuzz.pkl").root, 0);
      return 0;
    }
    trainer::storage::ZipReader zip(std::vector<std::uint8_t>(data, data + size), "fuzz.pt");
    for (const auto& name : zip.names()) {
      const auto [bytes, length] = zip.entry(name);
      if (name.size() >= 8 && name.compare(name.size() - 8, 8, "data.pkl") == 0)
        walk(trainer::storage::unpickle(bytes, length, name).root, 0);
    }
  } catch (const trainer::StorageError&) {
  }
  return 0;
}
