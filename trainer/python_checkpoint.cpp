#include "trainer/python_checkpoint.h"

#include "common/error.h"
#include "optim/adapter.h"
#include "optim/state_map.h"
#include "optim/state_tensor.h"
#include "storage/fs.h"
#include "storage/pt_file.h"
#include "trainer/weights.h"

#include <cmath>
#include <map>

namespace trainer {
namespace {

using storage::PyPtr;
using storage::PyValue;

// The options an optimizer's param_groups entry holds in Python, as our records spell them.
Attributes python_options(PyPtr group) {
  Attributes options;
  for (const auto& [key, value] : group->dict) {
    if (key->kind != PyValue::Kind::kString) continue;
    const std::string& name = key->text;
    if (value->kind == PyValue::Kind::kFloat) options[name] = value->number;
    else if (value->kind == PyValue::Kind::kInt) options[name] = static_cast<double>(value->integer);
    else if (value->kind == PyValue::Kind::kBool) options[name] = std::int64_t{value->boolean ? 1 : 0};
    else if (value->kind == PyValue::Kind::kString) options[name] = value->text;  // refused where a number is due
    else if (name == "betas" && value->kind == PyValue::Kind::kTuple && value->items.size() == 2)
      for (int i = 0; i < 2; ++i) {
        const PyPtr beta = value->items[static_cast<std::size_t>(i)];
        options[i == 0 ? "beta1" : "beta2"] = beta->kind == PyValue::Kind::kFloat ? beta->number : static_cast<double>(beta->integer);
      }
  }
  return options;
}

// Which of our optimizers wrote a group, by its keys. Adam's and AdamW's are the same but where
// PyTorch 2.x adds decoupled_weight_decay; without it, either is taken at its word.
std::string optimizer_kind(const Attributes& options, const std::string& ours) {
  if (options.count("beta1")) {
    if (!options.count("decoupled_weight_decay")) return ours == "adamw" ? "adamw" : "adam";
    return optim::number(options, "decoupled_weight_decay", 0) != 0 ? "adamw" : "adam";
  }
  if (options.count("alpha")) return "rmsprop";
  if (options.count("momentum")) return "sgd";
  return "an optimizer trainer does not have";
}

// The command-line option of each group setting that one can give.
const std::map<std::string, std::string>& option_of_setting() {
  static const std::map<std::string, std::string> options = {
      {"lr", "lr"},     {"momentum", "momentum"}, {"weight_decay", "weight-decay"}, {"nesterov", "nesterov"},
      {"beta1", "betas"}, {"beta2", "betas"},    {"eps", "eps"},                   {"alpha", "alpha"},
      {"centered", "centered"}};
  return options;
}

// A group's settings from its record (this run's, completed by the file's).
optim::GroupSettings settings_of(const Attributes& record) {
  optim::GroupSettings s;
  s.lr = optim::number(record, "lr", s.lr);
  s.momentum = optim::number(record, "momentum", s.momentum);
  s.weight_decay = optim::number(record, "weight_decay", s.weight_decay);
  s.nesterov = optim::number(record, "nesterov", 0) != 0;
  s.beta1 = optim::number(record, "beta1", s.beta1);
  s.beta2 = optim::number(record, "beta2", s.beta2);
  s.eps = optim::number(record, "eps", s.eps);
  s.alpha = optim::number(record, "alpha", s.alpha);
  s.centered = optim::number(record, "centered", 0) != 0;
  return s;
}

// A group's options as the file has them, where this run does not give them explicitly: the
// learning rate (the schedule's base: Python's initial_lr where a scheduler wrote one, else lr)
// and the optimizer's settings. An explicit option that differs from the file's is an error, and
// so is a difference in a setting that has no option. Returns what was taken, for the log.
std::vector<std::string> adopt_options(const Attributes& file, const TrainConfig& config, optim::OptimizerSetup& setup,
                                       std::size_t g, const std::string& where) {
  auto& group = setup.optimizer->param_groups()[g];
  Attributes record = setup.adapter->record(group.options());
  record["lr"] = setup.base_lrs[g];
  std::vector<std::string> taken;
  for (auto& [key, value] : record) {
    const std::string file_key = key == "lr" && file.count("initial_lr") ? "initial_lr" : key;
    const auto it = file.find(file_key);
    if (it == file.end()) continue;
    const auto* real = std::get_if<double>(&it->second);
    if ((real == nullptr && !std::holds_alternative<std::int64_t>(it->second)) || (real && !std::isfinite(*real)))
      throw CheckpointError(where + ": parameter group " + std::to_string(g) + " has " + file_key + " " +
                            (real ? checkpoint::attribute_text(it->second)
                                  : "'" + checkpoint::attribute_text(it->second) + "' (a string)") +
                            ", not a finite number");
    if (optim::number(record, key, 0) == optim::number(file, file_key, 0)) continue;
    const auto option = option_of_setting().find(key);
    const bool given = option != option_of_setting().end() &&
                       (config.explicitly(option->second) || (key == "lr" && !config.lr_groups.empty()));
    if (option == option_of_setting().end() || given)
      throw CheckpointError(where + ": parameter group " + std::to_string(g) + " has " + key + " " +
                            checkpoint::attribute_text(it->second) + ", this run has " + checkpoint::attribute_text(value) +
                            (given ? " (given explicitly: leave the option out to take the file's)"
                                   : " (no option sets it)"));
    value = optim::number(file, file_key, 0);
    taken.push_back(key + " " + checkpoint::attribute_text(value));
  }
  if (taken.empty()) return taken;
  const optim::GroupSettings settings = settings_of(record);
  setup.base_lrs[g] = settings.lr;
  group.set_options(setup.adapter->options(settings));
  return taken;
}

// A value of a parameter's state as a tensor: tensors as they are, numbers (an old step count) as
// scalars.
torch::Tensor state_value(PyPtr value, const storage::PtFile& file, const std::string& name) {
  if (value->kind == PyValue::Kind::kTensor) return file.tensor(value->tensor, name);
  if (value->kind == PyValue::Kind::kInt) return torch::tensor(value->integer, torch::kInt64);
  if (value->kind == PyValue::Kind::kFloat) return torch::tensor(value->number, torch::kFloat64);
  throw CheckpointError(name + " is a " + value->kind_name() + ", not a tensor or a number");
}

std::size_t restore_optimizer(const storage::PtCheckpoint& checkpoint, const TrainConfig& config, TrainingState& state,
                              const std::string& where, std::vector<std::string>& taken) {
  const PyPtr groups = storage::dict_get(checkpoint.optimizer, "param_groups");
  const PyPtr saved_state = storage::dict_get(checkpoint.optimizer, "state");
  if (groups == nullptr || groups->kind != PyValue::Kind::kList || saved_state == nullptr ||
      saved_state->kind != PyValue::Kind::kDict)
    throw CheckpointError(where + ": optimizer_state_dict is not PyTorch's {'state', 'param_groups'}");
  optim::OptimizerSetup& setup = state.optimizer;
  const auto& ours = setup.optimizer->param_groups();
  if (groups->items.size() != ours.size())
    throw CheckpointError(where + ": the optimizer has " + std::to_string(groups->items.size()) +
                          " parameter group(s), this run has " + std::to_string(ours.size()) + " (see --lr-group, --freeze)");
  std::map<std::int64_t, std::pair<std::size_t, std::size_t>> by_index;  // Python's index -> (group, position)
  for (std::size_t g = 0; g < ours.size(); ++g) {
    const Attributes options = python_options(groups->items[g]);
    const std::string kind = optimizer_kind(options, config.optimizer.name);
    if (kind != config.optimizer.name)
      throw CheckpointError(where + " holds " + kind + " state, this run uses --optimizer " + config.optimizer.name);
    for (const auto& item : adopt_options(options, config, setup, g, where))
      taken.push_back((ours.size() > 1 ? "group " + std::to_string(g) + " " : "") + item);
    const PyPtr params = storage::dict_get(groups->items[g], "params");
    if (params == nullptr || params->kind != PyValue::Kind::kList || params->items.size() != ours[g].params().size())
      throw CheckpointError(where + ": parameter group " + std::to_string(g) + " has " +
                            std::to_string(params ? params->items.size() : 0) + " parameters, this run's has " +
                            std::to_string(ours[g].params().size()));
    for (std::size_t p = 0; p < params->items.size(); ++p) by_index[params->items[p]->integer] = {g, p};
  }
  optim::clear_state(*setup.optimizer);
  for (const auto& [key, entry] : saved_state->dict) {
    const auto place = key->kind == PyValue::Kind::kInt ? by_index.find(key->integer) : by_index.end();
    if (place == by_index.end() || entry->kind != PyValue::Kind::kDict)
      throw CheckpointError(where + ": optimizer state for a parameter index the groups do not list");
    const auto [g, p] = place->second;
    const torch::Tensor& parameter = ours[g].params()[p];
    const std::string name = setup.group_members[g][p];
    std::map<std::string, torch::Tensor> tensors;
    for (const auto& [k, v] : entry->dict)
      if (k->kind == PyValue::Kind::kString && v->kind != PyValue::Kind::kNone)
        tensors[k->text] = state_value(v, *checkpoint.file, where + ": state of " + name + ": " + k->text);
    if (tensors.empty()) continue;  // SGD without momentum keeps nothing
    optim::set_state(*setup.optimizer, parameter, setup.adapter->make_state(tensors, parameter, where + ": parameter " + name));
  }
  return saved_state->dict.size();
}

}  // namespace

bool is_python_checkpoint(const std::string& path) {
  return !storage::fs::is_directory(path) && storage::looks_like_pt_file(path);
}

TrainingProgress resume_from_python(const std::string& path, const TrainConfig& config, TrainingState& state,
                                    int world_size, std::ostream& log) {
  const std::string where = "--resume " + path;
  const storage::PtCheckpoint checkpoint = storage::read_pt_checkpoint(path);
  WeightSource weights;
  weights.path = path;
  weights.kind = "torch.save checkpoint dict";
  weights.tensors = checkpoint.weights.tensors;
  normalize_names(weights);
  load_weights(state.model, weights, /*strict=*/true);
  if (checkpoint.optimizer == nullptr)
    throw CheckpointError(where + ": the file holds no optimizer_state_dict (--init-from takes weights alone)");
  std::vector<std::string> taken;
  const std::size_t restored = restore_optimizer(checkpoint, config, state, where, taken);

  // The epoch is taken as the number of epochs done, what `trainer export --with-optimizer` writes.
  TrainingProgress progress;
  if (!checkpoint.weights.epoch_kind.empty())  // 2.5, nan, "2" or True would silently be epoch 0
    throw CheckpointError(where + ": 'epoch' is a " + checkpoint.weights.epoch_kind +
                          ", not a whole number of epochs done (save it as int(epoch))");
  progress.completed_epochs = checkpoint.weights.epoch.value_or(0);
  if (progress.completed_epochs < 0 || progress.completed_epochs > (std::int64_t{1} << 31))
    throw CheckpointError(where + ": epoch " + std::to_string(progress.completed_epochs) + " is not a number of epochs");
  const std::int64_t per_rank = (state.train_samples + world_size - 1) / world_size;
  const std::int64_t per_step = config.batch_size * config.accumulate_steps;
  progress.global_step = progress.completed_epochs * ((per_rank + per_step - 1) / per_step);
  progress.samples_seen = progress.completed_epochs * per_rank * world_size;
  log << "resumed from torch.save checkpoint dict " << path << ": " << weights.tensors.size() << " model tensors"
      << (weights.stripped_prefix.empty() ? "" : " (names normalized, stripped '" + weights.stripped_prefix + "')")
      << ", " << config.optimizer.name << " state of " << restored << " parameter(s), epoch "
      << progress.completed_epochs << " taken as epochs done; not in the file: the generator state (--seed "
      << config.seed << " goes on), the position in the data (epoch " << progress.completed_epochs + 1
      << " starts afresh), the global step (counted as " << progress.global_step << ")" << std::endl;
  if (!taken.empty()) {
    log << "taken from " << path << " (options not given on the command line):";
    for (const auto& item : taken) log << (&item == &taken.front() ? " " : ", ") << item;
    log << std::endl;
  }
  return progress;
}

}  // namespace trainer
