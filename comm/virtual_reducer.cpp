#include "comm/virtual_reducer.h"

#include "comm/ordered_sum.h"
#include "comm/parameter_buckets.h"

#include <algorithm>

namespace trainer::comm {

namespace {

// `part` of `whole` as a tensor of its own sharing the memory (kept alive by the deleter), not as a
// view: the average becomes the gradient without a copy, and the optimizer's zero_grad may detach
// it in place (LibTorch refuses that for a view). The next step's exchange writes `whole` only
// after every gradient of the bucket has been taken from .grad.
torch::Tensor alias(const torch::Tensor& part, const torch::Tensor& whole) {
  return torch::from_blob(part.data_ptr(), part.sizes(), [keep = whole](void*) {}, part.options());
}

}  // namespace

struct VirtualRankReducer::State {
  struct Bucket {
    std::vector<torch::Tensor> parameters;
    std::vector<std::int64_t> offsets;  // element offset of each parameter in the bucket
    std::int64_t chunk = 0;             // elements each process owns (the bucket padded to N chunks)
    torch::Tensor send;                 // [process][local virtual rank][chunk], padding zero
    torch::Tensor received;             // [process][local virtual rank][chunk]: the V values of this chunk
    torch::Tensor owned;                // this process's chunk of the average
    torch::Tensor gathered;             // [process][chunk]: the whole average
    std::vector<bool> filled;           // overlap: which gradients of the last virtual rank are in
    std::size_t missing = 0;
    std::unique_ptr<Work> work;         // the alltoall, then the allgather, in flight
  };

  Communicator& comm;
  std::int64_t virtual_ranks = 0;
  std::int64_t local = 0;  // virtual ranks on this process
  bool overlap = false;
  bool armed = false;
  bool accumulated = false;
  std::size_t next_launch = 0;
  bool finite = true;  // every average this process folded this step
  std::vector<Bucket> buckets;

  explicit State(Communicator& c) : comm(c) {}

  // Elements [offset, offset + values.numel()) of the bucket's flat gradient of local virtual
  // rank k into the send buffer, cut where the owning process changes.
  void scatter(Bucket& bucket, std::int64_t k, std::int64_t offset, const torch::Tensor& values) {
    const torch::Tensor flat = values.reshape({-1});
    for (std::int64_t done = 0; done < flat.numel();) {
      const std::int64_t element = offset + done, owner = element / bucket.chunk, within = element % bucket.chunk;
      const std::int64_t take = std::min(flat.numel() - done, bucket.chunk - within);
      bucket.send.narrow(0, (owner * local + k) * bucket.chunk + within, take).copy_(flat.narrow(0, done, take));
      done += take;
    }
  }

  void zero(Bucket& bucket, std::int64_t k, std::size_t i) {
    scatter(bucket, k, bucket.offsets[i], torch::zeros({bucket.parameters[i].numel()}, bucket.send.options()));
  }

  // The last virtual rank's gradient as the step will have it: what .grad accumulated over its
  // earlier micro-batches plus what backward just produced.
  void fill_last(Bucket& bucket, std::size_t i, const torch::Tensor& incoming) {
    const torch::Tensor earlier = accumulated ? bucket.parameters[i].grad() : torch::Tensor();
    if (incoming.defined() && earlier.defined()) scatter(bucket, local - 1, bucket.offsets[i], earlier + incoming);
    else if (incoming.defined()) scatter(bucket, local - 1, bucket.offsets[i], incoming);
    else if (earlier.defined()) scatter(bucket, local - 1, bucket.offsets[i], earlier);
    else zero(bucket, local - 1, i);
    bucket.filled[i] = true;
  }

  // Collectives must be issued in one order everywhere: bucket b's alltoall, then (once it is
  // complete and folded) bucket b - 1's allgather, then bucket b + 1's alltoall, and so on. The
  // fold of a bucket waits for its alltoall, started a bucket's backward earlier.
  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].missing == 0) {
      if (next_launch > 0) gather(buckets[next_launch - 1]);
      Bucket& bucket = buckets[next_launch++];
      bucket.work = comm.size() == 1 ? nullptr : comm.alltoall_async(bucket.send, bucket.received);
    }
    for (std::size_t b = 0; b < next_launch; ++b)
      if (buckets[b].work) buckets[b].work->test();  // progress: MPI moves only inside MPI calls
  }

  // Completes the bucket's alltoall, folds its chunk and starts the allgather of the averages.
  void gather(Bucket& bucket) {
    if (bucket.work) bucket.work->wait();
    finite = fold(bucket) && finite;
    bucket.work = comm.size() == 1 ? nullptr : comm.allgather_async(bucket.owned, bucket.gathered);
  }

  // A hook runs before autograd accumulates its gradient into .grad, which may be an alias of the
  // bucket's average (average()): a bucket completed by this call starts only at the next call (or
  // in average()), once the gradient has landed, so that no allgather writes memory that autograd
  // is about to add into.
  void on_gradient(std::size_t b, std::size_t i, const torch::Tensor& incoming) {
    if (!armed) return;
    torch::NoGradGuard no_grad;
    launch_ready();
    Bucket& bucket = buckets[b];
    if (bucket.filled[i]) return;
    fill_last(bucket, i, incoming);
    --bucket.missing;
  }

  // The owner's fold: in double, virtual rank 0 first, whatever N is. False if not finite. On
  // CPUs a loop that reads each value once (torch's promoting add_ took ten times as long).
  bool fold(Bucket& bucket) {
    if (bucket.received.is_cpu())
      return average_in_order(bucket.received.data_ptr<float>(), static_cast<std::size_t>(virtual_ranks),
                              static_cast<std::size_t>(bucket.chunk), static_cast<double>(virtual_ranks),
                              bucket.owned.data_ptr<float>());
    const torch::Tensor values = bucket.received.view({virtual_ranks, bucket.chunk});
    torch::Tensor sum = values[0].to(torch::kFloat64);
    for (std::int64_t v = 1; v < virtual_ranks; ++v) sum.add_(values[v]);
    // A divisor on the device: ATen turns division by a CPU scalar into a multiplication by its
    // reciprocal on CUDA, which is not the CPU loop's division.
    bucket.owned.copy_(sum.div_(torch::scalar_tensor(static_cast<double>(virtual_ranks), sum.options())));
    return torch::isfinite(bucket.owned).all().item<bool>();
  }
};

VirtualRankReducer::VirtualRankReducer(const std::vector<torch::Tensor>& parameters, Communicator& comm,
                                       std::int64_t virtual_ranks, bool overlap, const BucketLimits& limits)
    : state_(std::make_shared<State>(comm)) {
  State& s = *state_;
  s.virtual_ranks = virtual_ranks;
  s.local = virtual_ranks / comm.size();
  s.overlap = overlap;
  const std::int64_t processes = comm.size();
  for (auto& planned : plan_parameter_buckets(parameters, limits, /*as_float32=*/true)) {
    State::Bucket bucket;
    const std::int64_t elements = planned.elements;
    bucket.parameters = std::move(planned.parameters);
    bucket.offsets = std::move(planned.offsets);
    bucket.chunk = (elements + processes - 1) / processes;
    // All float32 whatever the parameters' dtypes: the values and the average are float32.
    const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(bucket.parameters.front().device());
    bucket.send = torch::zeros({bucket.chunk * processes * s.local}, options);
    // One process needs no exchange: its send buffer holds all V values already, its chunk is all.
    bucket.received = processes == 1 ? bucket.send : torch::empty_like(bucket.send);
    bucket.owned = torch::empty({bucket.chunk}, options);
    bucket.gathered = processes == 1 ? bucket.owned : torch::empty({bucket.chunk * processes}, options);
    bucket.filled.assign(bucket.parameters.size(), false);
    s.buckets.push_back(std::move(bucket));
  }
  if (s.overlap) register_gradient_hooks(state_, s.buckets);
}

VirtualRankReducer::~VirtualRankReducer() = default;

void VirtualRankReducer::keep(std::int64_t k) {
  State& s = *state_;
  torch::NoGradGuard no_grad;
  for (auto& bucket : s.buckets)
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      const torch::Tensor& grad = bucket.parameters[i].grad();
      if (grad.defined()) s.scatter(bucket, k, bucket.offsets[i], grad);
      else s.zero(bucket, k, i);
    }
}

void VirtualRankReducer::prepare_last(bool accumulated) {
  State& s = *state_;
  if (!s.overlap) return;
  s.armed = true;
  s.accumulated = accumulated;
  s.next_launch = 0;
  s.finite = true;
  for (auto& bucket : s.buckets) {
    bucket.filled.assign(bucket.parameters.size(), false);
    bucket.missing = bucket.parameters.size();
    bucket.work.reset();
  }
}

bool VirtualRankReducer::average() {
  State& s = *state_;
  torch::NoGradGuard no_grad;
  if (s.armed) {
    // Gradients no hook saw (parameters this step's graph did not use) go in now.
    for (auto& bucket : s.buckets)
      for (std::size_t i = 0; i < bucket.parameters.size(); ++i)
        if (!bucket.filled[i]) {
          s.fill_last(bucket, i, torch::Tensor());
          --bucket.missing;
        }
    s.armed = false;
  } else {
    s.next_launch = 0;
    s.finite = true;
    for (auto& bucket : s.buckets) bucket.missing = 0;
  }
  s.launch_ready();
  if (!s.buckets.empty()) s.gather(s.buckets.back());
  for (auto& bucket : s.buckets) {
    if (bucket.work) bucket.work->wait();
    bucket.work.reset();
    for (std::size_t i = 0; i < bucket.parameters.size(); ++i) {
      torch::Tensor& parameter = bucket.parameters[i];
      const torch::Tensor value = bucket.gathered.narrow(0, bucket.offsets[i], parameter.numel()).view(parameter.sizes());
      if (value.scalar_type() == parameter.scalar_type() && value.device() == parameter.device())
        parameter.mutable_grad() = alias(value, bucket.gathered);
      else if (parameter.grad().defined()) parameter.mutable_grad().copy_(value);
      else parameter.mutable_grad() = value.to(parameter.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
    }
  }
  return s.finite;
}

bool VirtualRankReducer::overlapping() const { return state_->overlap; }

std::size_t VirtualRankReducer::bucket_count() const { return state_->buckets.size(); }

}  // namespace trainer::comm
