#pragma once
// Which rank has gone silent. A collective that waits for a dead or unreachable peer cannot tell
// which peer it waits for; a side channel can: every rank sends rank 0 a small UDP datagram every
// second, on every address rank 0 has, and rank 0 notes when it last heard from each. When a
// collective times out, rank 0 names the ranks it has not heard from (a cut network link, a dead
// host). Best effort: a firewall that drops UDP makes every rank look silent, which the message
// says. Torch- and MPI-free; the addresses are exchanged by the caller (MpiCommunicator).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace trainer::comm {

class Heartbeat {
 public:
  // Rank 0: opens the listening socket; its addresses (IPv4, every interface) and port, as text,
  // go to the other ranks through the caller.
  static std::unique_ptr<Heartbeat> listen(int ranks, std::uint64_t job);
  std::string address() const;  // "10.0.0.1,127.0.0.1:40123"

  // Any other rank: sends a heartbeat every `interval` to every address in `address`.
  static std::unique_ptr<Heartbeat> send(const std::string& address, int rank, std::uint64_t job,
                                         std::chrono::milliseconds interval);

  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // Rank 0: the ranks not heard from for longer than `silence`, as a sentence ("" when every rank
  // spoke), e.g. "no heartbeat from rank 2 for 7 s (unreachable or dead)".
  std::string silent_ranks(std::chrono::milliseconds silence) const;

 private:
  Heartbeat() = default;
  void receive_loop();
  void send_loop(std::vector<std::string> hosts, int port, int rank, std::chrono::milliseconds interval);

  int socket_ = -1;
  int port_ = 0;
  std::uint64_t job_ = 0;
  std::vector<std::string> addresses_;
  std::unique_ptr<std::atomic<std::int64_t>[]> last_heard_;  // ms since `start_`, -1: never
  int ranks_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace trainer::comm
