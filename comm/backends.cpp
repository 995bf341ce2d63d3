#include "comm/backends.h"

#include "comm/mpi_communicator.h"
#include "common/error.h"
#ifdef TRAINER_HAVE_NCCL
#include "comm/nccl_communicator.h"
#endif

namespace trainer::comm {

std::unique_ptr<Communicator> make_control_communicator(std::chrono::milliseconds timeout, int local_rank_hint) {
  auto world = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, local_rank_hint);
  world->set_timeout(timeout);
  return world;
}

std::unique_ptr<Communicator> make_device_communicator(Communicator& control, const torch::Device& device,
                                                       std::chrono::milliseconds timeout) {
  if (!device.is_cuda() || control.size() == 1) return nullptr;
#ifdef TRAINER_HAVE_NCCL
  // NCCL's wait is always bounded: "no timeout" (0) means a year there.
  return std::make_unique<NcclCommunicator>(control, device.index(),
                                            timeout.count() > 0 ? timeout : std::chrono::hours(24 * 365));
#else
  (void)timeout;
  throw ConfigError("training on GPUs with several ranks needs NCCL, and this build has none");
#endif
}

std::vector<std::string> available_backends() {
#ifdef TRAINER_HAVE_NCCL
  return {"mpi", "nccl", "loopback"};
#else
  return {"mpi", "loopback"};
#endif
}

std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "unknown";
  std::string version(text, static_cast<std::size_t>(length));
  return version.substr(0, version.find_first_of("\r\n,"));
}

std::string nccl_version_text() {
#ifdef TRAINER_HAVE_NCCL
  return nccl_library_version();
#else
  return "";
#endif
}

}  // namespace trainer::comm
