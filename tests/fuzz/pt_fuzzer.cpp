// libFuzzer harness for the torch.save reader (zip container and restricted unpickler), built with
// AddressSanitizer and UndefinedBehaviorSanitizer by tests/fuzz/run.sh. Any input must end in a
// value or a StorageError: no crash, no leak, no hang.

#include "common/error.h"
#include "storage/pickle_reader.h"
#include "storage/zip_reader.h"

#include <cstdint>
#include <vector>

namespace {

// Walks a value the way `trainer inspect` does: depth and the number of visits are bounded,
// because the memo lets a file share one value many times (a DAG that grows exponentially).
void walk(trainer::storage::PyPtr v, int depth, long& budget) {
  if (v == nullptr || depth > 32 || --budget < 0) return;
  for (auto item : v->items) walk(item, depth + 1, budget);
  for (const auto& [key, value] : v->dict) {
    walk(key, depth + 1, budget);
    walk(value, depth + 1, budget);
  }
}

void walk(trainer::storage::PyPtr v) {
  long budget = 1000000;
  walk(v, 0, budget);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    if (size > 0 && data[0] == 0x80) {  // a bare pickle
      walk(trainer::storage::unpickle(data, size, "fuzz.pkl").root);
      return 0;
    }
    trainer::storage::ZipReader zip(std::vector<std::uint8_t>(data, data + size), "fuzz.pt");
    for (const auto& name : zip.names()) {
      const std::vector<std::uint8_t> bytes = zip.read(name, size);
      if (name.size() >= 8 && name.compare(name.size() - 8, 8, "data.pkl") == 0)
        walk(trainer::storage::unpickle(bytes.data(), bytes.size(), name).root);
    }
  } catch (const trainer::StorageError&) {
  }
  return 0;
}
