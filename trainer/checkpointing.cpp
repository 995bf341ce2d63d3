#include "trainer/checkpointing.h"

#include "common/error.h"
#include "trainer/weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/version.h>

#include <chrono>
#include <ctime>
#include <map>
#include <sstream>

namespace trainer {
namespace {

using storage::Attributes;

// LibTorch keys optimizer state by the parameter's TensorImpl address, printed as text (what
// c10::guts::to_string does); checkpoints key it by parameter name instead.
std::string state_key(const torch::Tensor& parameter) {
  std::ostringstream key;
  key << parameter.unsafeGetTensorImpl();
  return key.str();
}

std::string iso_time_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

std::string config_json(const TrainConfig& c) {
  nlohmann::json j = {
      {"model", c.model}, {"num_classes", c.num_classes}, {"dataset", c.data.dataset},
      {"data_dir", c.data.data_dir}, {"data", c.data.data_file}, {"classes", c.data.classes},
      {"limit_train", c.data.limit_train}, {"limit_test", c.data.limit_test}, {"epochs", c.epochs},
      {"batch_size", c.batch_size}, {"accumulate_steps", c.accumulate_steps}, {"seed", c.seed},
      {"optimizer", c.optimizer.name}, {"lr", c.optimizer.lr}, {"momentum", c.optimizer.momentum},
      {"weight_decay", c.optimizer.weight_decay}, {"lr_step", c.optimizer.lr_step},
      {"lr_gamma", c.optimizer.lr_gamma}};
  return j.dump();
}

Attributes param_group_attributes(const TrainConfig& config, const torch::optim::OptimizerParamGroup& group,
                                  const std::vector<std::string>& names) {
  Attributes a{{"optimizer", config.optimizer.name}, {"params", names}};
  if (const auto* sgd = dynamic_cast<const torch::optim::SGDOptions*>(&group.options())) {
    a["lr"] = sgd->lr();
    a["momentum"] = sgd->momentum();
    a["dampening"] = sgd->dampening();
    a["weight_decay"] = sgd->weight_decay();
    a["nesterov"] = std::int64_t{sgd->nesterov()};
  } else if (const auto* adam = dynamic_cast<const torch::optim::AdamOptions*>(&group.options())) {
    a["lr"] = adam->lr();
    a["beta1"] = std::get<0>(adam->betas());
    a["beta2"] = std::get<1>(adam->betas());
    a["eps"] = adam->eps();
    a["weight_decay"] = adam->weight_decay();
    a["amsgrad"] = std::int64_t{adam->amsgrad()};
  }
  return a;
}

}  // namespace

std::string checkpoint_name(const TrainingProgress& p) {
  char name[64];
  if (p.step_in_epoch == 0)
    std::snprintf(name, sizeof name, "epoch-%04lld", static_cast<long long>(p.completed_epochs));
  else
    std::snprintf(name, sizeof name, "epoch-%04lld-step-%08lld", static_cast<long long>(p.completed_epochs),
                  static_cast<long long>(p.step_in_epoch));
  return name;
}

storage::CheckpointData capture_checkpoint(const TrainConfig& config, const ModelIdentity& identity,
                                           const models::StateDict& state,
                                           const torch::optim::Optimizer& optimizer,
                                           const TrainingProgress& progress, int world_size) {
  storage::CheckpointData data;
  std::map<std::string, std::string> name_of_key;
  for (const auto& [name, tensor] : state) {
    data.tensors.emplace_back("/model/" + name, tensor);
    name_of_key[state_key(tensor)] = name;
  }

  for (std::size_t g = 0; g < optimizer.param_groups().size(); ++g) {
    const auto& group = optimizer.param_groups()[g];
    std::vector<std::string> names;
    for (const auto& p : group.params()) names.push_back(name_of_key.at(state_key(p)));
    data.attributes["/optimizer/param_groups/" + std::to_string(g)] = param_group_attributes(config, group, names);
  }
  for (const auto& [key, param_state] : optimizer.state()) {
    const auto named = name_of_key.find(key);
    if (named == name_of_key.end()) continue;
    const std::string prefix = "/optimizer/state/" + named->second + "/";
    if (const auto* sgd = dynamic_cast<const torch::optim::SGDParamState*>(param_state.get())) {
      if (sgd->momentum_buffer().defined()) data.tensors.emplace_back(prefix + "momentum_buffer", sgd->momentum_buffer());
    } else if (const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(param_state.get())) {
      data.tensors.emplace_back(prefix + "step", torch::tensor(adam->step(), torch::kInt64));
      data.tensors.emplace_back(prefix + "exp_avg", adam->exp_avg());
      data.tensors.emplace_back(prefix + "exp_avg_sq", adam->exp_avg_sq());
      if (adam->max_exp_avg_sq().defined())
        data.tensors.emplace_back(prefix + "max_exp_avg_sq", adam->max_exp_avg_sq());
    }
  }

  data.tensors.emplace_back("/epoch/rng_state", at::detail::getDefaultCPUGenerator().get_state());
  data.attributes["/epoch"] = Attributes{
      {"completed_epochs", progress.completed_epochs},
      {"global_step", progress.global_step},
      {"samples_seen", progress.samples_seen},
      {"step_in_epoch", progress.step_in_epoch},
      {"position_in_epoch", progress.position_in_epoch},
      {"partial_loss_sum", progress.partial_loss_sum},
      {"partial_correct", progress.partial_correct},
      {"partial_count", progress.partial_count},
      {"sampler_seed", static_cast<std::int64_t>(config.seed)},
      {"global_batch", config.batch_size * config.accumulate_steps * world_size},
      {"lr", config.optimizer.lr},
      {"lr_step", config.optimizer.lr_step},
      {"lr_gamma", config.optimizer.lr_gamma},
  };
  data.attributes["/"] = Attributes{
      {"model", identity.model},
      {"num_classes", identity.num_classes},
      {"in_channels", identity.in_channels},
      {"torch_version", std::string(TORCH_VERSION)},
      {"created", iso_time_now()},
      {"config", config_json(config)},
  };
  return data;
}

TrainingProgress restore_checkpoint(const storage::CheckpointReader& checkpoint, const TrainConfig& config,
                                    const ModelIdentity& identity, const models::StateDict& state,
                                    torch::optim::Optimizer& optimizer) {
  const storage::File& index = checkpoint.index();
  const std::string where = "checkpoint " + checkpoint.directory();
  const std::string saved_model = index.string_attribute("/", "model");
  if (saved_model != identity.model)
    throw CheckpointError(where + " was written for model " + saved_model + ", this run trains " + identity.model);
  const std::int64_t saved_classes = index.int_attribute("/", "num_classes");
  if (saved_classes != identity.num_classes)
    throw CheckpointError(where + " has " + std::to_string(saved_classes) + " classes, this run's model has " +
                          std::to_string(identity.num_classes));

  // Strict, by name, through the loader every path shares: every missing, unexpected and
  // mis-shaped tensor is reported at once.
  WeightSource weights;
  weights.path = checkpoint.directory();
  weights.kind = "checkpoint";
  for (const auto& path : checkpoint.tensors("/model")) weights.tensors.emplace_back(path.substr(7), checkpoint.read(path));
  load_weights(state, weights, /*strict=*/true);

  const std::string group0 = "/optimizer/param_groups/0";
  if (!index.has(group0)) throw CheckpointError(where + " has no optimizer state");
  const std::string saved_optimizer = index.string_attribute(group0, "optimizer");
  if (saved_optimizer != config.optimizer.name)
    throw CheckpointError(where + " holds " + saved_optimizer + " state, this run uses --optimizer " +
                          config.optimizer.name);
  // The parameter groups (--lr-group, --freeze) must be the ones the checkpoint was trained with.
  std::map<std::string, std::string> name_of_key;
  for (const auto& [name, tensor] : state) name_of_key[state_key(tensor)] = name;
  const std::vector<std::string> saved_groups = index.list("/optimizer/param_groups");
  auto group_text = [](const std::vector<std::string>& names) {
    return names.empty() ? std::string("[]") : "[" + names.front() + (names.size() > 1 ? ", ...]" : "]") +
                                                   " (" + std::to_string(names.size()) + ")";
  };
  if (saved_groups.size() != optimizer.param_groups().size())
    throw CheckpointError(where + " has " + std::to_string(saved_groups.size()) +
                          " parameter group(s), this run has " + std::to_string(optimizer.param_groups().size()) +
                          " (were --lr-group or --freeze changed?)");
  for (std::size_t g = 0; g < saved_groups.size(); ++g) {
    const auto saved_names = index.strings_attribute("/optimizer/param_groups/" + std::to_string(g), "params");
    std::vector<std::string> names;
    for (const auto& p : optimizer.param_groups()[g].params()) names.push_back(name_of_key.at(state_key(p)));
    if (names != saved_names)
      throw CheckpointError(where + ": parameter group " + std::to_string(g) + " holds " + group_text(saved_names) +
                            ", this run's holds " + group_text(names) + " (were --lr-group or --freeze changed?)");
  }

  std::map<std::string, torch::Tensor> by_name(state.begin(), state.end());
  optimizer.state().clear();
  for (const auto& path : checkpoint.tensors("/optimizer/state")) {
    // /optimizer/state/<parameter name>/<key>; parameter names contain dots, never slashes.
    const std::string rest = path.substr(std::string("/optimizer/state/").size());
    const std::string name = rest.substr(0, rest.rfind('/'));
    const auto param = by_name.find(name);
    if (param == by_name.end())
      throw CheckpointError(where + ": optimizer state for unknown parameter " + name);
    const std::string key = state_key(param->second);
    if (optimizer.state().count(key)) continue;  // filled when its first key was seen
    const std::string prefix = "/optimizer/state/" + name + "/";
    if (config.optimizer.name == "sgd") {
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(checkpoint.read(prefix + "momentum_buffer").to(param->second.device()));
      optimizer.state()[key] = std::move(s);
    } else {
      auto s = std::make_unique<torch::optim::AdamParamState>();
      s->step(checkpoint.read(prefix + "step").item<std::int64_t>());
      s->exp_avg(checkpoint.read(prefix + "exp_avg").to(param->second.device()));
      s->exp_avg_sq(checkpoint.read(prefix + "exp_avg_sq").to(param->second.device()));
      if (checkpoint.has(prefix + "max_exp_avg_sq"))
        s->max_exp_avg_sq(checkpoint.read(prefix + "max_exp_avg_sq").to(param->second.device()));
      optimizer.state()[key] = std::move(s);
    }
  }

  at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle to the global one
  generator.set_state(checkpoint.read("/epoch/rng_state"));
  TrainingProgress p;
  p.completed_epochs = index.int_attribute("/epoch", "completed_epochs");
  p.global_step = index.int_attribute("/epoch", "global_step");
  p.samples_seen = index.int_attribute("/epoch", "samples_seen");
  p.step_in_epoch = index.int_attribute("/epoch", "step_in_epoch");
  p.position_in_epoch = index.int_attribute("/epoch", "position_in_epoch");
  p.partial_loss_sum = index.double_attribute("/epoch", "partial_loss_sum");
  p.partial_correct = index.double_attribute("/epoch", "partial_correct");
  p.partial_count = index.double_attribute("/epoch", "partial_count");
  return p;
}

}  // namespace trainer
