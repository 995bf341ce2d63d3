#pragma once
// A user's own data in an HDF5 file: /images (N x C x H x W or N x H x W; uint8 scaled to [0, 1],
// floats as they are) and /labels (integers 0..K-1; K is the largest label plus one, at least 2).

#include "data/tensor_dataset.h"

#include <memory>
#include <string>

namespace trainer::data {

// Throws DataError (or StorageError for an unreadable file) naming the file and what is wrong.
std::shared_ptr<TensorDataset> load_hdf5_dataset(const std::string& path);

}  // namespace trainer::data
