#pragma once
// The checksum over a checkpoint index's metadata: every attribute of every group (the run record,
// /epoch's progress and LR schedule, the optimizer's groups) and every link into the shards. Tensor
// data has its own Fletcher-32 checksums; this covers what they do not, so that one flipped bit in
// completed_epochs or a learning rate is found instead of resumed from. Private to storage/.

#include "storage/h5.h"

#include <string>

namespace trainer::checkpoint {

using storage::File;

// The root attribute that holds it ("fnv1a64:" and 16 hex digits), and the one written after it.
inline constexpr const char* kMetadataChecksum = "metadata_checksum";

// FNV-1a 64 over the canonical form (docs/checkpoint-format.md): the objects below "/" in sorted
// order, depth first; a group as "G" path NUL and its attributes sorted by name (but
// metadata_checksum and complete), each as name NUL, a type letter and the value (i: int64, d:
// double, each 8 bytes little-endian; s: length (8 bytes) and bytes; l: count (8 bytes) and each
// string as s); a link as "L" path NUL file NUL object NUL. Throws StorageError past `max_depth`.
std::string index_metadata_checksum(const File& index, int max_depth);

}  // namespace trainer::checkpoint
