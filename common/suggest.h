#pragma once
// "Did you mean": the known name nearest to a mistyped one, by edit distance (insertions,
// deletions, substitutions and swaps of two neighbours each cost one), as git and cargo suggest.
// Header-only and torch-free: the command line, the registries and INI files share it.

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace trainer {

// Optimal string alignment distance between `a` and `b`.
inline std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The nearest of `known` to `word` when it is near enough to be a typo (at most a third of the
// word's length, at least 1, at most 3 edits) or when `word` is the start of exactly one of them;
// "" otherwise.
inline std::string closest_name(const std::string& word, const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, std::min<std::size_t>(3, word.size() / 3)) + 1;
  for (const auto& name : known) {
    const std::size_t distance = edit_distance(word, name);
    if (distance < best_distance) best = name, best_distance = distance;
  }
  if (!best.empty() || word.size() < 2) return best;
  for (const auto& name : known)
    if (name.compare(0, word.size(), word) == 0) {
      if (!best.empty()) return "";  // the start of several: no single guess
      best = name;
    }
  return best;
}

// " (did you mean 'x'?)", or "" when nothing is near.
inline std::string did_you_mean(const std::string& word, const std::vector<std::string>& known,
                                const std::string& prefix = "") {
  const std::string name = closest_name(word, known);
  return name.empty() ? "" : " (did you mean '" + prefix + name + "'?)";
}

}  // namespace trainer
