#include "checkpoint/schema.h"

#include "common/error.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

namespace trainer::checkpoint {
namespace schema {

std::string shard_file(int rank, int ranks) {
  char name[64];
  std::snprintf(name, sizeof name, "shard-%05d-of-%05d.h5", rank, ranks);
  return name;
}

std::string model_tensor(const std::string& name) { return std::string(kModel) + "/" + name; }

std::string param_group(std::size_t index) { return std::string(kParamGroups) + "/" + std::to_string(index); }

std::string optimizer_state(const std::string& parameter, const std::string& key) {
  return std::string(kOptimizerState) + "/" + parameter + "/" + key;
}

}  // namespace schema

namespace {

const AttributeValue* find(const Attributes& attributes, const std::string& name) {
  const auto it = attributes.find(name);
  return it == attributes.end() ? nullptr : &it->second;
}

[[noreturn]] void wrong_type(const std::string& name, const char* expected, const std::string& where) {
  throw StorageError(where + " attribute " + name + ": not " + expected);
}

std::int64_t as_int(const AttributeValue& value, const std::string& name, const std::string& where) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return *i;
  wrong_type(name, "an integer", where);
}

double as_double(const AttributeValue& value, const std::string& name, const std::string& where) {
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
  wrong_type(name, "a number", where);
}

std::string as_string(const AttributeValue& value, const std::string& name, const std::string& where) {
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  wrong_type(name, "a string", where);
}

const AttributeValue& required(const Attributes& attributes, const std::string& name, const std::string& where) {
  if (const AttributeValue* value = find(attributes, name)) return *value;
  throw StorageError(where + " lacks the attribute " + name);
}

std::uint64_t parse_size(const std::string& text, const std::string& where) {
  std::uint64_t value = 0;
  bool digits = !text.empty() && text.size() <= 19;
  for (char c : text) {
    if (c < '0' || c > '9') digits = false;
    else value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (!digits) throw StorageError(where + " attribute shard_sizes: '" + text.substr(0, 40) + "' is not a byte count");
  return value;
}

}  // namespace

std::int64_t required_int(const Attributes& a, const std::string& name, const std::string& where) {
  return as_int(required(a, name, where), name, where);
}

double required_double(const Attributes& a, const std::string& name, const std::string& where) {
  return as_double(required(a, name, where), name, where);
}

std::string required_string(const Attributes& a, const std::string& name, const std::string& where) {
  return as_string(required(a, name, where), name, where);
}

std::vector<std::string> required_strings(const Attributes& a, const std::string& name, const std::string& where) {
  const AttributeValue& value = required(a, name, where);
  if (const auto* texts = std::get_if<std::vector<std::string>>(&value)) return *texts;
  if (const auto* text = std::get_if<std::string>(&value)) return {*text};
  wrong_type(name, "a list of strings", where);
}

std::int64_t int_or(const Attributes& a, const std::string& name, std::int64_t fallback, const std::string& where) {
  const AttributeValue* value = find(a, name);
  return value ? as_int(*value, name, where) : fallback;
}

double double_or(const Attributes& a, const std::string& name, double fallback, const std::string& where) {
  const AttributeValue* value = find(a, name);
  return value ? as_double(*value, name, where) : fallback;
}

std::string string_or(const Attributes& a, const std::string& name, const std::string& fallback,
                      const std::string& where) {
  const AttributeValue* value = find(a, name);
  return value ? as_string(*value, name, where) : fallback;
}

std::string attribute_text(const AttributeValue& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) {
    // The shortest text that reads back as the same double: 0.9, not 0.90000000000000002.
    std::string text;
    for (int precision = 6; precision <= 17; ++precision) {
      std::ostringstream out;
      out.precision(precision);
      out << *d;
      text = out.str();
      if (std::stod(text) == *d) break;
    }
    return text;
  }
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  std::string text = "[";
  for (const auto& item : std::get<std::vector<std::string>>(value)) text += (text.size() > 1 ? ", " : "") + item;
  return text + "]";
}

Attributes IndexRecord::to_attributes() const {
  std::vector<std::string> sizes;
  for (std::uint64_t size : shard_sizes) sizes.push_back(std::to_string(size));
  return {{"format", format},
          {"format_version", format_version},
          {"world_size", world_size},
          {"shard_files", shard_files},
          {"shard_sizes", sizes},
          {"complete", std::int64_t{complete ? 1 : 0}}};
}

IndexRecord IndexRecord::from_attributes(const Attributes& a, const std::string& where) {
  IndexRecord r;
  r.format = string_or(a, "format", "", where);
  r.format_version = int_or(a, "format_version", 0, where);
  r.world_size = int_or(a, "world_size", 0, where);
  r.complete = int_or(a, "complete", 0, where) == 1;
  if (!r.complete) return r;  // the rest is only read from a complete checkpoint
  if (r.format_version < 1) throw StorageError(where + ": format_version " + std::to_string(r.format_version) + " is not a version");
  r.shard_files = required_strings(a, "shard_files", where);
  for (const auto& size : required_strings(a, "shard_sizes", where)) r.shard_sizes.push_back(parse_size(size, where));
  if (r.world_size < 1 || static_cast<std::size_t>(r.world_size) != r.shard_files.size())
    throw StorageError(where + ": world_size " + std::to_string(r.world_size) + " does not match its " +
                       std::to_string(r.shard_files.size()) + " shard file(s)");
  return r;
}

Attributes RunRecord::to_attributes() const {
  Attributes a = {{"model", model},           {"num_classes", num_classes}, {"in_channels", in_channels},
                  {"torch_version", torch_version}, {"created", created},   {"config", config}};
  if (!model_sha256.empty()) a["model_sha256"] = model_sha256;
  if (!class_names.empty()) a["class_names"] = class_names;
  return a;
}

RunRecord RunRecord::from_attributes(const Attributes& a, const std::string& where) {
  RunRecord r;
  r.model = required_string(a, "model", where);
  r.num_classes = required_int(a, "num_classes", where);
  r.in_channels = int_or(a, "in_channels", 0, where);
  r.model_sha256 = string_or(a, "model_sha256", "", where);
  if (find(a, "class_names")) r.class_names = required_strings(a, "class_names", where);
  r.torch_version = string_or(a, "torch_version", "", where);
  r.created = string_or(a, "created", "", where);
  r.config = string_or(a, "config", "", where);
  return r;
}

namespace {

// /epoch attributes that are not the LR schedule's.
const std::set<std::string>& progress_keys() {
  static const std::set<std::string> keys = {
      "completed_epochs", "global_step",     "samples_seen",  "step_in_epoch", "position_in_epoch",
      "partial_loss_sum", "partial_correct", "partial_count", "sampler_seed",  "global_batch", "train_samples",
      "virtual_ranks",    "test_loss",        "test_accuracy",   "loss_scale",    "loss_scale_growth_tracker"};
  return keys;
}

void check_count(std::int64_t value, const char* name, std::int64_t most, const std::string& where) {
  if (value < 0 || value > most)
    throw StorageError(where + " attribute " + name + ": " + std::to_string(value) + " is not a possible count");
}

void check_sum(double value, const char* name, const std::string& where) {
  if (!std::isfinite(value) || value < 0) throw StorageError(where + " attribute " + name + ": not a possible sum");
}

void check_progress(const EpochRecord& r, const std::string& where) {
  constexpr std::int64_t kMost = std::int64_t{1} << 53;  // exact in a double, and far beyond any run
  const TrainingProgress& p = r.progress;
  check_count(p.completed_epochs, "completed_epochs", std::int64_t{1} << 31, where);
  check_count(p.global_step, "global_step", kMost, where);
  check_count(p.samples_seen, "samples_seen", kMost, where);
  check_count(p.step_in_epoch, "step_in_epoch", p.global_step, where);
  check_count(p.position_in_epoch, "position_in_epoch", kMost, where);
  check_sum(p.partial_loss_sum, "partial_loss_sum", where);
  check_sum(p.partial_correct, "partial_correct", where);
  check_sum(p.partial_count, "partial_count", where);
  if (p.partial_correct > p.partial_count) throw StorageError(where + ": more correct predictions than samples");
  check_count(r.global_batch, "global_batch", kMost, where);
  check_count(r.train_samples, "train_samples", kMost, where);
  if (r.sampler_seed < -1) throw StorageError(where + " attribute sampler_seed: negative");
  check_count(r.virtual_ranks, "virtual_ranks", std::int64_t{1} << 20, where);
}

}  // namespace

Attributes EpochRecord::to_attributes() const {
  Attributes a = schedule;
  const TrainingProgress& p = progress;
  a["completed_epochs"] = p.completed_epochs;
  a["global_step"] = p.global_step;
  a["samples_seen"] = p.samples_seen;
  a["step_in_epoch"] = p.step_in_epoch;
  a["position_in_epoch"] = p.position_in_epoch;
  a["partial_loss_sum"] = p.partial_loss_sum;
  a["partial_correct"] = p.partial_correct;
  a["partial_count"] = p.partial_count;
  a["sampler_seed"] = sampler_seed;
  a["global_batch"] = global_batch;
  a["train_samples"] = train_samples;
  if (virtual_ranks > 0) a["virtual_ranks"] = virtual_ranks;
  if (test_loss) a["test_loss"] = *test_loss;
  if (test_accuracy) a["test_accuracy"] = *test_accuracy;
  if (loss_scale) {
    a["loss_scale"] = *loss_scale;
    a["loss_scale_growth_tracker"] = loss_scale_growth_tracker;
  }
  return a;
}

EpochRecord EpochRecord::from_attributes(const Attributes& a, const std::string& where) {
  EpochRecord r;
  TrainingProgress& p = r.progress;
  p.completed_epochs = required_int(a, "completed_epochs", where);
  p.global_step = required_int(a, "global_step", where);
  p.samples_seen = required_int(a, "samples_seen", where);
  p.step_in_epoch = int_or(a, "step_in_epoch", 0, where);
  p.position_in_epoch = int_or(a, "position_in_epoch", 0, where);
  p.partial_loss_sum = double_or(a, "partial_loss_sum", 0, where);
  p.partial_correct = double_or(a, "partial_correct", 0, where);
  p.partial_count = double_or(a, "partial_count", 0, where);
  r.sampler_seed = int_or(a, "sampler_seed", -1, where);
  r.global_batch = int_or(a, "global_batch", 0, where);
  r.train_samples = int_or(a, "train_samples", 0, where);
  r.virtual_ranks = int_or(a, "virtual_ranks", 0, where);
  if (a.count("test_loss")) r.test_loss = double_or(a, "test_loss", 0, where);
  if (a.count("test_accuracy")) r.test_accuracy = double_or(a, "test_accuracy", 0, where);
  if (a.count("loss_scale")) {
    r.loss_scale = double_or(a, "loss_scale", 0, where);
    r.loss_scale_growth_tracker = int_or(a, "loss_scale_growth_tracker", 0, where);
    if (!(*r.loss_scale > 0) || !std::isfinite(*r.loss_scale) || r.loss_scale_growth_tracker < 0)
      throw StorageError(where + " attribute loss_scale: not a positive finite scale with a tracker >= 0");
  }
  check_progress(r, where);
  for (const auto& [name, value] : a)
    if (!progress_keys().count(name)) r.schedule.emplace(name, value);
  return r;
}

Attributes ParamGroupRecord::to_attributes() const {
  Attributes a = options;
  a["optimizer"] = optimizer;
  a["params"] = params;
  return a;
}

ParamGroupRecord ParamGroupRecord::from_attributes(const Attributes& a, const std::string& where) {
  ParamGroupRecord r;
  r.optimizer = required_string(a, "optimizer", where);
  r.params = required_strings(a, "params", where);
  for (const auto& [name, value] : a)
    if (name != "optimizer" && name != "params") r.options.emplace(name, value);
  return r;
}

}  // namespace trainer::checkpoint
