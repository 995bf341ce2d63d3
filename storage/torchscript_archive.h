#pragma once
// What a TorchScript archive (torch.jit.save) declares, checked before LibTorch's loader reads it:
// LibTorch trusts the archive's sizes, and a tensor record shorter than the tensor built on it
// crashes the process or hands it heap memory as weights; a small deflated record can claim
// gigabytes. Torch-free: our own zip directory reader and our pickle reader, which runs nothing.

#include <cstdint>
#include <string>

namespace trainer::storage {

// Largest a compressed record (code, debug info) may claim once inflated; torch.jit.save stores
// tensor records uncompressed, and its code records are kilobytes.
inline constexpr std::uint64_t kMaxInflatedRecord = std::uint64_t{64} << 20;

// Throws StorageError naming the archive and the record when: the zip directory is damaged; a
// compressed record claims more than kMaxInflatedRecord or holds tensor data; a storage that
// data.pkl or constants.pkl refers to has no record or one of another size than numel x element
// size; a tensor view reaches past its storage.
void check_torchscript_archive(const std::string& path);

}  // namespace trainer::storage
