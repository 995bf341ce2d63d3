#include "storage/torchscript_archive.h"

#include "common/error.h"
#include "storage/pickle_reader.h"
#include "storage/zip_reader.h"

#include <string>

namespace trainer::storage {
namespace {

// Every storage the pickle refers to has a record of exactly its size (the views were checked
// against the storages' sizes as the pickle was read).
void check_storages(const ZipReader& zip, const std::string& prefix, const std::string& pickle_name) {
  const std::string record = prefix + pickle_name;
  if (!zip.has(record)) return;  // constants.pkl is absent in old archives
  const std::vector<std::uint8_t> bytes = zip.read(record, kMaxInflatedRecord);
  const Pickle pickle = unpickle(bytes.data(), bytes.size(), zip.name() + ":" + record, /*any_object=*/true);
  for (const auto& value : pickle.values) {
    if (value->kind != PyValue::Kind::kStorage) continue;
    const StorageRef& storage = value->storage;
    const std::size_t element = storage_element_size(storage.type);  // known: the pickle reader refuses others
    const std::string data = prefix + "data/" + storage.key;
    if (!zip.has(data)) throw StorageError(zip.name() + ": storage " + storage.key + " has no record " + data);
    const std::uint64_t expected = static_cast<std::uint64_t>(storage.numel) * element;
    const ZipReader::Declared declared = zip.declared(data);
    if (declared.method != 0 || declared.bytes != expected)
      throw StorageError(zip.name() + ": record " + data + " holds " + std::to_string(declared.bytes) +
                         " bytes" + (declared.method != 0 ? " compressed" : "") + ", its storage declares " +
                         std::to_string(storage.numel) + " x " + std::to_string(element) + " = " +
                         std::to_string(expected) + " (a damaged or crafted archive)");
  }
}

}  // namespace

void check_torchscript_archive(const std::string& path) {
  const ZipReader zip = ZipReader::open(path);
  for (const auto& name : zip.names()) {
    const ZipReader::Declared declared = zip.declared(name);
    if (declared.method != 0 && declared.bytes > kMaxInflatedRecord)
      throw StorageError(zip.name() + ": record " + name + " claims " + std::to_string(declared.bytes) +
                         " bytes once inflated, more than a TorchScript archive's compressed records hold (" +
                         std::to_string(kMaxInflatedRecord >> 20) + " MiB)");
  }
  const std::string prefix = torch_archive_prefix(zip);
  if (prefix.empty()) throw StorageError(zip.name() + ": no data.pkl record: not a TorchScript archive");
  for (const char* pickle : {"data.pkl", "constants.pkl"}) check_storages(zip, prefix, pickle);
}

}  // namespace trainer::storage
