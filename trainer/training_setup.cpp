// The set-up phase of a training run: data, model, initial weights, frozen layers, optimizer and
// schedule, gradient exchange, checkpoint saver.

#include "common/error.h"
#include "data/registry.h"
#include "models/registry.h"
#include "trainer/replicas.h"
#include "trainer/training_loop.h"
#include "trainer/weights.h"

#include <algorithm>

namespace trainer {
namespace {

std::int64_t parameter_count(const torch::nn::Module& module) {
  std::int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

// --init-from: weights only (not optimizer, not progress), names normalized. Tensors of another
// shape (a new head) are skipped and stay freshly initialized; missing ones are an error unless
// --init-non-strict.
void initialize_from(const TrainConfig& config, const models::StateDict& state, std::ostream& log) {
  const WeightSource source = read_weights(config.init_from);
  const WeightsReport report = load_weights(state, source, /*strict=*/false);
  if (!report.missing.empty() && !config.init_non_strict) {
    std::string names;
    for (const auto& n : report.missing) names += (names.empty() ? "" : ", ") + n;
    throw CheckpointError("--init-from " + source.path + " lacks " + names + " (--init-non-strict to start them fresh)");
  }
  log << "initialized from " << source.kind << " " << source.path << ": " << report.loaded << " tensor(s) loaded"
      << (source.stripped_prefix.empty() ? "" : ", names normalized (stripped '" + source.stripped_prefix + "')");
  for (const auto& name : report.mismatched) log << "; re-initialized (shape differs): " << name;
  for (const auto& name : report.missing) log << "; fresh (not in the file): " << name;
  if (!report.unexpected.empty()) log << "; " << report.unexpected.size() << " unused tensor(s) in the file";
  log << std::endl;
}

// --freeze: parameters under these prefixes stop requiring gradients; --train-only: all but those
// under its prefixes do (the tutorial's feature extractor: --train-only fc). Returns every
// parameter by name. A prefix matching nothing is an error (a typo would otherwise train everything).
optim::NamedParameters freeze(torch::nn::Module& model, const TrainConfig& config, std::ostream& log) {
  optim::NamedParameters parameters;
  for (const auto& item : model.named_parameters()) parameters.emplace_back(item.key(), item.value());
  const auto under = [](const std::string& name, const std::string& prefix) { return name.rfind(prefix, 0) == 0; };
  for (const auto& prefix : config.freeze) {
    std::size_t frozen = 0;
    for (auto& [name, tensor] : parameters)
      if (under(name, prefix)) {
        tensor.set_requires_grad(false);
        ++frozen;
      }
    if (frozen == 0) throw ConfigError("--freeze " + prefix + ": no parameter name starts with '" + prefix + "'");
    log << "frozen: " << frozen << " parameter tensor(s) under '" << prefix << "'" << std::endl;
  }
  if (config.train_only.empty()) return parameters;
  for (const auto& prefix : config.train_only)
    if (std::none_of(parameters.begin(), parameters.end(), [&](const auto& p) { return under(p.first, prefix); }))
      throw ConfigError("--train-only " + prefix + ": no parameter name starts with '" + prefix + "'");
  std::size_t frozen = 0;
  for (auto& [name, tensor] : parameters)
    if (std::none_of(config.train_only.begin(), config.train_only.end(), [&](const auto& p) { return under(name, p); })) {
      tensor.set_requires_grad(false);
      ++frozen;
    }
  log << "frozen: " << frozen << " parameter tensor(s); training only " << parameters.size() - frozen << " under";
  for (const auto& prefix : config.train_only) log << " '" << prefix << "'";
  log << std::endl;
  return parameters;
}

}  // namespace

TrainingLoop::TrainingLoop(const TrainConfig& config, const RunContext& context)
    : config_(config), context_(context), log_(context.log) {
  set_up_data();
  set_up_model();
  set_up_optimizer();
  set_up_telemetry();
  log_run();
  saver_ = std::make_unique<CheckpointSaver>(
      SavePolicy::of(config_),
      [this](const TrainingProgress& progress) {
        checkpoint::CheckpointContents contents = capture_checkpoint(config_, state_, progress, context_.control.size());
        if (progress.step_in_epoch == 0 && progress.completed_epochs == evaluated_epochs_) {
          contents.epoch.test_loss = last_evaluation_.test_loss;
          contents.epoch.test_accuracy = last_evaluation_.test_accuracy;
        }
        use_rank0_buffers(contents.model, *model_, context_.comm);
        return contents;
      },
      context_.control, log_, context_.device);
}

void TrainingLoop::set_up_data() {
  train_ = data::make_dataset(config_.data, data::Split::kTrain);
  test_ = data::make_dataset(config_.data, data::Split::kTest);
  // A class count read off the labels, unless --num-classes says otherwise; a label of a million
  // would make a head of a million outputs: far more than any labelled data set here has.
  constexpr std::int64_t kMostClassesFromLabels = 100000;
  if (config_.num_classes == 0 && train_->num_classes() > kMostClassesFromLabels)
    throw DataError("the training labels go up to " + std::to_string(train_->num_classes() - 1) + ": more than " +
                    std::to_string(kMostClassesFromLabels) + " classes are taken only from --num-classes");
  const std::int64_t classes = config_.num_classes > 0 ? config_.num_classes : train_->num_classes();
  const char* hint = " (--num-classes)";
  data::check_labels_fit(*train_, classes, "training", hint);
  if (test_) data::check_labels_fit(*test_, classes, "test", hint);
  // The model file's SHA-256 once it is loaded.
  state_.identity = {config_.model, classes, train_->sample_shape()[0], "", train_->class_names()};
  state_.train_samples = train_->size();
  const std::int64_t ranks = config_.sample_ranks(context_.comm.size());
  const std::int64_t local = ranks / context_.comm.size();
  if (local * context_.comm.size() != ranks) {
    std::string divisors;
    for (std::int64_t n = 1; n <= ranks; ++n)
      if (ranks % n == 0) divisors += (divisors.empty() ? "" : ", ") + std::to_string(n);
    throw ConfigError("--virtual-ranks " + std::to_string(ranks) + " on " + std::to_string(context_.comm.size()) +
                      " processes: the process count must divide it (" + divisors + ")");
  }
  first_virtual_rank_ = context_.comm.rank() * local;
  for (std::int64_t v = first_virtual_rank_; v < first_virtual_rank_ + local; ++v)
    samplers_.emplace_back(train_->size(), static_cast<int>(v), static_cast<int>(ranks), config_.seed);
}

void TrainingLoop::set_up_model() {
  const ModelIdentity identity = state_.identity;
  model_ = models::make_model(identity.model, models::ModelOptions{identity.in_channels, identity.num_classes});
  state_.identity.model_sha256 = model_->file_sha256();
  const std::vector<std::int64_t> shape = train_->sample_shape();
  model_->check_input_shape(shape[0], shape[1], shape[2]);
  model_->check_training_step(config_.batch_size, shape[0], shape[1], shape[2]);
  model_->to(context_.device);
  state_.model = models::state_dict(*model_);
  if (!config_.init_from.empty() && context_.control.rank() == 0) initialize_from(config_, state_.model, log_);
  broadcast_state(state_.model, context_.comm);  // every replica starts from rank 0's weights
}

void TrainingLoop::set_up_optimizer() {
  const optim::NamedParameters parameters = freeze(*model_, config_, log_);
  state_.optimizer = optim::make_optimizer(parameters, config_.optimizer, config_.lr_groups);
  const std::int64_t per_step = config_.batch_size * config_.accumulate_steps;
  const optim::RunLength length{config_.epochs, (samplers_.front().per_rank() + per_step - 1) / per_step};
  state_.schedule = optim::make_schedule(config_.schedule, config_.optimizer.lr, length);
  const optim::OptimizerSetup& setup = state_.optimizer;
  for (const auto& group : setup.optimizer->param_groups())
    trainable_.insert(trainable_.end(), group.params().begin(), group.params().end());
  if (setup.base_lrs.size() > 1)
    for (std::size_t g = 0; g < setup.base_lrs.size(); ++g)
      log_ << "parameter group " << g << " (" << setup.group_names[g] << "): " << setup.group_members[g].size()
           << " tensor(s), lr " << setup.base_lrs[g] << std::endl;
  // Overlap needs non-blocking collectives issued from backward's threads: MPI's on CPUs, NCCL's
  // stream-ordered ones on GPUs (comm/nccl_communicator.h).
  // --shard-optimizer: each bucket reduce-scattered (each rank receives its chunks' average).
  // --virtual-ranks: its own exchange (comm/virtual_reducer.h); the bucketer then only stands by.
  const bool virtual_ranks = config_.virtual_ranks > 0;
  bucketer_ = std::make_unique<comm::GradientBucketer>(
      model_->parameters(), context_.comm, config_.overlap && !virtual_ranks, comm::BucketLimits{}, /*even_alone=*/false,
      config_.shard_optimizer ? comm::Exchange::kReduceScatter : comm::Exchange::kAllreduce);
  if (virtual_ranks)
    virtual_reducer_ = std::make_unique<comm::VirtualRankReducer>(model_->parameters(), context_.comm,
                                                                  config_.virtual_ranks, config_.overlap, comm::BucketLimits{std::size_t{1} << 20, std::size_t{8} << 20});
  if (config_.shard_optimizer)
    state_.shards = std::make_unique<OptimizerShards>(state_.optimizer, config_.optimizer, *bucketer_, context_.comm);
  state_.device = context_.device;
  if (config_.precision == "fp16") {
    // fp16 autocast is CUDA's; on CPUs bf16 has fp32's range and needs no scaler.
    if (!context_.device.is_cuda())
      throw ConfigError("--precision fp16 needs a CUDA device (this run trains on " + context_.device.str() +
                        "); on CPUs use --precision bf16");
    state_.scaler.emplace();
  }
}

void TrainingLoop::log_run() const {
  const comm::Communicator& comm = context_.comm;
  const std::vector<std::int64_t> shape = train_->sample_shape();
  log_ << "model " << config_.model << " (" << parameter_count(*model_) << " parameters, " << state_.identity.num_classes
       << " classes) | data " << config_.data.dataset << ": " << train_->size() << " train, "
       << (test_ ? test_->size() : 0) << " test samples of " << shape[0] << "x" << shape[1] << "x" << shape[2] << " | "
       << comm.size() << " rank(s), " << comm.backend() << ", device " << context_.device.str() << ", " << config_.threads
       << " thread(s) | " << config_.optimizer.name << " lr " << config_.optimizer.lr << ", batch " << config_.batch_size
       << " x " << config_.sample_ranks(comm.size()) << (config_.virtual_ranks > 0 ? " virtual rank(s)" : " rank(s)");
  if (config_.accumulate_steps > 1) log_ << " x " << config_.accumulate_steps << " accumulated";
  if (config_.virtual_ranks > 0)
    log_ << " | " << config_.virtual_ranks << " virtual ranks, " << samplers_.size()
         << " on each process, gradients summed in virtual-rank order"
         << (virtual_reducer_->overlapping() ? ", overlapped with backward" : "");
  if (state_.shards)
    log_ << " | optimizer sharded (ZeRO-1): this rank steps " << state_.shards->layout().chunk() << " of "
         << state_.shards->layout().padded() << " parameter elements"
         << (comm.size() == 1 ? " (one rank: nothing is shared, and the copies cost time and memory)" : "");
  if (comm.size() > 1 && !virtual_reducer_)
    log_ << " | gradients: " << bucketer_->bytes() << " bytes in " << bucketer_->bucket_count() << " bucket(s)"
         << (state_.shards ? ", reduce-scattered" : "") << (bucketer_->overlapping() ? ", overlapped with backward" : "");
  log_ << std::endl;
  for (const auto& note : train_->notes()) log_ << "training data: " << note << std::endl;
  if (test_)
    for (const auto& note : test_->notes()) log_ << "test data: " << note << std::endl;
}

}  // namespace trainer
