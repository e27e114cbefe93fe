// The listener: accepts connections within the limits, one thread per session.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "smtp/internal.h"

namespace dmarc::smtp {

namespace {

using internal::Clock;

// "HOST:PORT" or "[V6]:PORT" → a bound, listening socket.
Result<int> Listen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos)
    return MakeError(fmt::format("listen: \"{}\": not HOST:PORT", listen));
  std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int e =
          ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found)) {
    return MakeError(fmt::format("listen: \"{}\": {}", listen, gai_strerror(e)));
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok =
      fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, 128) == 0;
  const std::string why = std::strerror(errno);
  ::freeaddrinfo(found);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    return MakeError(fmt::format("listen: cannot listen on {}: {}", listen, why));
  }
  return fd;
}

std::string PeerAddress(const sockaddr_storage& a) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, text, sizeof text);
  } else if (a.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, text, sizeof text);
  }
  return text;
}

Result<SSL_CTX*> MakeTlsContext(const Options& o) {
  if (o.tls_cert.empty() && o.tls_key.empty()) return static_cast<SSL_CTX*>(nullptr);
  if (o.tls_cert.empty() || o.tls_key.empty()) return MakeError("tls_cert and tls_key go together");
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return MakeError("TLS: cannot make a context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, o.tls_cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, o.tls_key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    char why[256];
    ERR_error_string_n(ERR_get_error(), why, sizeof why);
    SSL_CTX_free(ctx);
    return MakeError(fmt::format("tls_cert {} / tls_key {}: {}", o.tls_cert, o.tls_key, why));
  }
  return ctx;
}

std::string HostName(const Options& o) {
  if (!o.hostname.empty()) return o.hostname;
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

class Listener : public Server {
 public:
  Listener(const Options& o, int fd, SSL_CTX* tls, std::function<void(Event)> notify)
      : options_(o),
        fd_(fd),
        tls_(tls),
        notify_(std::move(notify)),
        context_{options_, HostName(o), tls_, stop_, accepted_, refused_, notify_} {
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~Listener() override {
    Stop();
    if (tls_) SSL_CTX_free(tls_);
  }

  void Stop() override {
    if (stop_.exchange(true)) return;
    acceptor_.join();
    ::close(fd_);
    // Sessions waiting for a command notice the stop within a quarter of a second and say 421;
    // the others (a client that does not read) are cut off after a second.
    std::unique_lock lock(mutex_);
    ended_.wait_for(lock, std::chrono::seconds(1), [this] { return session_fds_.empty(); });
    for (int fd : session_fds_) ::shutdown(fd, SHUT_RDWR);
    ended_.wait(lock, [this] { return session_fds_.empty(); });
  }

  std::string Address() const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    const int port = a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6&>(a).sin6_port)
                                             : ntohs(reinterpret_cast<sockaddr_in&>(a).sin_port);
    return fmt::format("{}:{}", PeerAddress(a), port);
  }

  Counts Totals() const override { return {accepted_.load(), refused_.load()}; }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      const int client = ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (client >= 0) Admit(client, PeerAddress(peer));
    }
  }

  // Starts a session, or turns the client away with 421 when a limit is reached.
  void Admit(int fd, const std::string& ip) {
    const timeval t{static_cast<time_t>(options_.command_timeout), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
    std::lock_guard lock(mutex_);
    const char* full = nullptr;
    if (static_cast<int>(session_fds_.size()) >= options_.max_connections) full = "in all";
    if (per_client_[ip] >= options_.max_connections_per_client) full = "from your address";
    if (full) {
      context_.Count(Event::kRefused);
      const std::string busy = fmt::format(
          "421 4.7.0 {} too many connections {}, try again later\r\n", context_.hostname, full);
      (void)!::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      if (per_client_[ip] == 0) per_client_.erase(ip);
      return;
    }
    session_fds_.insert(fd);
    ++per_client_[ip];
    std::thread([this, fd, ip] { Serve(fd, ip); }).detach();
  }

  // The session's end is told (under the lock, before the descriptor closes: Stop shuts down
  // the descriptors listed) as the last use of `this`: Stop may return and destroy it right after.
  void Serve(int fd, const std::string& ip) {
    internal::Connection connection(fd, stop_);
    internal::RunSession(context_, connection, ip);
    std::lock_guard lock(mutex_);
    session_fds_.erase(fd);
    if (--per_client_[ip] == 0) per_client_.erase(ip);
    ended_.notify_all();
  }

  const Options options_;
  const int fd_;
  SSL_CTX* const tls_;
  const std::function<void(Event)> notify_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0}, refused_{0};
  const internal::SessionContext context_;
  std::mutex mutex_;
  std::condition_variable ended_;
  std::set<int> session_fds_;
  std::map<std::string, int> per_client_;
  std::thread acceptor_;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(const Options& options,
                                              std::function<void(Event)> notify) {
  if (options.accept.empty())
    return MakeError("accept: no recipient is accepted: list the report addresses or domains");
  for (const auto& entry : options.accept) DMARC_TRY(CheckAcceptEntry(entry));
  if (options.spool.empty()) return MakeError("spool: no folder");
  // A client gone before TLS's close_notify or a reply must give an error, not end the process.
  std::signal(SIGPIPE, SIG_IGN);
  DMARC_TRY(internal::PrepareSpool(options.spool));
  SSL_CTX* tls = nullptr;
  DMARC_TRY_ASSIGN(tls, MakeTlsContext(options));
  auto fd = Listen(options.listen);
  if (!fd) {
    if (tls) SSL_CTX_free(tls);
    return MakeError(fd.error());
  }
  return std::unique_ptr<Server>(new Listener(options, *fd, tls, std::move(notify)));
}

}  // namespace dmarc::smtp
