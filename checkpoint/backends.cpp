// The registry of checkpoint backends, and what every backend shares (retention).

#include "checkpoint/backend.h"

#include "checkpoint/posix_backend.h"
#include "checkpoint/staged_backend.h"
#include "common/error.h"

#include <algorithm>

namespace trainer::checkpoint {

namespace {

struct Registered {
  const char* name;
  const char* help;
  bool takes_argument;
  std::shared_ptr<Backend> (*make)(const std::string& root, const std::string& argument);
};

// One line per backend: a new backend is its file pair and a line here.
const Registered kBackends[] = {
    {"posix", "posix: each rank writes its shard in the checkpoint root itself (the default)", false, make_posix_backend},
    {"staged", "staged:DIR: each rank writes to DIR (a disk of its node), then copies the finished file into the root",
     true, make_staged_backend},
};

}  // namespace

std::string backend_help() {
  std::string help;
  for (const auto& backend : kBackends) help += std::string(help.empty() ? "" : "; ") + backend.help;
  return help;
}

namespace {

struct Spec {
  const Registered* backend;
  std::string argument;
};

Spec parse(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const std::string argument = colon == std::string::npos ? "" : spec.substr(colon + 1);
  for (const auto& backend : kBackends) {
    if (name != backend.name) continue;
    if (backend.takes_argument && argument.empty())
      throw ConfigError("--checkpoint-backend " + spec + ": " + name + " needs an argument (" + backend.help + ")");
    if (!backend.takes_argument && colon != std::string::npos)
      throw ConfigError("--checkpoint-backend " + spec + ": " + name + " takes no argument");
    return {&backend, argument};
  }
  throw ConfigError("--checkpoint-backend " + spec + ": unknown backend '" + name + "' (" + backend_help() + ")");
}

}  // namespace

void check_backend_spec(const std::string& spec) { parse(spec); }

std::shared_ptr<Backend> make_backend(const std::string& spec, const std::string& root) {
  const Spec parsed = parse(spec);
  return parsed.backend->make(root, parsed.argument);
}

std::vector<std::string> apply_retention(Backend& backend, std::int64_t keep, const std::set<std::string>& also_keep) {
  std::vector<std::string> removed;
  if (keep < 1) return removed;
  const std::string latest = backend.latest();
  const std::vector<std::string> names = backend.list();
  // The `keep` newest stay, and so does the one LATEST names, whatever its age.
  const std::size_t kept = static_cast<std::size_t>(std::min<std::int64_t>(keep, static_cast<std::int64_t>(names.size())));
  for (std::size_t i = 0; i + kept < names.size(); ++i) {
    if (names[i] == latest || also_keep.count(names[i])) continue;
    if (backend.remove(names[i])) removed.push_back(names[i]);
  }
  return removed;
}

}  // namespace trainer::checkpoint
