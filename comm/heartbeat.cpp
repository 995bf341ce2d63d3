#include "comm/heartbeat.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

namespace trainer::comm {
namespace {

constexpr std::uint32_t kMagic = 0x54524842;  // "TRHB"

struct Packet {
  std::uint32_t magic;
  std::int32_t rank;
  std::uint64_t job;
};

std::int64_t milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

std::vector<std::string> ipv4_addresses() {
  std::vector<std::string> found;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {"127.0.0.1"};
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(entry->ifa_addr)->sin_addr, text, sizeof text);
    found.emplace_back(text);
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace

std::unique_ptr<Heartbeat> Heartbeat::listen(int ranks, std::uint64_t job) {
  std::unique_ptr<Heartbeat> beat(new Heartbeat());
  beat->socket_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (beat->socket_ < 0) return beat;  // no side channel: timeouts say less, nothing breaks
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t length = sizeof any;
  if (::bind(beat->socket_, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 ||
      ::getsockname(beat->socket_, reinterpret_cast<sockaddr*>(&any), &length) != 0)
    return beat;
  beat->port_ = ntohs(any.sin_port);
  beat->job_ = job;
  beat->ranks_ = ranks;
  beat->addresses_ = ipv4_addresses();
  beat->last_heard_.reset(new std::atomic<std::int64_t>[static_cast<std::size_t>(ranks)]);
  for (int r = 0; r < ranks; ++r) beat->last_heard_[r] = r == 0 ? 0 : -1;
  beat->thread_ = std::thread([b = beat.get()] { b->receive_loop(); });
  return beat;
}

std::string Heartbeat::address() const {
  std::string text;
  for (const auto& a : addresses_) text += (text.empty() ? "" : ",") + a;
  return text + ":" + std::to_string(port_);
}

std::unique_ptr<Heartbeat> Heartbeat::send(const std::string& address, int rank, std::uint64_t job,
                                           std::chrono::milliseconds interval) {
  std::unique_ptr<Heartbeat> beat(new Heartbeat());
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return beat;
  const int port = std::atoi(address.c_str() + colon + 1);
  std::vector<std::string> hosts;
  std::stringstream list(address.substr(0, colon));
  for (std::string host; std::getline(list, host, ',');) hosts.push_back(host);
  beat->socket_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (beat->socket_ < 0 || port <= 0) return beat;
  beat->job_ = job;
  beat->thread_ = std::thread([b = beat.get(), hosts, port, rank, interval] { b->send_loop(hosts, port, rank, interval); });
  return beat;
}

Heartbeat::~Heartbeat() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (socket_ >= 0) ::close(socket_);
}

void Heartbeat::receive_loop() {
  while (!stopping_) {
    pollfd ready{socket_, POLLIN, 0};
    if (::poll(&ready, 1, 200) <= 0) continue;
    Packet packet{};
    if (::recv(socket_, &packet, sizeof packet, 0) != static_cast<ssize_t>(sizeof packet)) continue;
    if (packet.magic != kMagic || packet.job != job_ || packet.rank <= 0 || packet.rank >= ranks_) continue;
    last_heard_[packet.rank] = milliseconds_since(start_);
  }
}

void Heartbeat::send_loop(std::vector<std::string> hosts, int port, int rank, std::chrono::milliseconds interval) {
  std::vector<sockaddr_in> targets;
  for (const auto& host : hosts) {
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &target.sin_addr) == 1) targets.push_back(target);
  }
  const Packet packet{kMagic, rank, job_};
  while (!stopping_) {
    for (const auto& target : targets)
      ::sendto(socket_, &packet, sizeof packet, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&target), sizeof target);
    for (auto waited = std::chrono::milliseconds(0); waited < interval && !stopping_; waited += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string Heartbeat::silent_ranks(std::chrono::milliseconds silence) const {
  if (!last_heard_) return "";
  const std::int64_t now = milliseconds_since(start_);
  std::string never, silent;
  for (int r = 1; r < ranks_; ++r) {
    const std::int64_t heard = last_heard_[r];
    if (heard < 0) never += (never.empty() ? "" : ", ") + std::to_string(r);
    else if (now - heard > silence.count())
      silent += (silent.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) + " silent for " +
                std::to_string((now - heard) / 1000) + " s";
  }
  std::string text;
  if (!silent.empty()) text = "no heartbeat from " + silent + " (unreachable or dead)";
  if (!never.empty())
    text += (text.empty() ? "" : "; ") + std::string("never a heartbeat from rank(s) ") + never + " (UDP blocked, or never started)";
  return text;
}

}  // namespace trainer::comm
