#pragma once
// FNV-1a, 64 bits: a fast, stable hash for fingerprints that every rank computes alike (replica
// states, checkpoint layouts). Not cryptographic: it detects accidents, not tampering.

#include <cstddef>
#include <cstdint>
#include <string>

namespace trainer {

class Fnv1a {
 public:
  void update(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) hash_ = (hash_ ^ p[i]) * 0x100000001b3ull;
  }
  void update(const std::string& text) { update(text.data(), text.size()); }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace trainer
