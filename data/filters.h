#pragma once
// Views that apply --classes, --limit-train/--limit-test and --normalize to any data set, lazily:
// nothing is copied, each batch is filtered as it is read.

#include "data/dataset.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace trainer::data {

// What is wrong with a --classes list on its own (fewer than two, a negative one, one named
// twice), or nothing: the command line and select_classes check the same rule.
std::optional<std::string> class_list_problem(const std::vector<std::int64_t>& classes);

// The samples whose label is one of `classes`, relabeled 0..k-1 in the order given, in their
// original order. Throws DataError for a class the data set lacks, one named twice, or fewer
// than two.
std::shared_ptr<const Dataset> select_classes(std::shared_ptr<const Dataset> data,
                                              const std::vector<std::int64_t>& classes);

// The first `count` samples (all of them when count <= 0 or >= size).
std::shared_ptr<const Dataset> take_first(std::shared_ptr<const Dataset> data, std::int64_t count);

// Images (x - mean) / std, computed in float32 as a whole-tensor sub_ and div_ would.
std::shared_ptr<const Dataset> normalize(std::shared_ptr<const Dataset> data, double mean, double std);

}  // namespace trainer::data
