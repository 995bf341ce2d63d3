// libFuzzer harness for our HDF5 reading paths (the File wrapper as the hdf5 data set loader and the
// checkpoint reader use it): any input must end in values or a StorageError.

#include "common/error.h"
#include "storage/h5.h"

#include <cstdint>
#include <cstdio>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // In the working directory (run.sh gives each run its own), under a fixed name: a name with the
  // process id in it would reach libFuzzer's comparison traces and make --runs irreproducible.
  static const std::string path = "h5_fuzzer_input.h5";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    auto file = trainer::storage::File::open_read(path);
    for (const auto& name : file.list("/")) {
      const std::string object = "/" + name;
      if (file.has_attribute(object, "complete")) (void)file.attribute(object, "complete");
      if (!file.external_file(object).empty()) continue;
      try {
        const auto info = file.describe(object);
        if (info.element_count() < (1 << 20) && info.kind != trainer::storage::ElementKind::kOther)
          (void)file.read<float>(object);
      } catch (const trainer::StorageError&) {
      }
    }
    for (const char* name : {"format", "shard_files", "world_size"})
      if (file.has_attribute("/", name)) (void)file.attribute("/", name);
  } catch (const trainer::StorageError&) {
  }
  return 0;
}
