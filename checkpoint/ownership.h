#pragma once
// Which rank writes which tensor of a checkpoint: balanced by bytes, so that each of N ranks writes
// about 1/N of it in parallel. Pure and deterministic: every rank computes the same answer.

#include <cstdint>
#include <vector>

namespace trainer::checkpoint {

// owner[i] is the rank that writes tensor i. Largest tensors first, each to the rank with the
// fewest bytes so far (ties: the lower rank); the classic LPT rule, within 4/3 of optimal.
std::vector<int> assign_owners(const std::vector<std::uint64_t>& bytes, int ranks);

}  // namespace trainer::checkpoint
