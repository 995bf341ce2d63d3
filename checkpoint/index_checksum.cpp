#include "checkpoint/index_checksum.h"

#include "common/error.h"
#include "common/fnv1a.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

namespace trainer::checkpoint {
namespace {

void put_u64(Fnv1a& hash, std::uint64_t value) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  hash.update(bytes, sizeof bytes);
}

void put_text(Fnv1a& hash, const std::string& text) {
  put_u64(hash, text.size());
  hash.update(text);
}

void put_attribute(Fnv1a& hash, const AttributeValue& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::int64_t>) {
          hash.update("i", 1);
          put_u64(hash, static_cast<std::uint64_t>(v));
        } else if constexpr (std::is_same_v<T, double>) {
          std::uint64_t bits;
          std::memcpy(&bits, &v, sizeof bits);
          hash.update("d", 1);
          put_u64(hash, bits);
        } else if constexpr (std::is_same_v<T, std::string>) {
          hash.update("s", 1);
          put_text(hash, v);
        } else {
          hash.update("l", 1);
          put_u64(hash, v.size());
          for (const auto& item : v) {
            hash.update("s", 1);
            put_text(hash, item);
          }
        }
      },
      value);
}

void put_group(Fnv1a& hash, const File& index, const std::string& group, int depth, int max_depth) {
  if (depth > max_depth)
    throw StorageError(index.path() + ": nests groups deeper than any checkpoint (a link cycle?) at " + group);
  hash.update("G", 1);
  hash.update(group.c_str(), group.size() + 1);
  for (const auto& [name, value] : index.attributes(group)) {
    if (group == "/" && (name == kMetadataChecksum || name == "complete")) continue;
    hash.update(name.c_str(), name.size() + 1);
    put_attribute(hash, value);
  }
  for (const auto& name : index.list(group)) {
    const std::string path = (group == "/" ? "" : group) + "/" + name;
    const auto [file, object] = index.external_target(path);
    if (file.empty()) {
      put_group(hash, index, path, depth + 1, max_depth);
      continue;
    }
    hash.update("L", 1);
    for (const std::string* part : {&path, &file, &object}) hash.update(part->c_str(), part->size() + 1);
  }
}

}  // namespace

std::string index_metadata_checksum(const File& index, int max_depth) {
  Fnv1a hash;
  put_group(hash, index, "/", 0, max_depth);
  char text[32];
  std::snprintf(text, sizeof text, "fnv1a64:%016llx", static_cast<unsigned long long>(hash.value()));
  return text;
}

}  // namespace trainer::checkpoint
