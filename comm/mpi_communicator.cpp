#include "comm/mpi_communicator.h"

#include "comm/backoff.h"
#include "comm/mpi_environment.h"
#include "common/error.h"

#include <algorithm>
#include <climits>
#include <functional>
#include <iostream>

#include <unistd.h>

namespace trainer::comm {
namespace {

MPI_Datatype mpi_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return MPI_FLOAT;
    case torch::kFloat64: return MPI_DOUBLE;
    case torch::kInt64: return MPI_INT64_T;
    case torch::kInt32: return MPI_INT32_T;
    case torch::kUInt8: return MPI_UINT8_T;
    default: return MPI_DATATYPE_NULL;
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
    case ReduceOp::kSum:
    case ReduceOp::kAverage: return MPI_SUM;
  }
  return MPI_SUM;
}

// MPI counts are ints: large tensors go in slices of at most INT_MAX elements.
template <typename Call>
void in_slices(const torch::Tensor& tensor, Call call) {
  const std::int64_t total = tensor.numel();
  auto* base = static_cast<char*>(tensor.data_ptr());
  const std::int64_t item = static_cast<std::int64_t>(tensor.element_size());
  for (std::int64_t begin = 0; begin < total; begin += INT_MAX) {
    const int count = static_cast<int>(std::min<std::int64_t>(INT_MAX, total - begin));
    call(base + begin * item, count);
  }
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm parent, int local_rank_hint) {
  check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup");
  // Return error codes instead of aborting inside MPI, so that failures carry our context.
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  // The shared-memory split tells both the local rank and how many ranks share this host.
  MPI_Comm local = MPI_COMM_NULL;
  check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
        "MPI_Comm_split_type");
  check(MPI_Comm_rank(local, &local_rank_), "MPI_Comm_rank(local)");
  check(MPI_Comm_size(local, &local_size_), "MPI_Comm_size(local)");
  MPI_Comm_free(&local);
  if (local_rank_hint >= 0) local_rank_ = local_rank_hint;
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

void MpiCommunicator::set_timeout(std::chrono::milliseconds timeout) {
  watchdog_ = std::make_unique<CollectiveWatchdog>(std::chrono::milliseconds(0), nullptr);
  heartbeat_.reset();
  if (timeout.count() <= 0 || size_ == 1) return;
  start_heartbeat(timeout);
  const std::string rank = "rank " + std::to_string(rank_) + "/" + std::to_string(size_);
  const Heartbeat* heartbeat = heartbeat_.get();
  const auto silence = std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(3));
  watchdog_ = std::make_unique<CollectiveWatchdog>(timeout, [rank, heartbeat, silence](const std::string& message) {
    // From the watchdog thread while the main thread is blocked inside MPI: the job cannot go on,
    // and MPI_Abort is the one call that ends every rank (a plain exit would leave peers waiting).
    const std::string silent = heartbeat ? heartbeat->silent_ranks(silence) : "";
    std::cerr << "trainer: error: " << rank << ": " << message << (silent.empty() ? "" : "; " + silent)
              << "; ending the job" << std::endl;
    MpiEnvironment::abort_job(1);
  });
}

// Collective: rank 0 listens for heartbeats; its address and a number for this job reach every
// other rank, which then sends one every interval (a quarter of the timeout, at most a second).
void MpiCommunicator::start_heartbeat(std::chrono::milliseconds timeout) {
  const auto interval = std::min<std::chrono::milliseconds>(timeout / 4, std::chrono::seconds(1));
  std::uint64_t job = 0;
  std::string address;
  if (rank_ == 0) {
    job = std::chrono::steady_clock::now().time_since_epoch().count() ^ static_cast<std::uint64_t>(::getpid());
    heartbeat_ = Heartbeat::listen(size_, job);
    address = heartbeat_->address();
  }
  char text[1024] = {};
  std::snprintf(text, sizeof text, "%s", address.c_str());
  check(MPI_Bcast(&job, 1, MPI_UINT64_T, 0, comm_), "MPI_Bcast(heartbeat)");
  check(MPI_Bcast(text, sizeof text, MPI_CHAR, 0, comm_), "MPI_Bcast(heartbeat)");
  if (rank_ != 0) heartbeat_ = Heartbeat::send(text, rank_, job, interval);
}

CollectiveWatchdog::Scope MpiCommunicator::watch(const char* collective, std::int64_t bytes) const {
  return watchdog_->watch([collective, bytes] {
    return std::string(collective) + " of " + std::to_string(bytes) + " bytes";
  });
}

void MpiCommunicator::check(int status, const std::string& what) const {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(status, text, &length);
  int version = 0, subversion = 0;
  MPI_Get_version(&version, &subversion);
  throw CommError(what + " failed on " + where() + " (MPI " + std::to_string(version) + "." +
                  std::to_string(subversion) + "): " + std::string(text, static_cast<std::size_t>(length)));
}

void MpiCommunicator::check_tensor(const torch::Tensor& tensor, const char* collective) const {
  if (!tensor.device().is_cpu())
    throw CommError(std::string("backend mpi does not support ") + tensor.device().str() +
                    " tensors in " + collective + " (use NCCL for GPUs)");
  if (!tensor.is_contiguous())
    throw CommError(std::string("backend mpi needs contiguous tensors in ") + collective);
  if (mpi_type(tensor.scalar_type()) == MPI_DATATYPE_NULL)
    throw CommError(std::string("backend mpi does not support dtype ") +
                    c10::toString(tensor.scalar_type()) + " in " + collective);
}

void MpiCommunicator::check_reducible(const torch::Tensor& tensor, ReduceOp op) const {
  check_tensor(tensor, "allreduce");
  if (op == ReduceOp::kAverage && !tensor.is_floating_point())
    throw CommError("allreduce: averaging needs a floating-point tensor");
}

void MpiCommunicator::await(MPI_Request& request, const char* collective, std::int64_t bytes) const {
  const auto watching = watch(collective, bytes);
  int done = 0;
  int status = MPI_SUCCESS;
  wait_with_backoff([&] {
    status = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    return done != 0 || status != MPI_SUCCESS;
  });
  check(status, std::string("MPI_Test(") + collective + ")");
}

void MpiCommunicator::await_peers(const char* before, std::int64_t bytes) const {
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Ibarrier(comm_, &request), "MPI_Ibarrier");
  await(request, before, bytes);
}

void MpiCommunicator::await_peers_once(std::int64_t bytes) const {
  if (peers_met_) return;
  peers_met_ = true;
  await_peers("MPI_Iallreduce", bytes);
}

// Small tensors (the step agreement, metrics): one non-blocking allreduce, awaited with backoff.
// Large ones: the ranks meet first, then MPI's blocking allreduce (its tuned algorithms, which
// progress the transfer without our polling) runs with every rank present.
void MpiCommunicator::allreduce(std::vector<torch::Tensor>& tensors, const AllreduceOptions& options) {
  if (size_ == 1) return;  // a collective over one rank is the identity, whatever the device
  constexpr std::int64_t kSmall = 64 * 1024;
  bool met = false;
  for (auto& tensor : tensors) {
    check_reducible(tensor, options.op);
    const MPI_Datatype type = mpi_type(tensor.scalar_type());
    in_slices(tensor, [&](void* data, int count) {
      const std::int64_t bytes = std::int64_t{count} * tensor.element_size();
      if (bytes <= kSmall) {
        MPI_Request request = MPI_REQUEST_NULL;
        check(MPI_Iallreduce(MPI_IN_PLACE, data, count, type, mpi_op(options.op), comm_, &request), "MPI_Iallreduce");
        return await(request, "MPI_Iallreduce", bytes);
      }
      if (!met) await_peers("MPI_Allreduce", bytes);
      met = true;
      const auto watching = watch("MPI_Allreduce", bytes);
      check(MPI_Allreduce(MPI_IN_PLACE, data, count, type, mpi_op(options.op), comm_), "MPI_Allreduce");
    });
    if (options.op == ReduceOp::kAverage) tensor.div_(size_);
  }
}

namespace {

// A non-blocking collective in flight: `tensors` stay alive until it completes; `result` is divided
// by the world size at the end for an average (MPI has no averaging op).
class MpiWork : public Work {
 public:
  MpiWork(const MpiCommunicator& comm, const char* collective, std::vector<torch::Tensor> tensors, torch::Tensor result,
          ReduceOp op, std::int64_t bytes, std::function<void()> on_completion = {})
      : comm_(comm), collective_(collective), tensors_(std::move(tensors)), result_(std::move(result)), op_(op),
        bytes_(bytes), on_completion_(std::move(on_completion)) {}
  ~MpiWork() override {
    if (request_ != MPI_REQUEST_NULL) MPI_Wait(&request_, MPI_STATUS_IGNORE);  // never free a buffer in use
  }
  MPI_Request* request() { return &request_; }
  bool test() override {
    if (request_ == MPI_REQUEST_NULL) return true;
    int done = 0;
    finish(MPI_Test(&request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
  }
  // The ranks meet first (with backoff, once a step); then MPI_Wait, whose polling moves the
  // bytes as fast as MPI can, waits for the transfer alone.
  void wait() override {
    comm_.await_peers_once(bytes_);
    if (test()) return;
    const auto watching = comm_.watch(collective_, bytes_);
    finish(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
  }

 private:
  void finish(int status, const char* what) {
    comm_.check(status, std::string(what) + "(" + collective_ + ")");
    if (request_ != MPI_REQUEST_NULL || finished_) return;
    finished_ = true;
    if (on_completion_) on_completion_();
    if (op_ == ReduceOp::kAverage) result_.div_(comm_.size());
  }
  const MpiCommunicator& comm_;
  const char* collective_;
  std::vector<torch::Tensor> tensors_;
  torch::Tensor result_;
  ReduceOp op_;
  std::int64_t bytes_;
  std::function<void()> on_completion_;  // once, when the transfer has completed
  bool finished_ = false;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

}  // namespace

std::unique_ptr<Work> MpiCommunicator::allreduce_async(torch::Tensor tensor, const AllreduceOptions& options) {
  if (size_ == 1 || tensor.numel() > INT_MAX) return Communicator::allreduce_async(std::move(tensor), options);
  check_reducible(tensor, options.op);
  const std::int64_t bytes = tensor.numel() * static_cast<std::int64_t>(tensor.element_size());
  auto work = std::make_unique<MpiWork>(*this, "MPI_Iallreduce", std::vector<torch::Tensor>{tensor}, tensor, options.op, bytes);
  peers_met_ = false;
  check(MPI_Iallreduce(MPI_IN_PLACE, tensor.data_ptr(), static_cast<int>(tensor.numel()),
                       mpi_type(tensor.scalar_type()), mpi_op(options.op), comm_, work->request()),
        "MPI_Iallreduce");
  return work;
}

// Not MPI_Ireduce_scatter_block: Open MPI 4.1's non-blocking schedule (libnbc) took 22-30 ms for a
// 24 MB bucket on 2 ranks where MPI_Ialltoall moved it in 4-9 ms (bench/mpi_collectives.sh). So
// each rank's chunks go by alltoall, and the owner reduces the N chunks it received here, in rank
// order, when the transfer completes.
std::unique_ptr<Work> MpiCommunicator::reduce_scatter_async(torch::Tensor input, torch::Tensor output,
                                                            const AllreduceOptions& options) {
  check_chunks(input, output, "reduce_scatter");
  if (size_ == 1) return Communicator::reduce_scatter_async(std::move(input), std::move(output), options);
  check_reducible(input, options.op);
  if (output.numel() > INT_MAX) unsupported("reduce_scatter of more than 2^31 elements a rank");
  const std::int64_t bytes = static_cast<std::int64_t>(input.nbytes());
  torch::Tensor received = torch::empty_like(input);
  const ReduceOp op = options.op;
  auto reduce = [received, output, op, size = size_]() mutable {
    const torch::Tensor chunks = received.view({size, output.numel()});
    if (op == ReduceOp::kMax) torch::amax_out(output, chunks, 0);
    else if (op == ReduceOp::kMin) torch::amin_out(output, chunks, 0);
    else {
      output.copy_(chunks[0]);
      for (int q = 1; q < size; ++q) output.add_(chunks[q]);
    }
  };
  auto work = std::make_unique<MpiWork>(*this, "MPI_Ialltoall", std::vector<torch::Tensor>{input, output, received},
                                        output, op, bytes, std::move(reduce));
  peers_met_ = false;
  const MPI_Datatype type = mpi_type(input.scalar_type());
  const int count = static_cast<int>(output.numel());
  check(MPI_Ialltoall(input.data_ptr(), count, type, received.data_ptr(), count, type, comm_, work->request()),
        "MPI_Ialltoall (reduce_scatter)");
  return work;
}

std::unique_ptr<Work> MpiCommunicator::allgather_async(torch::Tensor input, torch::Tensor output) {
  check_chunks(output, input, "allgather");
  if (size_ == 1) return Communicator::allgather_async(std::move(input), std::move(output));
  check_tensor(input, "allgather");
  if (input.numel() > INT_MAX) unsupported("allgather of more than 2^31 elements a rank");
  const std::int64_t bytes = static_cast<std::int64_t>(output.nbytes());
  auto work = std::make_unique<MpiWork>(*this, "MPI_Iallgather", std::vector<torch::Tensor>{input, output}, output,
                                        ReduceOp::kSum, bytes);
  peers_met_ = false;
  const MPI_Datatype type = mpi_type(input.scalar_type());
  const int count = static_cast<int>(input.numel());
  check(MPI_Iallgather(input.data_ptr(), count, type, output.data_ptr(), count, type, comm_, work->request()),
        "MPI_Iallgather");
  return work;
}

std::unique_ptr<Work> MpiCommunicator::alltoall_async(torch::Tensor input, torch::Tensor output) {
  check_alltoall(input, output);
  if (size_ == 1) return Communicator::alltoall_async(std::move(input), std::move(output));
  check_tensor(input, "alltoall");
  const std::int64_t chunk = input.numel() / size_;
  if (chunk > INT_MAX) unsupported("alltoall of more than 2^31 elements a rank pair");
  const std::int64_t bytes = static_cast<std::int64_t>(input.nbytes());
  auto work = std::make_unique<MpiWork>(*this, "MPI_Ialltoall", std::vector<torch::Tensor>{input, output}, output,
                                        ReduceOp::kSum, bytes);
  peers_met_ = false;
  const MPI_Datatype type = mpi_type(input.scalar_type());
  check(MPI_Ialltoall(input.data_ptr(), static_cast<int>(chunk), type, output.data_ptr(), static_cast<int>(chunk), type,
                      comm_, work->request()),
        "MPI_Ialltoall");
  return work;
}

void MpiCommunicator::broadcast(std::vector<torch::Tensor>& tensors, const BroadcastOptions& options) {
  if (size_ == 1) return;
  for (auto& tensor : tensors) check_tensor(tensor, "broadcast");
  const bool fits_int = std::all_of(tensors.begin(), tensors.end(), [](const torch::Tensor& t) {
    return static_cast<std::int64_t>(t.nbytes()) <= INT_MAX;
  });
  const bool valid_root = options.root >= 0 && options.root < size_;  // otherwise MPI says what is wrong
  if (tensors.size() > 1 && fits_int && valid_root) {  // one collective, not one per tensor
    std::vector<std::vector<torch::Tensor>> from_root(static_cast<std::size_t>(size_));
    from_root[static_cast<std::size_t>(options.root)] = tensors;
    return broadcast_from_each(from_root);
  }
  for (auto& tensor : tensors) {
    const MPI_Datatype type = mpi_type(tensor.scalar_type());
    in_slices(tensor, [&](void* data, int count) {
      const auto watching = watch("MPI_Bcast", std::int64_t{count} * tensor.element_size());
      check(MPI_Bcast(data, count, type, options.root, comm_), "MPI_Bcast");
    });
  }
}

// The tensors' bytes where they lie, as one datatype (hindexed from MPI_BOTTOM, committed), so that
// many tensors move in one collective: neither packed into a buffer nor copied out of one.
// MPI_DATATYPE_NULL when they hold no bytes.
MPI_Datatype MpiCommunicator::byte_blocks(const std::vector<torch::Tensor>& tensors, std::int64_t& bytes) const {
  std::vector<int> lengths;
  std::vector<MPI_Aint> places;
  bytes = 0;
  for (const auto& tensor : tensors) {
    if (tensor.numel() == 0) continue;
    MPI_Aint place = 0;
    check(MPI_Get_address(tensor.data_ptr(), &place), "MPI_Get_address");
    lengths.push_back(static_cast<int>(tensor.nbytes()));
    places.push_back(place);
    bytes += static_cast<std::int64_t>(tensor.nbytes());
  }
  if (lengths.empty()) return MPI_DATATYPE_NULL;
  MPI_Datatype blocks = MPI_DATATYPE_NULL;
  check(MPI_Type_create_hindexed(static_cast<int>(lengths.size()), lengths.data(), places.data(), MPI_BYTE, &blocks),
        "MPI_Type_create_hindexed");
  const int status = MPI_Type_commit(&blocks);
  if (status != MPI_SUCCESS) MPI_Type_free(&blocks);
  check(status, "MPI_Type_commit");
  return blocks;
}

// All ranks' broadcasts started together (MPI_Ibcast) and waited for together: one round of
// synchronization instead of one per rank, which matters most when ranks share cores.
void MpiCommunicator::broadcast_from_each(std::vector<std::vector<torch::Tensor>>& tensors) {
  if (size_ == 1) return;
  for (const auto& from_rank : tensors)
    for (const auto& tensor : from_rank) {
      check_tensor(tensor, "broadcast");
      if (static_cast<std::int64_t>(tensor.nbytes()) > INT_MAX) return Communicator::broadcast_from_each(tensors);
    }
  std::vector<MPI_Datatype> types;
  std::vector<MPI_Request> requests;
  std::int64_t total = 0;
  int status = MPI_SUCCESS;
  for (int rank = 0; rank < size_ && rank < static_cast<int>(tensors.size()) && status == MPI_SUCCESS; ++rank) {
    std::int64_t bytes = 0;
    const MPI_Datatype blocks = byte_blocks(tensors[static_cast<std::size_t>(rank)], bytes);
    if (blocks == MPI_DATATYPE_NULL) continue;
    types.push_back(blocks);
    requests.emplace_back();
    status = MPI_Ibcast(MPI_BOTTOM, 1, blocks, rank, comm_, &requests.back());
    total += bytes;
  }
  if (status == MPI_SUCCESS) {
    const auto watching = watch("MPI_Ibcast", total);
    status = MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
  }
  for (auto& type : types) MPI_Type_free(&type);
  check(status, "MPI_Ibcast");
}

void MpiCommunicator::barrier() { await_peers("MPI_Barrier", 0); }

std::vector<std::int64_t> MpiCommunicator::allgather(std::int64_t value) {
  std::vector<std::int64_t> values(static_cast<std::size_t>(size_));
  MPI_Request request = MPI_REQUEST_NULL;
  check(MPI_Iallgather(&value, 1, MPI_INT64_T, values.data(), 1, MPI_INT64_T, comm_, &request), "MPI_Iallgather");
  await(request, "MPI_Iallgather", sizeof value);
  return values;
}

// As allreduce: the ranks meet (with backoff), then MPI's blocking collective.
void MpiCommunicator::allgather(torch::Tensor input, torch::Tensor output) {
  check_chunks(output, input, "allgather");
  if (size_ == 1) return Communicator::allgather(std::move(input), std::move(output));
  check_tensor(input, "allgather");
  if (input.numel() > INT_MAX) unsupported("allgather of more than 2^31 elements a rank");
  const std::int64_t bytes = static_cast<std::int64_t>(output.nbytes());
  await_peers("MPI_Allgather", bytes);
  const auto watching = watch("MPI_Allgather", bytes);
  const MPI_Datatype type = mpi_type(input.scalar_type());
  const int count = static_cast<int>(input.numel());
  check(MPI_Allgather(input.data_ptr(), count, type, output.data_ptr(), count, type, comm_), "MPI_Allgather");
}

}  // namespace trainer::comm
