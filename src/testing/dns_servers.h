// Test and benchmark helpers: real DNS servers on loopback, started by the test itself.
//   Dnsmasq     — dnsmasq serving PTR records from a hosts file, NXDOMAIN for other reverse names
//   DelayProxy  — a UDP proxy in front of a server that holds every answer for a fixed delay,
//                 and counts the queries in flight
//   SilentServer — a bound UDP socket that never answers
// Never a public resolver. A missing dnsmasq binary is an error (tests must fail, not skip).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace dmarc::testing {

// A UDP socket bound to 127.0.0.1 on a port the kernel picked.
inline int BindLoopbackUdp(int* port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// A port free for both UDP and TCP on 127.0.0.1 right now (dnsmasq binds both).
inline int FreeLoopbackPort() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int port = 0;
    const int u = BindLoopbackUdp(&port);
    if (u < 0) continue;
    const int t = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool ok = ::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(t);
    ::close(u);
    if (ok) return port;
  }
  return -1;
}

// A DNS query for the PTR of 127.0.0.1 (any answer means the server is up).
inline std::string ProbeQuery() {
  std::string q("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  for (const char* label : {"1", "0", "0", "127", "in-addr", "arpa"}) {
    q += static_cast<char>(std::strlen(label));
    q += label;
  }
  q += std::string("\x00\x00\x0c\x00\x01", 5);
  return q;
}

inline bool AnswersOn(int port, int timeout_ms) {
  int unused = 0;
  const int fd = BindLoopbackUdp(&unused);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  const std::string q = ProbeQuery();
  ::sendto(fd, q.data(), q.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd p{fd, POLLIN, 0};
  const bool ok = ::poll(&p, 1, timeout_ms) == 1;
  ::close(fd);
  return ok;
}

class Dnsmasq {
 public:
  // hosts: lines of a hosts file ("192.0.2.1 mail.example.com"); dnsmasq answers their PTRs and
  // NXDOMAIN for every other reverse name.
  explicit Dnsmasq(const std::vector<std::string>& hosts) {
    namespace fs = std::filesystem;
    std::string binary;
    for (const char* c : {"/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"}) {
      if (::access(c, X_OK) == 0) {
        binary = c;
        break;
      }
    }
    if (binary.empty()) {
      error_ = "dnsmasq not found (Debian package dnsmasq-base)";
      return;
    }
    dir_ = fs::temp_directory_path() / ("dmarc-dns-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    {
      std::ofstream f(dir_ / "hosts");
      for (const auto& h : hosts) f << h << "\n";
    }
    for (int attempt = 0; attempt < 5 && port_ <= 0; ++attempt) {
      const int port = FreeLoopbackPort();
      const std::vector<std::string> args = {binary,
                                             "--keep-in-foreground",
                                             "--conf-file=/dev/null",
                                             "--no-resolv",
                                             "--no-hosts",
                                             "--no-negcache",
                                             "--port=" + std::to_string(port),
                                             "--listen-address=127.0.0.1",
                                             "--bind-interfaces",
                                             "--addn-hosts=" + (dir_ / "hosts").string(),
                                             "--local=/in-addr.arpa/",
                                             "--local=/ip6.arpa/",
                                             "--pid-file=",
                                             "--log-facility=" + (dir_ / "log").string()};
      // argv is built before fork: the child of a threaded process must not allocate.
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      pid_ = ::fork();
      if (pid_ == 0) {
        ::execv(argv[0], argv.data());
        ::_exit(127);
      }
      for (int i = 0; i < 100; ++i) {
        if (AnswersOn(port, 50)) {
          port_ = port;
          break;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
      }
      if (port_ <= 0) Stop();
    }
    if (port_ <= 0) error_ = "dnsmasq did not start (see " + (dir_ / "log").string() + ")";
  }
  ~Dnsmasq() {
    Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Dnsmasq(const Dnsmasq&) = delete;
  Dnsmasq& operator=(const Dnsmasq&) = delete;

  const std::string& error() const { return error_; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  std::filesystem::path dir_;
  std::string error_;
  pid_t pid_ = -1;
  int port_ = -1;
};

// Forwards each query to the upstream server and holds its answer for `delay` before passing
// it on; any number of clients.
class DelayProxy {
 public:
  DelayProxy(int upstream_port, std::chrono::milliseconds delay) : delay_(delay) {
    client_fd_ = BindLoopbackUdp(&port_);
    int unused = 0;
    upstream_fd_ = BindLoopbackUdp(&unused);
    upstream_.sin_family = AF_INET;
    upstream_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    upstream_.sin_port = htons(static_cast<std::uint16_t>(upstream_port));
    thread_ = std::thread([this] { Loop(); });
  }
  ~DelayProxy() {
    stop_ = true;
    thread_.join();
    ::close(client_fd_);
    ::close(upstream_fd_);
  }
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::size_t queries() const { return queries_; }
  std::size_t max_in_flight() const { return max_in_flight_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Held {
    Clock::time_point due;
    std::string data;
    sockaddr_in to;
  };

  void Loop() {
    // Each query goes upstream under an id of the proxy's own, so several clients (c-ares
    // channels) that happen to pick the same id never get each other's answers.
    struct Client {
      std::uint16_t id;
      sockaddr_in addr;
    };
    std::map<std::uint16_t, Client> clients;  // proxy id → who asked, with their id
    std::uint16_t next_id = 0;
    std::deque<Held> held;  // in arrival order = due order
    std::size_t in_flight = 0;
    char buf[4096];
    auto id_of = [&] {
      return static_cast<std::uint16_t>((static_cast<unsigned char>(buf[0]) << 8) |
                                        static_cast<unsigned char>(buf[1]));
    };
    auto set_id = [&](std::uint16_t id) {
      buf[0] = static_cast<char>(id >> 8);
      buf[1] = static_cast<char>(id & 0xff);
    };
    while (!stop_) {
      int wait_ms = 20;
      const auto now = Clock::now();
      while (!held.empty() && held.front().due <= now) {
        const Held& h = held.front();
        ::sendto(client_fd_, h.data.data(), h.data.size(), 0,
                 reinterpret_cast<const sockaddr*>(&h.to), sizeof h.to);
        --in_flight;
        held.pop_front();
      }
      if (!held.empty()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(held.front().due - now).count();
        wait_ms = static_cast<int>(std::clamp<long long>(left, 0, 20));
      }
      pollfd p[2] = {{client_fd_, POLLIN, 0}, {upstream_fd_, POLLIN, 0}};
      if (::poll(p, 2, wait_ms) <= 0) continue;
      if (p[0].revents & POLLIN) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n =
            ::recvfrom(client_fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n >= 12) {
          const std::uint16_t mine = next_id++;
          clients[mine] = {id_of(), from};
          set_id(mine);
          ++queries_;
          ++in_flight;
          if (in_flight > max_in_flight_) max_in_flight_ = in_flight;
          ::sendto(upstream_fd_, buf, static_cast<std::size_t>(n), 0,
                   reinterpret_cast<const sockaddr*>(&upstream_), sizeof upstream_);
        }
      }
      if (p[1].revents & POLLIN) {
        const ssize_t n = ::recv(upstream_fd_, buf, sizeof buf, 0);
        if (n >= 12) {
          if (auto it = clients.find(id_of()); it != clients.end()) {
            set_id(it->second.id);
            held.push_back({Clock::now() + delay_, std::string(buf, static_cast<std::size_t>(n)),
                            it->second.addr});
            clients.erase(it);
          }
        }
      }
    }
  }

  std::chrono::milliseconds delay_;
  int client_fd_ = -1, upstream_fd_ = -1, port_ = 0;
  sockaddr_in upstream_{};
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> queries_{0}, max_in_flight_{0};
};

// Receives queries and never answers.
class SilentServer {
 public:
  SilentServer() { fd_ = BindLoopbackUdp(&port_); }
  ~SilentServer() { ::close(fd_); }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1, port_ = 0;
};

}  // namespace dmarc::testing
