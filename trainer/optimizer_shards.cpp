#include "trainer/optimizer_shards.h"

#include "common/error.h"
#include "optim/state_map.h"
#include "checkpoint/schema.h"
#include "checkpoint/ownership.h"

#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <functional>
#include <map>
#include <set>

namespace trainer {

namespace {

// A tensor of `shape` and `dtype` that costs one element: it declares a state tensor that another
// rank writes.
torch::Tensor placeholder(torch::IntArrayRef shape, torch::ScalarType dtype) {
  const torch::Tensor one = torch::zeros({}, torch::TensorOptions().dtype(dtype));
  return shape.empty() ? one : one.expand(shape);
}

}  // namespace

OptimizerShards::OptimizerShards(const optim::OptimizerSetup& setup, const optim::OptimizerConfig& config,
                                 comm::GradientBucketer& bucketer, comm::Communicator& comm)
    : setup_(setup), bucketer_(bucketer), comm_(comm), layout_(std::vector<std::int64_t>{1}, 1) {
  // The template's parameters by identity: the bucketer holds the same tensors in its own order.
  const auto& groups = setup.optimizer->param_groups();
  std::map<const void*, std::pair<std::size_t, std::size_t>> place;  // -> (group, position)
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (std::size_t p = 0; p < groups[g].params().size(); ++p) place[groups[g].params()[p].unsafeGetTensorImpl()] = {g, p};
  std::vector<std::vector<std::int64_t>> buckets;
  std::vector<std::size_t> group_of;  // by parameter, in layout order
  for (std::size_t b = 0; b < bucketer.bucket_count(); ++b) {
    buckets.emplace_back();
    for (const auto& parameter : bucketer.bucket_parameters(b)) {
      const auto found = place.find(parameter.unsafeGetTensorImpl());
      if (found == place.end()) throw std::logic_error("--shard-optimizer: a bucketed parameter the optimizer does not hold");
      const auto [g, p] = found->second;
      parameters_.push_back(parameter);
      names_.push_back(setup.group_members[g][p]);
      group_of.push_back(g);
      buckets.back().push_back(parameter.numel());
    }
  }
  if (parameters_.size() != place.size())
    throw std::logic_error("--shard-optimizer: the bucketer and the optimizer hold different parameters");
  layout_ = ShardLayout(buckets, comm.size());
  layout_pieces_ = layout_.pieces(comm.rank());
  chunk_ = torch::zeros({layout_.chunk()}, parameters_.front().options().requires_grad(false));
  std::vector<std::vector<torch::Tensor>> members(groups.size());
  for (const ShardPiece& piece : layout_pieces_) {
    pieces_.push_back(chunk_.narrow(0, piece.local_offset, piece.length));
    // The gradient: this piece's place in its bucket's averaged chunk, refilled every step.
    const std::size_t b = layout_.bucket_of(piece.parameter);
    pieces_.back().mutable_grad() =
        bucketer.chunk(b).narrow(0, piece.local_offset - layout_.bucket_local_offset(b), piece.length);
    members[group_of[piece.parameter]].push_back(pieces_.back());
  }
  std::vector<torch::optim::OptimizerParamGroup> piece_groups;
  for (std::size_t g = 0; g < groups.size(); ++g) piece_groups.emplace_back(members[g], groups[g].options().clone());
  optimizer_ = setup.adapter->make(std::move(piece_groups), optim::group_defaults(config));
}

// Once, at the first step: the parameters change outside step() only before it (rank 0's weights
// broadcast at set-up, a resume), and every step leaves chunk_ holding what it allgathered into
// every replica, so there is nothing to copy again.
void OptimizerShards::refresh_chunk() {
  chunk_stale_ = false;
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    const ShardPiece& piece = layout_pieces_[i];
    pieces_[i].copy_(parameters_[piece.parameter].detach().reshape(-1).narrow(0, piece.offset, piece.length));
  }
}

// Every rank's share of each bucket, in `share` (layout_.chunk() elements), into `buckets[b]`
// (the bucket's padded length), bucket by bucket.
void OptimizerShards::allgather_buckets(const torch::Tensor& share, const std::vector<torch::Tensor>& buckets) {
  std::vector<std::unique_ptr<comm::Work>> works;
  for (std::size_t b = 0; b < layout_.buckets(); ++b)
    works.push_back(comm_.allgather_async(share.narrow(0, layout_.bucket_local_offset(b), layout_.bucket_chunk(b)),
                                          buckets[b]));
  for (auto& work : works) work->wait();
}

double OptimizerShards::gradient_norm() {
  double squares = 0;
  for (const auto& piece : pieces_) squares += piece.grad().to(torch::kFloat64).pow(2).sum().item<double>();
  std::vector<torch::Tensor> total{torch::full({1}, squares, chunk_.options().dtype(torch::kFloat64))};
  comm_.allreduce(total);
  return std::sqrt(total[0].item<double>());
}

bool OptimizerShards::any_rank(bool flag) {
  std::vector<torch::Tensor> any{torch::full({1}, flag ? 1.0 : 0.0, chunk_.options().dtype(torch::kFloat64))};
  comm_.allreduce(any, {comm::ReduceOp::kMax});
  return any[0].item<double>() > 0;
}

void OptimizerShards::step() {
  torch::NoGradGuard no_grad;
  adopt_state();
  if (chunk_stale_) refresh_chunk();
  auto& ours = optimizer_->param_groups();
  const auto& template_groups = setup_.optimizer->param_groups();
  for (std::size_t g = 0; g < ours.size(); ++g) ours[g].set_options(template_groups[g].options().clone());
  optimizer_->step();
  // Into the bucketer's buffers: their gradients were exchanged already.
  std::vector<torch::Tensor> buffers;
  for (std::size_t b = 0; b < layout_.buckets(); ++b) buffers.push_back(bucketer_.buffer(b));
  allgather_buckets(chunk_, buffers);
  for (std::size_t p = 0; p < parameters_.size(); ++p)
    parameters_[p].detach().copy_(
        buffers[layout_.bucket_of(p)].narrow(0, layout_.offset_in_bucket(p), layout_.numel(p)).view(parameters_[p].sizes()));
}

void OptimizerShards::adopt_state() {
  torch::optim::Optimizer& template_optimizer = *setup_.optimizer;
  bool any = false;
  for (const auto& parameter : parameters_) any |= optim::find_state(template_optimizer, parameter) != nullptr;
  if (!any) return;
  optim::clear_state(*optimizer_);
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    const ShardPiece& piece = layout_pieces_[i];
    const auto* state = optim::find_state(template_optimizer, parameters_[piece.parameter]);
    if (state == nullptr) continue;
    std::map<std::string, torch::Tensor> sliced;
    for (const auto& [key, tensor] : setup_.adapter->state_tensors(*state))
      sliced[key] = tensor.dim() == 0 ? tensor : tensor.reshape(-1).narrow(0, piece.offset, piece.length).clone();
    optim::set_state(*optimizer_, pieces_[i],
                     setup_.adapter->make_state(sliced, pieces_[i], "the optimizer state of " + names_[piece.parameter]));
  }
  optim::clear_state(template_optimizer);
}

std::vector<checkpoint::OptimizerStateTensor> OptimizerShards::checkpoint_state(const checkpoint::CheckpointContents& contents) {
  adopt_state();
  // Every piece has stepped as often as every other: the first one's keys are everyone's.
  const auto* first = optim::find_state(*optimizer_, pieces_.front());
  if (first == nullptr) return {};
  const optim::StateTensors keys = setup_.adapter->state_tensors(*first);
  std::vector<checkpoint::OptimizerStateTensor> state;
  for (std::size_t p = 0; p < parameters_.size(); ++p)
    for (const auto& [key, tensor] : keys)
      state.push_back({names_[p], key, placeholder(tensor.dim() == 0 ? torch::IntArrayRef{} : parameters_[p].sizes(),
                                                   tensor.scalar_type())});
  const std::set<std::string> mine = written_here(contents, state);
  std::vector<std::map<std::string, torch::Tensor>> piece_state;  // by piece: key -> tensor
  for (const auto& piece : pieces_) {
    piece_state.emplace_back();
    for (auto& [key, tensor] : setup_.adapter->state_tensors(*optim::find_state(*optimizer_, piece)))
      piece_state.back()[key] = tensor;
  }
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const auto& [key, example] = keys[k];
    const auto written = [&](std::size_t p) { return mine.count(checkpoint::schema::optimizer_state(names_[p], key)) > 0; };
    std::vector<torch::Tensor> values;  // this rank's pieces' values of the key
    for (const auto& named : piece_state) values.push_back(named.at(key));
    const std::vector<torch::Tensor> whole =
        example.dim() == 0 ? gather_scalars(values, example) : gather_tensors(values, example, written);
    for (std::size_t p = 0; p < parameters_.size(); ++p)
      if (written(p)) state[p * keys.size() + k].tensor = whole[p];
  }
  return state;
}

// The dataset paths of `state` that this rank will write: the save's own ownership plan, applied
// to `contents` with `state` as its optimizer state.
std::set<std::string> OptimizerShards::written_here(const checkpoint::CheckpointContents& contents,
                                                    const std::vector<checkpoint::OptimizerStateTensor>& state) const {
  checkpoint::CheckpointContents planned = contents;
  planned.optimizer_state = state;
  const storage::NamedTensors tensors = checkpoint::checkpoint_tensors(planned);
  const std::vector<int> owners = checkpoint::checkpoint_owners(tensors, comm_.size());
  std::set<std::string> mine;
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (owners[i] == comm_.rank()) mine.insert(tensors[i].first);
  return mine;
}

// Collective. A scalar per parameter (a step count), the same in every piece of a parameter: its
// first holder's, for every parameter, on every rank.
std::vector<torch::Tensor> OptimizerShards::gather_scalars(const std::vector<torch::Tensor>& values,
                                                           const torch::Tensor& example) {
  const auto count = static_cast<std::int64_t>(parameters_.size());
  const torch::TensorOptions doubles = chunk_.options().dtype(torch::kFloat64);  // on the communicator's device
  torch::Tensor mine = torch::zeros({count}, doubles);
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    if (layout_pieces_[i].offset == 0) mine[static_cast<std::int64_t>(layout_pieces_[i].parameter)] = values[i].to(torch::kFloat64);
  torch::Tensor everyone = torch::empty({count * comm_.size()}, doubles);
  comm_.allgather(mine, everyone);
  std::vector<torch::Tensor> whole;
  for (std::size_t p = 0; p < parameters_.size(); ++p)
    whole.push_back(everyone[layout_.first_holder(p) * count + static_cast<std::int64_t>(p)].to(example.scalar_type()));
  return whole;
}

// Collective. A tensor per parameter, of its shape: the whole ones that `wanted` asks for, gathered
// bucket by bucket (a save holds one bucket of one key beyond this rank's share); undefined others.
std::vector<torch::Tensor> OptimizerShards::gather_tensors(const std::vector<torch::Tensor>& values,
                                                           const torch::Tensor& example,
                                                           const std::function<bool(std::size_t)>& wanted) {
  torch::Tensor share = torch::zeros({layout_.chunk()}, example.options());
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    share.narrow(0, layout_pieces_[i].local_offset, layout_pieces_[i].length).copy_(values[i].reshape(-1));
  std::vector<torch::Tensor> whole(parameters_.size());
  for (std::size_t b = 0; b < layout_.buckets(); ++b) {
    torch::Tensor bucket = torch::empty({layout_.bucket_chunk(b) * comm_.size()}, example.options());
    comm_.allgather(share.narrow(0, layout_.bucket_local_offset(b), layout_.bucket_chunk(b)), bucket);
    for (std::size_t p = 0; p < parameters_.size(); ++p)
      if (layout_.bucket_of(p) == b && wanted(p))
        whole[p] = bucket.narrow(0, layout_.offset_in_bucket(p), layout_.numel(p)).view(parameters_[p].sizes()).clone();
  }
  return whole;
}

std::int64_t OptimizerShards::state_bytes() const {
  std::int64_t bytes = 0;
  for (const auto& piece : pieces_)
    if (const auto* state = optim::find_state(*optimizer_, piece))
      for (const auto& [key, tensor] : setup_.adapter->state_tensors(*state)) bytes += tensor.numel() * tensor.element_size();
  return bytes;
}

}  // namespace trainer
