#pragma once
// A user's own data in an HDF5 file: /images (N x C x H x W or N x H x W; uint8 scaled to [0, 1],
// floats as they are) and /labels (integers 0..K-1; K is the largest label plus one, at least 2).
// /images is read a batch's rows at a time, never whole: the file may be larger than memory.

#include "data/dataset.h"

#include <memory>
#include <string>

namespace trainer::data {

// Throws DataError (or StorageError for an unreadable file) naming the file and what is wrong; a
// sample holding NaN or infinity is named when a batch reads it.
std::shared_ptr<const Dataset> open_hdf5_dataset(const std::string& path);

}  // namespace trainer::data
