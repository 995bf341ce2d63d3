#include "trainer/train.h"

#include "common/error.h"
#include "models/registry.h"
#include "trainer/device.h"
#include "trainer/optimizer.h"
#include "trainer/progress.h"
#include "trainer/sampler.h"

#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace trainer {
namespace {

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
                    const torch::Device& device) {
  Evaluation result;
  if (data.size() == 0) return result;
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  double loss_sum = 0;
  std::int64_t correct = 0;
  for (std::int64_t begin = 0; begin < data.size(); begin += batch_size) {
    const std::int64_t end = std::min(begin + batch_size, data.size());
    torch::Tensor images = data.images.slice(0, begin, end).to(device);
    torch::Tensor labels = data.labels.slice(0, begin, end).to(device);
    torch::Tensor logits = model.forward(images);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels,
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
  }
  model.train(was_training);
  result.samples = data.size();
  result.loss = loss_sum / static_cast<double>(result.samples);
  result.accuracy = static_cast<double>(correct) / static_cast<double>(result.samples);
  return result;
}

TrainResult run_training(const TrainConfig& config, std::ostream& log) {
  if (config.epochs < 1) throw ConfigError("--epochs must be at least 1");
  if (config.batch_size < 1) throw ConfigError("--batch-size must be at least 1");
  if (config.test_batch_size < 1) throw ConfigError("--test-batch-size must be at least 1");
  torch::set_num_threads(config.threads);
  torch::manual_seed(config.seed);
  const torch::Device device = resolve_device(config.device);

  const TensorDataset train = load_dataset(config.data, Split::kTrain);
  const TensorDataset test = load_dataset(config.data, Split::kTest);
  const std::int64_t num_classes = config.num_classes > 0 ? config.num_classes : train.num_classes;
  check_labels_fit(train, num_classes, "training");
  check_labels_fit(test, num_classes, "test");

  models::ModelOptions model_options;
  model_options.in_channels = train.images.size(1);
  model_options.num_classes = num_classes;
  std::shared_ptr<models::Network> model = models::make_model(config.model, model_options);
  model->check_input_shape(train.images.size(1), train.images.size(2), train.images.size(3));
  model->to(device);
  std::unique_ptr<torch::optim::Optimizer> optimizer =
      make_optimizer(model->parameters(), config.optimizer);

  log << "model " << config.model << " (" << parameter_count(*model) << " parameters, "
      << num_classes << " classes) | data " << config.data.dataset << ": " << train.size()
      << " train, " << test.size() << " test samples of " << train.images.size(1) << "x"
      << train.images.size(2) << "x" << train.images.size(3) << " | device " << device.str()
      << ", " << config.threads << " thread(s) | " << config.optimizer.name << " lr "
      << config.optimizer.lr << ", batch " << config.batch_size << std::endl;

  std::unique_ptr<MetricsWriter> metrics;
  if (!config.metrics_file.empty()) metrics = std::make_unique<MetricsWriter>(config.metrics_file);

  const DistributedSampler sampler(train.size(), /*rank=*/0, /*world_size=*/1, config.seed);
  const std::int64_t steps_per_epoch =
      (sampler.per_rank() + config.batch_size - 1) / config.batch_size;
  Progress progress(log, config.progress_seconds, config.epochs);
  TrainResult result;
  std::int64_t global_step = 0;
  std::int64_t samples_seen = 0;

  for (std::int64_t epoch = 0; epoch < config.epochs; ++epoch) {
    const auto start = Clock::now();
    const double lr = scheduled_lr(config.optimizer, epoch);
    set_lr(*optimizer, lr);
    model->train();
    std::vector<std::int64_t> order = sampler.indices(epoch);
    progress.start_epoch(epoch + 1, steps_per_epoch);

    double loss_sum = 0;
    std::int64_t correct = 0;
    std::int64_t done = 0;
    for (std::int64_t step = 0; step < steps_per_epoch; ++step) {
      const std::int64_t begin = step * config.batch_size;
      const std::int64_t count = std::min(config.batch_size, sampler.per_rank() - begin);
      torch::Tensor index = torch::from_blob(order.data() + begin, {count}, torch::kInt64);
      torch::Tensor images = train.images.index_select(0, index).to(device);
      torch::Tensor labels = train.labels.index_select(0, index).to(device);

      optimizer->zero_grad();
      torch::Tensor logits = model->forward(images);
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, labels);
      loss.backward();
      optimizer->step();

      loss_sum += loss.item<double>() * static_cast<double>(count);
      correct += logits.argmax(1).eq(labels).sum().item<std::int64_t>();
      done += count;
      ++global_step;
      progress.step(step + 1, loss_sum / static_cast<double>(done), done);
    }
    samples_seen += done;

    EpochMetrics m;
    m.epoch = epoch + 1;
    m.global_step = global_step;
    m.samples_seen = samples_seen;
    m.lr = lr;
    m.train_loss = loss_sum / static_cast<double>(done);
    m.train_accuracy = static_cast<double>(correct) / static_cast<double>(done);
    m.epoch_seconds = seconds_since(start);  // training only; evaluation is not throughput
    m.samples_per_second = static_cast<double>(done) / m.epoch_seconds;
    if (test.size() > 0) {
      const Evaluation eval = evaluate(*model, test, config.test_batch_size, device);
      m.test_loss = eval.loss;
      m.test_accuracy = eval.accuracy;
    }
    log << format_epoch_line(m, config.epochs) << std::endl;
    if (metrics) metrics->write(m);
    result.epochs.push_back(m);
  }
  return result;
}

}  // namespace trainer
