#include "optim/state_map.h"

#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

namespace trainer::optim {
namespace {

// LibTorch 1.x keys the map by the TensorImpl's address as text (what c10::guts::to_string makes
// of it), 2.x by the address itself: the map's own key type says which.
using StateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

template <typename Key>  // a template, so that only the branch of this LibTorch is compiled
Key key_of(const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;
    key << parameter.unsafeGetTensorImpl();
    return key.str();
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

StateKey state_key(const torch::Tensor& parameter) { return key_of<StateKey>(parameter); }

}  // namespace

const torch::optim::OptimizerParamState* find_state(const torch::optim::Optimizer& optimizer,
                                                    const torch::Tensor& parameter) {
  const auto it = optimizer.state().find(state_key(parameter));
  return it == optimizer.state().end() ? nullptr : it->second.get();
}

void set_state(torch::optim::Optimizer& optimizer, const torch::Tensor& parameter,
               std::unique_ptr<torch::optim::OptimizerParamState> state) {
  optimizer.state()[state_key(parameter)] = std::move(state);
}

void clear_state(torch::optim::Optimizer& optimizer) { optimizer.state().clear(); }

}  // namespace trainer::optim
