#include "comm/communicator.h"

#include <unistd.h>

namespace trainer::comm {

std::string Communicator::where() const {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  return "rank " + std::to_string(rank()) + "/" + std::to_string(size()) + " on " + host;
}

}  // namespace trainer::comm
