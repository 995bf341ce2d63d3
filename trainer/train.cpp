#include "trainer/train.h"

#include "comm/gradient_bucketer.h"
#include "common/error.h"
#include "models/registry.h"
#include "models/state_dict.h"
#include "storage/tensor_file.h"
#include "trainer/optimizer.h"
#include "trainer/progress.h"
#include "trainer/replicas.h"
#include "trainer/resume.h"
#include "trainer/weights.h"
#include "storage/checkpoint.h"
#include "trainer/checkpoint_saver.h"
#include "trainer/checkpointing.h"
#include "trainer/sampler.h"
#include "trainer/stop_budget.h"

#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace trainer {
namespace {

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::int64_t parameter_count(const torch::nn::Module& module) {
  std::int64_t count = 0;
  for (const auto& p : module.parameters()) count += p.numel();
  return count;
}

void check_labels_fit(const TensorDataset& data, std::int64_t num_classes, const char* split) {
  if (data.size() == 0) return;
  const std::int64_t largest = data.labels.max().item<std::int64_t>();
  if (largest >= num_classes)
    throw ConfigError(std::string("the ") + split + " split has label " + std::to_string(largest) +
                      " but the model has only " + std::to_string(num_classes) +
                      " classes (--num-classes)");
}

// Sums of one rank's share, reduced across ranks in one collective: {loss_sum, correct, count}.
std::array<double, 3> reduce_sums(double loss_sum, double correct, double count, const RunContext& context) {
  torch::Tensor sums = torch::tensor({loss_sum, correct, count}, torch::kFloat64).to(context.device);
  std::vector<torch::Tensor> tensors{sums};
  context.comm.allreduce(tensors, {comm::ReduceOp::kSum});
  sums = sums.to(torch::kCPU);
  return {sums[0].item<double>(), sums[1].item<double>(), sums[2].item<double>()};
}

std::string format_epoch_line(const EpochMetrics& m, std::int64_t epochs) {
  char line[256];
  int n = std::snprintf(line, sizeof line, "epoch %lld/%lld train loss %.4f acc %.4f",
                        static_cast<long long>(m.epoch), static_cast<long long>(epochs),
                        m.train_loss, m.train_accuracy);
  if (m.test_loss)
    n += std::snprintf(line + n, sizeof line - n, " | test loss %.4f acc %.4f", *m.test_loss,
                       *m.test_accuracy);
  std::snprintf(line + n, sizeof line - n, " | lr %.3g | %.1fs %.0f samples/s", m.lr,
                m.epoch_seconds, m.samples_per_second);
  return line;
}

}  // namespace

Evaluation evaluate(models::Network& model, const TensorDataset& data, std::int64_t batch_size,
                    const RunContext& context) {
  Evaluation result;
  if (data.size() == 0) return result;
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  // Contiguous, disjoint shares without padding: every sample is counted exactly once.
  const std::int64_t ranks = context.comm.size(), rank = context.comm.rank();
  const std::int64_t first = data.size() * rank / ranks, last = data.size() * (rank + 1) / ranks;
  double loss_sum = 0, correct = 0;
  for (std::int64_t begin = first; begin < last; begin += batch_size) {
    const std::int64_t end = std::min(begin + batch_size, last);
    torch::Tensor images = data.images.slice(0, begin, end).to(context.device);
    torch::Tensor labels = data.labels.slice(0, begin, end).to(context.device);
    torch::Tensor logits = model.forward(images);
    loss_sum += F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += static_cast<double>(logits.argmax(1).eq(labels).sum().item<std::int64_t>());
  }
  model.train(was_training);
  const auto sums = reduce_sums(loss_sum, correct, static_cast<double>(last - first), context);
  result.samples = static_cast<std::int64_t>(sums[2]);
  result.loss = sums[0] / sums[2];
  result.accuracy = sums[1] / sums[2];
  return result;
}

namespace {

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

// --freeze: parameters under these prefixes stop requiring gradients; returns every parameter
// by name. A prefix matching nothing is an error (a typo would otherwise train everything).
NamedParameters freeze(torch::nn::Module& model, const std::vector<std::string>& prefixes, std::ostream& log) {
  NamedParameters parameters;
  for (const auto& item : model.named_parameters()) parameters.emplace_back(item.key(), item.value());
  for (const auto& prefix : prefixes) {
    std::size_t frozen = 0;
    for (auto& [name, tensor] : parameters)
      if (name.rfind(prefix, 0) == 0) {
        tensor.set_requires_grad(false);
        ++frozen;
      }
    if (frozen == 0) throw ConfigError("--freeze " + prefix + ": no parameter name starts with '" + prefix + "'");
    log << "frozen: " << frozen << " parameter tensor(s) under '" << prefix << "'" << std::endl;
  }
  return parameters;
}

// What the ranks agree on at a step boundary, in one small collective: whether any rank has received
// a stop signal (so that all stop at the same step and save the same state), and whether every
// rank's background checkpoint write has finished (so that all commit it at the same step).
struct StepAgreement {
  bool stop = false;
  bool commit = false;
};

StepAgreement agree_at_step_boundary(const RunContext& context, const CheckpointSaver& saver) {
  const bool pending = saver.pending();  // the same on every rank
  if (!context.stop_requested && !pending) return {};
  const std::int64_t stop = context.stop_requested && context.stop_requested() ? 1 : 0;
  const std::int64_t writing = pending && !saver.written() ? 1 : 0;
  std::vector<torch::Tensor> flags{torch::tensor({stop, writing}, torch::kInt64)};
  context.control.allreduce(flags, {comm::ReduceOp::kMax});
  return {flags[0][0].item<std::int64_t>() != 0, pending && flags[0][1].item<std::int64_t>() == 0};
}

[[noreturn]] void stop_now(const TrainConfig& config, const TrainingProgress& progress, const RunContext& context) {
  context.log << "stopping on a signal at global step " << progress.global_step
              << (config.checkpointing() ? "; resume with --resume auto"
                                         : "; no checkpoint was written (--checkpoint-dir none)")
              << std::endl;
  throw StopRequested("stopped on a signal at global step " + std::to_string(progress.global_step));
}

}  // namespace

TrainResult run_training(const TrainConfig& config, const RunContext& context) {
  if (config.epochs < 1) throw ConfigError("--epochs must be at least 1");
  if (config.batch_size < 1) throw ConfigError("--batch-size must be at least 1");
  if (config.accumulate_steps < 1) throw ConfigError("--accumulate-steps must be at least 1");
  if (config.test_batch_size < 1) throw ConfigError("--test-batch-size must be at least 1");
  comm::Communicator& comm = context.comm;
  std::ostream& log = context.log;
  torch::set_num_threads(config.threads);
  torch::manual_seed(config.seed);

  const TensorDataset train = load_dataset(config.data, Split::kTrain);
  const TensorDataset test = load_dataset(config.data, Split::kTest);
  const std::int64_t num_classes = config.num_classes > 0 ? config.num_classes : train.num_classes;
  check_labels_fit(train, num_classes, "training");
  check_labels_fit(test, num_classes, "test");

  const ModelIdentity identity{config.model, num_classes, train.images.size(1)};
  std::shared_ptr<models::Network> model =
      models::make_model(config.model, models::ModelOptions{identity.in_channels, num_classes});
  model->check_input_shape(train.images.size(1), train.images.size(2), train.images.size(3));
  model->to(context.device);
  const models::StateDict state = models::state_dict(*model);
  if (!config.init_from.empty() && context.control.rank() == 0) initialize_from(config, state, log);
  broadcast_state(state, comm);  // every replica starts from rank 0's weights
  const NamedParameters parameters = freeze(*model, config.freeze, log);
  const OptimizerSetup setup = make_optimizer(parameters, config.optimizer, config.lr_groups);
  torch::optim::Optimizer* optimizer = setup.optimizer.get();
  if (setup.base_lrs.size() > 1)
    for (std::size_t g = 0; g < setup.base_lrs.size(); ++g)
      log << "parameter group " << g << " (" << setup.group_names[g] << "): "
          << optimizer->param_groups()[g].params().size() << " tensor(s), lr " << setup.base_lrs[g] << std::endl;
  // Overlap needs non-blocking collectives issued from backward's thread: MPI on CPUs has both.
  // On GPUs backward runs on LibTorch's device threads and our NCCL collectives block, so it is off.
  const bool overlap = config.overlap && !context.device.is_cuda();
  if (config.overlap && !overlap && comm.size() > 1)
    log << "note: --overlap is not implemented for NCCL yet; gradients are exchanged after backward" << std::endl;
  comm::GradientBucketer bucketer(model->parameters(), comm, overlap);

  log << "model " << config.model << " (" << parameter_count(*model) << " parameters, "
      << num_classes << " classes) | data " << config.data.dataset << ": " << train.size()
      << " train, " << test.size() << " test samples of " << train.images.size(1) << "x"
      << train.images.size(2) << "x" << train.images.size(3) << " | " << comm.size() << " rank(s), "
      << comm.backend() << ", device " << context.device.str() << ", " << config.threads
      << " thread(s) | " << config.optimizer.name << " lr " << config.optimizer.lr << ", batch "
      << config.batch_size << " x " << comm.size() << " rank(s)";
  if (config.accumulate_steps > 1) log << " x " << config.accumulate_steps << " accumulated";
  if (comm.size() > 1)
    log << " | gradients: " << bucketer.bytes() << " bytes in " << bucketer.bucket_count() << " bucket(s)"
        << (bucketer.overlapping() ? ", overlapped with backward" : "");
  log << std::endl;

  TrainResult result;
  TrainingProgress progress;
  if (config.checkpointing() && context.control.rank() == 0) {
    const int stale = storage::remove_stale_temporaries(config.checkpoint_dir);
    if (stale > 0) log << "removed " << stale << " unfinished checkpoint(s) left by an interrupted save" << std::endl;
  }
  if (auto resumed = resume_training(config, identity, state, *optimizer, context.control, log)) {
    result.resumed_from = resumed->directory;
    progress = resumed->progress;
  }

  std::unique_ptr<MetricsWriter> metrics;
  if (!config.metrics_file.empty() && comm.rank() == 0)
    metrics = std::make_unique<MetricsWriter>(config.metrics_file);

  const DistributedSampler sampler(train.size(), comm.rank(), comm.size(), config.seed);
  const std::int64_t samples_per_step = config.batch_size * config.accumulate_steps;
  Progress progress_lines(log, config.progress_seconds, config.epochs);
  if (progress.completed_epochs >= config.epochs)
    log << "nothing to train: the checkpoint has " << progress.completed_epochs << " of " << config.epochs
        << " epoch(s) done" << std::endl;

  // Checkpoints: saved (or started in the background) at the steps and epochs the options ask for;
  // after each commit, old ones are removed and the save time is checked against the signal lead.
  CheckpointSaver saver(config.checkpoint_dir, config.checkpoint_async, context.control, log);
  StopBudget stop_budget(config.signal_lead);
  double slowest_step = 0;
  const auto committed = [&](const std::optional<CheckpointSaver::Committed>& done) {
    if (!done) return;
    if (context.control.rank() == 0 && config.keep_last > 0)
      for (const auto& removed : storage::apply_retention(config.checkpoint_dir, static_cast<int>(config.keep_last)))
        log << "checkpoint " << removed << " removed (--keep-last " << config.keep_last << ")" << std::endl;
    if (auto warning = stop_budget.after_save(done->report.seconds, slowest_step)) log << *warning << std::endl;
  };
  const auto save = [&](const TrainingProgress& snapshot, bool wait) {
    committed(saver.save(capture_checkpoint(config, identity, state, *optimizer, snapshot, context.control.size()),
                         checkpoint_name(snapshot), wait));
  };

  bool stop_after_epoch = false;
  for (std::int64_t epoch = progress.completed_epochs; epoch < config.epochs; ++epoch) {
    const auto start = Clock::now();
    const double lr = scheduled_lr(config.optimizer, epoch);
    apply_schedule(setup, config.optimizer, epoch);
    model->train();
    // A mid-epoch resume skips the positions already consumed; carried sums complete the metrics.
    std::vector<std::int64_t> order = sampler.indices(epoch, progress.position_in_epoch);
    const std::int64_t steps = (static_cast<std::int64_t>(order.size()) + samples_per_step - 1) / samples_per_step;
    progress_lines.start_epoch(epoch + 1, progress.step_in_epoch + steps);

    double loss_sum = 0, correct = 0;
    std::int64_t done = 0;
    for (std::int64_t step = 0; step < steps; ++step) {
      const auto step_start = Clock::now();
      const std::int64_t step_begin = step * samples_per_step;
      const std::int64_t step_count = std::min(samples_per_step, static_cast<std::int64_t>(order.size()) - step_begin);
      optimizer->zero_grad();
      for (std::int64_t begin = step_begin; begin < step_begin + step_count; begin += config.batch_size) {
        const std::int64_t count = std::min(config.batch_size, step_begin + step_count - begin);
        torch::Tensor index = torch::from_blob(order.data() + begin, {count}, torch::kInt64);
        torch::Tensor images = train.images.index_select(0, index).to(context.device);
        torch::Tensor labels = train.labels.index_select(0, index).to(context.device);
        torch::Tensor logits = model->forward(images);
        torch::Tensor loss = F::cross_entropy(logits, labels);
        if (begin + config.batch_size >= step_begin + step_count)  // the last micro-batch
          bucketer.prepare_backward(/*accumulated=*/begin != step_begin);
        // Weighting each micro-batch by its share makes K micro-batches one batch of K*B.
        (loss * (static_cast<double>(count) / static_cast<double>(step_count))).backward();
        loss_sum += loss.item<double>() * static_cast<double>(count);
        correct += static_cast<double>(logits.argmax(1).eq(labels).sum().item<std::int64_t>());
      }
      bucketer.average_gradients();
      optimizer->step();
      done += step_count;
      ++progress.global_step;
      ++progress.step_in_epoch;
      progress_lines.step(progress.step_in_epoch, loss_sum / static_cast<double>(done), done * comm.size());

      const bool last_step = step + 1 == steps;
      slowest_step = std::max(slowest_step, seconds_since(step_start));  // before a commit, which is not the step's
      const StepAgreement agreed = agree_at_step_boundary(context, saver);
      if (agreed.commit) committed(saver.commit_pending());
      const bool stop = agreed.stop;
      if (stop && last_step) stop_after_epoch = true;
      const bool periodic = config.checkpoint_every_steps > 0 && progress.global_step % config.checkpoint_every_steps == 0;
      if (config.checkpointing() && !last_step && (periodic || stop)) {
        TrainingProgress snapshot = progress;
        const auto sums = reduce_sums(loss_sum, correct, static_cast<double>(done), context);
        snapshot.position_in_epoch = progress.position_in_epoch + done * comm.size();
        snapshot.partial_loss_sum += sums[0];
        snapshot.partial_correct += sums[1];
        snapshot.partial_count += sums[2];
        snapshot.samples_seen += static_cast<std::int64_t>(sums[2]);
        save(snapshot, /*wait=*/stop);
      }
      if (stop && !last_step) stop_now(config, progress, context);
    }

    const double epoch_seconds = seconds_since(start);  // training only; evaluation is not throughput
    const auto local = reduce_sums(loss_sum, correct, static_cast<double>(done), context);
    const double epoch_count = local[2] + progress.partial_count;
    progress.samples_seen += static_cast<std::int64_t>(local[2]);
    broadcast_buffers(*model, comm);  // evaluate and compare rank 0's BatchNorm statistics

    EpochMetrics m;
    m.epoch = epoch + 1;
    m.global_step = progress.global_step;
    m.samples_seen = progress.samples_seen;
    m.lr = lr;
    m.train_loss = (local[0] + progress.partial_loss_sum) / epoch_count;
    m.train_accuracy = (local[1] + progress.partial_correct) / epoch_count;
    m.epoch_seconds = epoch_seconds;
    m.samples_per_second = local[2] / epoch_seconds;
    if (test.size() > 0) {
      const Evaluation eval = evaluate(*model, test, config.test_batch_size, context);
      m.test_loss = eval.loss;
      m.test_accuracy = eval.accuracy;
    }
    log << format_epoch_line(m, config.epochs) << std::endl;
    if (metrics) metrics->write(m);
    result.epochs.push_back(m);

    progress.completed_epochs = epoch + 1;
    progress.step_in_epoch = progress.position_in_epoch = 0;
    progress.partial_loss_sum = progress.partial_correct = progress.partial_count = 0;
    const bool final_epoch = epoch + 1 == config.epochs;
    const bool due = config.checkpoint_every > 0 && (epoch + 1) % config.checkpoint_every == 0;
    if (config.checkpointing() && (due || final_epoch || stop_after_epoch)) {
      save(progress, /*wait=*/final_epoch || stop_after_epoch);
    }
    if (stop_after_epoch && !final_epoch) stop_now(config, progress, context);
  }

  result.replica_fingerprint = check_replicas_identical(state, comm);
  char hex[32];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(result.replica_fingerprint));
  log << "replicas identical on " << comm.size() << " rank(s): fingerprint " << hex << std::endl;
  if (!config.save_weights.empty() && comm.rank() == 0) {
    storage::write_tensors(config.save_weights, "/model", state);
    log << "weights written to " << config.save_weights << std::endl;
  }
  return result;
}

}  // namespace trainer
