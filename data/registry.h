#pragma once
// make_dataset(config, split): the one place that maps a --dataset name to a source, and applies
// the filters (--classes, --limit-*, --normalize) to every source alike. Adding a source is one
// file pair in data/ and one line in registry.cpp.

#include "data/config.h"
#include "data/dataset.h"

#include <memory>
#include <string>
#include <vector>

namespace trainer::data {

// The split, filtered, or nullptr when the source has no such split (an hdf5 data set without
// --test-data has no test split). Throws DataError naming the file or option that is wrong.
std::shared_ptr<const Dataset> make_dataset(const DataConfig& config, Split split);

// The names make_dataset accepts, in a stable order, each with a line for --help.
struct DatasetName {
  std::string name;
  std::string help;
};
const std::vector<DatasetName>& dataset_names();
bool is_dataset_name(const std::string& name);

}  // namespace trainer::data
