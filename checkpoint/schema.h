#pragma once
// Checkpoint format v1 in one place: the files of a checkpoint directory, the paths of its groups
// and tensors, the names of its attributes, and typed records for what the attributes hold.
// docs/checkpoint-format.md describes the same layout for readers outside this code.
//
// Records read older files: a field that a later version adds has an explicit default here, used
// when the attribute is absent, so a v1 checkpoint stays readable as fields are added. A field
// without a default is required and its absence is a StorageError naming the group and the name.
// Torch-free.

#include "common/attributes.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace trainer::checkpoint {

inline constexpr const char* kFormatName = "trainer-checkpoint";
inline constexpr std::int64_t kFormatVersion = 2;  // 2: the index carries a metadata checksum

namespace schema {

// Files.
inline constexpr const char* kIndexFile = "index.h5";
inline constexpr const char* kLatestFile = "LATEST";
std::string shard_file(int rank, int ranks);  // "shard-00001-of-00004.h5"

// Groups of the logical tree (index.h5; the shards repeat it for the tensors they hold).
inline constexpr const char* kRoot = "/";
inline constexpr const char* kModel = "/model";
inline constexpr const char* kParamGroups = "/optimizer/param_groups";
inline constexpr const char* kOptimizerState = "/optimizer/state";
inline constexpr const char* kEpoch = "/epoch";

// Tensors.
inline constexpr const char* kRngState = "/epoch/rng_state";
inline constexpr const char* kCudaRngState = "/epoch/cuda_rng_state";  // only when trained on a GPU
std::string model_tensor(const std::string& name);                                    // /model/<name>
std::string param_group(std::size_t index);                                           // /optimizer/param_groups/<i>
std::string optimizer_state(const std::string& parameter, const std::string& key);    // /optimizer/state/<param>/<key>

}  // namespace schema

// Root attributes written at the commit by storage itself; the reader checks all of them.
struct IndexRecord {
  std::string format;                     // kFormatName
  std::int64_t format_version = 0;        // <= kFormatVersion
  std::int64_t world_size = 0;            // ranks that wrote it (informational: any world size loads it)
  std::vector<std::string> shard_files;   // one per writing rank
  std::vector<std::uint64_t> shard_sizes; // bytes; stored as decimal strings
  bool complete = false;                  // written last: nothing is trusted without it

  Attributes to_attributes() const;
  static IndexRecord from_attributes(const Attributes& attributes, const std::string& where);
};

// Root attributes written by the trainer: what the run was.
struct RunRecord {
  std::string model;               // checked on resume and by eval
  std::int64_t num_classes = 0;    // checked on resume and by eval
  std::int64_t in_channels = 0;    // checked on resume; default 0: unknown
  std::string model_sha256;        // a model file's SHA-256, checked on resume; default "": built-in
  std::vector<std::string> class_names;  // the data set's (image folders), checked on resume; default: none
  std::string torch_version;       // informational
  std::string created;             // informational, ISO 8601 UTC
  std::string config;              // informational: the run's options as JSON

  Attributes to_attributes() const;
  static RunRecord from_attributes(const Attributes& attributes, const std::string& where);
};

// Where training stands (/epoch): everything a bit-identical resume needs besides tensors.
struct TrainingProgress {
  std::int64_t completed_epochs = 0;
  std::int64_t global_step = 0;
  std::int64_t samples_seen = 0;
  // Inside an unfinished epoch (mid-epoch checkpoints): optimizer steps taken, permutation
  // positions consumed by all ranks together, and the epoch's training sums so far (all ranks).
  std::int64_t step_in_epoch = 0;
  std::int64_t position_in_epoch = 0;
  double partial_loss_sum = 0;
  double partial_correct = 0;
  double partial_count = 0;
};

// /epoch attributes: the progress, the sampler's seed, the global batch, the training set's size,
// and the LR schedule's settings (every other attribute of the group belongs to the schedule).
// Reading checks that the progress is possible (counts not negative, sums finite): a checkpoint
// that says otherwise is damaged.
struct EpochRecord {
  TrainingProgress progress;
  std::int64_t sampler_seed = -1;  // checked on resume (--seed); default -1: unknown, not checked
  std::int64_t global_batch = 0;   // informational: batch x accumulation x ranks; default 0: unknown
  std::int64_t train_samples = 0;  // the training set's size; a mid-epoch resume needs the same; 0: unknown
  std::int64_t virtual_ranks = 0;  // --virtual-ranks; checked on resume; default 0: off
  // The evaluation at the end of the epoch this checkpoint closes (absent inside an epoch or
  // without a test set): what --keep-best and --resume best rank checkpoints by.
  std::optional<double> test_loss, test_accuracy;
  // --precision fp16: the loss scaler's scale and growth tracker (trainer/loss_scaler.h).
  std::optional<double> loss_scale;
  std::int64_t loss_scale_growth_tracker = 0;
  Attributes schedule;             // checked on resume, key by key

  Attributes to_attributes() const;
  static EpochRecord from_attributes(const Attributes& attributes, const std::string& where);
};

// /optimizer/param_groups/<i>: one optimizer parameter group.
struct ParamGroupRecord {
  std::string optimizer;            // checked on resume
  std::vector<std::string> params;  // member parameter names, in order; checked on resume
  Attributes options;               // hyper-parameters as the optimizer's adapter writes them

  Attributes to_attributes() const;
  static ParamGroupRecord from_attributes(const Attributes& attributes, const std::string& where);
};

// Typed reads of one attribute; `where` names the group in errors.
std::int64_t required_int(const Attributes& attributes, const std::string& name, const std::string& where);
double required_double(const Attributes& attributes, const std::string& name, const std::string& where);
std::string required_string(const Attributes& attributes, const std::string& name, const std::string& where);
std::vector<std::string> required_strings(const Attributes& attributes, const std::string& name,
                                          const std::string& where);
std::int64_t int_or(const Attributes& attributes, const std::string& name, std::int64_t fallback,
                    const std::string& where);
double double_or(const Attributes& attributes, const std::string& name, double fallback, const std::string& where);
std::string string_or(const Attributes& attributes, const std::string& name, const std::string& fallback,
                      const std::string& where);

// "0.9", "[a, b]", "adam": an attribute value as messages print it.
std::string attribute_text(const AttributeValue& value);

}  // namespace trainer::checkpoint
