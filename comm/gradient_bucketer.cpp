#include "comm/gradient_bucketer.h"

#include "comm/parameter_buckets.h"

#include <algorithm>

namespace trainer::comm {

struct GradientBucketer::State {
  struct Bucket {
    std::vector<torch::Tensor> parameters;
    std::vector<std::int64_t> offsets;  // element offset of each parameter in `buffer`
    torch::Tensor buffer;
    torch::Tensor chunk;                // kReduceScatter: this rank's averaged chunk of `buffer`
    std::vector<bool> filled;           // overlap: which gradients are in `buffer` already
    std::size_t missing = 0;            // overlap: gradients still to come
    std::unique_ptr<Work> work;         // the allreduce in flight
  };
  using SystemClock = std::chrono::system_clock;

  Communicator& comm;
  bool exchange = false;       // more than one rank, or even_alone
  bool overlap = false;
  bool scatter = false;        // Exchange::kReduceScatter
  bool armed = false;          // between prepare_backward() and average_gradients()
  bool accumulated = false;    // .grad holds earlier micro-batches: add it to what backward brings
  std::size_t next_launch = 0;  // buckets start in index order
  std::vector<Bucket> buckets;
  bool recording = false;
  std::vector<BucketTiming> timings;  // per bucket, when recording

  explicit State(Communicator& c) : comm(c) {}

  torch::Tensor slice(Bucket& bucket, std::size_t i) {
    return bucket.buffer.narrow(0, bucket.offsets[i], bucket.parameters[i].numel());
  }

  // The gradient the step will have: what was accumulated so far plus what backward just produced.
  void fill(Bucket& bucket, std::size_t i, const torch::Tensor& incoming) {
    torch::Tensor destination = slice(bucket, i);
    // Without earlier micro-batches .grad holds zeros (or nothing): not worth reading.
    const torch::Tensor earlier = incoming.defined() && !accumulated ? torch::Tensor() : bucket.parameters[i].grad();
    if (incoming.defined() && earlier.defined())
      torch::add_out(destination, earlier.reshape({-1}), incoming.reshape({-1}));
    else if (incoming.defined()) destination.copy_(incoming.reshape({-1}));
    else if (earlier.defined()) destination.copy_(earlier.reshape({-1}));
    else destination.zero_();
    bucket.filled[i] = true;
  }

  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].missing == 0) {
      if (recording) timings[next_launch] = {SystemClock::now(), {}};
      Bucket& bucket = buckets[next_launch++];
      bucket.work = scatter ? comm.reduce_scatter_async(bucket.buffer, bucket.chunk, {ReduceOp::kSum})
                            : comm.allreduce_async(bucket.buffer, {ReduceOp::kSum});
    }
    for (std::size_t b = 0; b < next_launch; ++b)
      if (buckets[b].work && buckets[b].work->test()) note_completed(b);  // progress: MPI moves only inside MPI calls
  }

  void note_completed(std::size_t b) {
    if (recording && timings[b].completed == SystemClock::time_point{}) timings[b].completed = SystemClock::now();
  }

  void on_gradient(std::size_t b, std::size_t i, const torch::Tensor& incoming) {
    if (!armed) return;  // an earlier micro-batch: autograd accumulates, nothing to send yet
    torch::NoGradGuard no_grad;
    Bucket& bucket = buckets[b];
    if (bucket.filled[i]) return;
    fill(bucket, i, incoming);
    --bucket.missing;
    launch_ready();
  }
};

GradientBucketer::GradientBucketer(const std::vector<torch::Tensor>& parameters, Communicator& comm, bool overlap,
                                   const BucketLimits& limits, bool even_alone, Exchange exchange)
    : state_(std::make_shared<State>(comm)) {
  state_->scatter = exchange == Exchange::kReduceScatter;
  state_->exchange = comm.size() > 1 || even_alone || state_->scatter;
  state_->overlap = overlap && state_->exchange;
  for (auto& planned : plan_parameter_buckets(parameters, limits, /*as_float32=*/false)) {
    State::Bucket bucket;
    const std::int64_t elements = planned.elements;
    bucket.parameters = std::move(planned.parameters);
    bucket.offsets = std::move(planned.offsets);
    const torch::TensorOptions options = bucket.parameters.front().options().requires_grad(false);
    if (state_->scatter) {
      const std::int64_t chunk = (elements + comm.size() - 1) / comm.size();
      bucket.buffer = torch::zeros({chunk * comm.size()}, options);  // the padding stays zero
      bucket.chunk = torch::zeros({chunk}, options);
    } else {
      bucket.buffer = torch::empty({elements}, options);
    }
    bucket.filled.assign(bucket.parameters.size(), false);
    state_->buckets.push_back(std::move(bucket));
  }
  if (state_->overlap) register_gradient_hooks(state_, state_->buckets);
}

GradientBucketer::~GradientBucketer() = default;

void GradientBucketer::prepare_backward(bool accumulated) {
  State& s = *state_;
  if (!s.overlap) return;
  s.armed = true;
  s.accumulated = accumulated;
  s.next_launch = 0;
  for (auto& bucket : s.buckets) {
    bucket.filled.assign(bucket.parameters.size(), false);
    bucket.missing = bucket.parameters.size();
    bucket.work.reset();
  }
}

void GradientBucketer::average_gradients() {
  State& s = *state_;
  if (!s.exchange) return;
  torch::NoGradGuard no_grad;
  if (s.overlap && s.armed) {
    // Gradients no hook saw (parameters unused by this step's graph) go in now; then every bucket
    // still waiting starts, in order.
    for (auto& bucket : s.buckets)
      for (std::size_t i = 0; i < bucket.parameters.size(); ++i)
        if (!bucket.filled[i]) {
          s.fill(bucket, i, torch::Tensor());
          --bucket.missing;
        }
    s.launch_ready();
    s.armed = false;
  } else {
    for (std::size_t b = 0; b < s.buckets.size(); ++b) {
      State::Bucket& bucket = s.buckets[b];
      for (std::size_t i = 0; i < bucket.parameters.size(); ++i) s.fill(bucket, i, torch::Tensor());
      std::vector<torch::Tensor> tensors{bucket.buffer};
      if (s.recording) s.timings[b] = {State::SystemClock::now(), {}};
      if (s.scatter) s.comm.reduce_scatter(bucket.buffer, bucket.chunk, {ReduceOp::kSum});
      else s.comm.allreduce(tensors, {ReduceOp::kSum});
      s.note_completed(b);
    }
  }
  const double inverse_size = 1.0 / s.comm.size();
  for (std::size_t b = 0; b < s.buckets.size(); ++b) {
    State::Bucket& bucket = s.buckets[b];
    if (bucket.work) bucket.work->wait();
    s.note_completed(b);
    bucket.work.reset();
    // Divide by the world size after the reduction has completed, never before, in the same pass
    // that copies the average back into each gradient.
    const torch::Tensor inverse = torch::scalar_tensor(inverse_size, bucket.buffer.options());
    if (s.scatter) {
      bucket.chunk.mul_(inverse);
      continue;
    }
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      torch::Tensor& param = bucket.parameters[i];
      torch::Tensor summed = s.slice(bucket, i).view(param.sizes());
      if (param.grad().defined()) torch::mul_out(param.mutable_grad(), summed, inverse);
      else param.mutable_grad() = summed * inverse;
    }
  }
}

void GradientBucketer::chunks_from_gradients() {
  State& s = *state_;
  torch::NoGradGuard no_grad;
  for (auto& bucket : s.buckets) {
    const std::int64_t size = bucket.chunk.numel(), begin = size * s.comm.rank(), end = begin + size;
    bucket.chunk.zero_();  // the padding
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      const torch::Tensor& grad = bucket.parameters[i].grad();
      const std::int64_t first = std::max(begin, bucket.offsets[i]);
      const std::int64_t last = std::min(end, bucket.offsets[i] + bucket.parameters[i].numel());
      if (!grad.defined() || first >= last) continue;
      bucket.chunk.narrow(0, first - begin, last - first).copy_(grad.reshape({-1}).narrow(0, first - bucket.offsets[i], last - first));
    }
  }
}

void GradientBucketer::record_timings(bool on) {
  state_->recording = on;
  state_->timings.assign(on ? state_->buckets.size() : 0, {});
}

const std::vector<GradientBucketer::BucketTiming>& GradientBucketer::timings() const { return state_->timings; }

const std::vector<torch::Tensor>& GradientBucketer::bucket_parameters(std::size_t bucket) const {
  return state_->buckets.at(bucket).parameters;
}
torch::Tensor GradientBucketer::buffer(std::size_t bucket) const { return state_->buckets.at(bucket).buffer; }
torch::Tensor GradientBucketer::chunk(std::size_t bucket) const { return state_->buckets.at(bucket).chunk; }

bool GradientBucketer::overlapping() const { return state_->overlap; }

std::size_t GradientBucketer::bucket_count() const { return state_->buckets.size(); }

std::size_t GradientBucketer::parameter_count() const {
  std::size_t count = 0;
  for (const auto& bucket : state_->buckets) count += bucket.parameters.size();
  return count;
}

std::size_t GradientBucketer::bytes() const {
  std::size_t total = 0;
  for (const auto& bucket : state_->buckets)
    total += static_cast<std::size_t>(bucket.buffer.numel()) * bucket.buffer.element_size();
  return total;
}

}  // namespace trainer::comm
