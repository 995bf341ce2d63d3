#include "trainer/optimizer_shards.h"

#include "common/error.h"
#include "optim/state_map.h"
#include "storage/checkpoint_schema.h"
#include "storage/ownership.h"

#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <map>
#include <set>

namespace trainer {

namespace {

std::vector<std::int64_t> numels_of(const std::vector<torch::Tensor>& tensors) {
  std::vector<std::int64_t> numels;
  for (const auto& t : tensors) numels.push_back(t.numel());
  return numels;
}

// A tensor of `shape` and `dtype` that costs one element: it declares a state tensor that another
// rank writes.
torch::Tensor placeholder(torch::IntArrayRef shape, torch::ScalarType dtype) {
  const torch::Tensor one = torch::zeros({}, torch::TensorOptions().dtype(dtype));
  return shape.empty() ? one : one.expand(shape);
}

}  // namespace

OptimizerShards::OptimizerShards(const optim::OptimizerSetup& setup, const optim::OptimizerConfig& config,
                                 comm::Communicator& comm)
    : setup_(setup), comm_(comm), layout_(std::vector<std::int64_t>{1}, 1) {
  const auto& groups = setup.optimizer->param_groups();
  std::vector<std::size_t> group_of;  // by parameter
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (std::size_t p = 0; p < groups[g].params().size(); ++p) {
      parameters_.push_back(groups[g].params()[p]);
      names_.push_back(setup.group_members[g][p]);
      group_of.push_back(g);
    }
  layout_ = ShardLayout(numels_of(parameters_), comm.size());
  layout_pieces_ = layout_.pieces(comm.rank());
  const torch::TensorOptions options = parameters_.front().options().requires_grad(false);
  chunk_ = torch::zeros({layout_.chunk()}, options);
  gradient_chunk_ = torch::zeros({layout_.chunk()}, options);
  // One flat buffer serves twice a step: the gradients' reduce-scatter has completed before the
  // parameters' allgather fills it. The gradients' padding is zeroed each step.
  flat_ = torch::zeros({layout_.padded()}, options);

  std::vector<std::vector<torch::Tensor>> members(groups.size());
  for (const ShardPiece& piece : layout_pieces_) {
    pieces_.push_back(chunk_.narrow(0, piece.local_offset, piece.length));
    members[group_of[piece.parameter]].push_back(pieces_.back());
  }
  std::vector<torch::optim::OptimizerParamGroup> piece_groups;
  for (std::size_t g = 0; g < groups.size(); ++g) piece_groups.emplace_back(members[g], groups[g].options().clone());
  optimizer_ = setup.adapter->make(std::move(piece_groups), optim::group_defaults(config));
  refresh_chunk();
}

// The parameters may have changed since the last step (a resume, rank 0's weights broadcast).
void OptimizerShards::refresh_chunk() {
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    const ShardPiece& piece = layout_pieces_[i];
    pieces_[i].copy_(parameters_[piece.parameter].detach().reshape(-1).narrow(0, piece.offset, piece.length));
  }
}

void OptimizerShards::reduce_scatter_gradients() {
  torch::NoGradGuard no_grad;
  const std::int64_t used = layout_.start(parameters_.size() - 1) + layout_.numel(parameters_.size() - 1);
  flat_.narrow(0, used, layout_.padded() - used).zero_();
  for (std::size_t p = 0; p < parameters_.size(); ++p) {
    torch::Tensor slot = flat_.narrow(0, layout_.start(p), layout_.numel(p));
    const torch::Tensor& grad = parameters_[p].grad();
    if (grad.defined()) slot.copy_(grad.reshape(-1));
    else slot.zero_();
  }
  comm_.reduce_scatter_async(flat_, gradient_chunk_)->wait();
  // The bucketer's average, to the bit: the sum times the world size's inverse.
  gradient_chunk_.mul_(torch::scalar_tensor(1.0 / comm_.size(), gradient_chunk_.options()));
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    pieces_[i].mutable_grad() = gradient_chunk_.narrow(0, layout_pieces_[i].local_offset, layout_pieces_[i].length);
}

double OptimizerShards::gradient_norm() {
  double squares = 0;
  for (const auto& piece : pieces_) squares += piece.grad().to(torch::kFloat64).pow(2).sum().item<double>();
  std::vector<torch::Tensor> total{torch::full({1}, squares, torch::kFloat64)};
  comm_.allreduce(total);
  return std::sqrt(total[0].item<double>());
}

bool OptimizerShards::any_rank(bool flag) {
  std::vector<torch::Tensor> any{torch::full({1}, flag ? 1.0 : 0.0, torch::kFloat64)};
  comm_.allreduce(any, {comm::ReduceOp::kMax});
  return any[0].item<double>() > 0;
}

void OptimizerShards::step() {
  torch::NoGradGuard no_grad;
  adopt_state();
  refresh_chunk();
  auto& ours = optimizer_->param_groups();
  const auto& template_groups = setup_.optimizer->param_groups();
  for (std::size_t g = 0; g < ours.size(); ++g) ours[g].set_options(template_groups[g].options().clone());
  optimizer_->step();
  comm_.allgather_async(chunk_, flat_)->wait();
  for (std::size_t p = 0; p < parameters_.size(); ++p)
    parameters_[p].detach().copy_(flat_.narrow(0, layout_.start(p), layout_.numel(p)).view(parameters_[p].sizes()));
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

std::vector<storage::OptimizerStateTensor> OptimizerShards::checkpoint_state(const storage::CheckpointContents& contents) {
  adopt_state();
  // Every piece has stepped as often as every other: the first one's keys are everyone's.
  const auto* first = optim::find_state(*optimizer_, pieces_.front());
  if (first == nullptr) return {};
  const optim::StateTensors keys = setup_.adapter->state_tensors(*first);
  std::vector<storage::OptimizerStateTensor> state;
  for (std::size_t p = 0; p < parameters_.size(); ++p)
    for (const auto& [key, tensor] : keys)
      state.push_back({names_[p], key, placeholder(tensor.dim() == 0 ? torch::IntArrayRef{} : parameters_[p].sizes(),
                                                   tensor.scalar_type())});
  storage::CheckpointContents planned = contents;
  planned.optimizer_state = state;
  const storage::NamedTensors tensors = storage::checkpoint_tensors(planned);
  const std::vector<int> owners = storage::checkpoint_owners(tensors, comm_.size());
  std::set<std::string> mine;
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (owners[i] == comm_.rank()) mine.insert(tensors[i].first);

  std::vector<std::map<std::string, torch::Tensor>> piece_state;
  for (const auto& piece : pieces_) {
    std::map<std::string, torch::Tensor> named;
    for (auto& [key, tensor] : setup_.adapter->state_tensors(*optim::find_state(*optimizer_, piece))) named[key] = tensor;
    piece_state.push_back(std::move(named));
  }
  for (std::size_t k = 0; k < keys.size(); ++k) {
    const std::string& key = keys[k].first;
    const bool scalar = keys[k].second.dim() == 0;
    // A scalar (a step count) is the same in every piece of a parameter: its first holder's.
    const std::int64_t length = scalar ? static_cast<std::int64_t>(parameters_.size()) : layout_.chunk();
    torch::Tensor mine_only =
        torch::zeros({length}, scalar ? keys[k].second.options().dtype(torch::kFloat64) : keys[k].second.options());
    for (std::size_t i = 0; i < pieces_.size(); ++i) {
      const ShardPiece& piece = layout_pieces_[i];
      const torch::Tensor& value = piece_state[i].at(key);
      if (scalar && piece.offset == 0) mine_only[static_cast<std::int64_t>(piece.parameter)] = value.to(torch::kFloat64);
      if (!scalar) mine_only.narrow(0, piece.local_offset, piece.length).copy_(value.reshape(-1));
    }
    torch::Tensor everyone = torch::empty({length * comm_.size()}, mine_only.options());
    comm_.allgather_async(mine_only, everyone)->wait();
    for (std::size_t p = 0; p < parameters_.size(); ++p) {
      storage::OptimizerStateTensor& entry = state[p * keys.size() + k];
      if (mine.count(storage::schema::optimizer_state(entry.parameter, key)) == 0) continue;
      entry.tensor = scalar ? everyone[layout_.first_holder(p) * length + static_cast<std::int64_t>(p)]
                                  .to(keys[k].second.scalar_type())
                                  .clone()
                            : everyone.narrow(0, layout_.start(p), layout_.numel(p)).view(parameters_[p].sizes()).clone();
    }
  }
  return state;
}

std::int64_t OptimizerShards::state_bytes() const {
  std::int64_t bytes = 0;
  for (const auto& piece : pieces_)
    if (const auto* state = optim::find_state(*optimizer_, piece))
      for (const auto& [key, tensor] : setup_.adapter->state_tensors(*state)) bytes += tensor.numel() * tensor.element_size();
  return bytes;
}

}  // namespace trainer
