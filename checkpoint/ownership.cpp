#include "checkpoint/ownership.h"

#include "common/error.h"

#include <algorithm>
#include <numeric>

namespace trainer::checkpoint {

std::vector<int> assign_owners(const std::vector<std::uint64_t>& bytes, int ranks) {
  if (ranks < 1) throw Error("assign_owners: need at least one rank");
  std::vector<std::size_t> order(bytes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return bytes[a] > bytes[b]; });
  std::vector<std::uint64_t> load(static_cast<std::size_t>(ranks), 0);
  std::vector<int> owner(bytes.size(), 0);
  for (std::size_t i : order) {
    const auto lightest = std::min_element(load.begin(), load.end()) - load.begin();
    owner[i] = static_cast<int>(lightest);
    load[static_cast<std::size_t>(lightest)] += bytes[i];
  }
  return owner;
}

}  // namespace trainer::checkpoint
