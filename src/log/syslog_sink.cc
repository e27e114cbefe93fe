#include "log/syslog_sink.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "log/log.h"

namespace dmarc::log {

namespace {

constexpr std::size_t kMaxUdpMessage = 8 * 1024;  // a datagram every receiver takes whole
constexpr std::size_t kMaxTcpMessage = 64 * 1024;
constexpr int kConnectTimeoutMs = 2000;

// Connects fd to addr within kConnectTimeoutMs.
bool ConnectWithTimeout(int fd, const addrinfo& a) {
  const int flags = fcntl(fd, F_GETFL, 0);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, a.ai_addr, a.ai_addrlen);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = -1;
    if (poll(&p, 1, kConnectTimeoutMs) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) rc = 0;
    }
  }
  fcntl(fd, F_SETFL, flags);
  return rc == 0;
}

}  // namespace

RemoteSyslogSink::RemoteSyslogSink(SyslogTransport transport, std::string host, int port,
                                   int facility, std::string app_name)
    : transport_(transport),
      host_(std::move(host)),
      port_(port),
      facility_(facility),
      app_name_(std::move(app_name)) {
  char name[256] = {'-'};
  if (gethostname(name, sizeof name - 1) != 0 || !name[0]) name[0] = '-';
  for (char* c = name; *c; ++c) {
    if (*c <= ' ' || *c > '~') *c = '_';  // PRINTUSASCII only
  }
  hostname_ = std::string(name, strnlen(name, sizeof name));
}

RemoteSyslogSink::~RemoteSyslogSink() { Close(); }

void RemoteSyslogSink::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RemoteSyslogSink::Connect() {
  const auto now = std::chrono::steady_clock::now();
  if (now < retry_at_) return false;
  const bool tcp = transport_ == SyslogTransport::kTcp;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* list = nullptr;
  if (getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &list) == 0) {
    for (addrinfo* a = list; a && fd_ < 0; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      if (ConnectWithTimeout(fd, *a)) {
        timeval tv{2, 0};  // a stalled server must not stall the program for long
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        fd_ = fd;
      } else {
        ::close(fd);
      }
    }
    freeaddrinfo(list);
  }
  if (fd_ >= 0) {
    pause_ = std::chrono::seconds(0);
    return true;
  }
  pause_ =
      std::min(std::chrono::seconds(60), pause_.count() ? pause_ * 2 : std::chrono::seconds(1));
  retry_at_ = now + pause_;
  return false;
}

std::string RemoteSyslogSink::Format(const spdlog::details::log_msg& msg) const {
  const auto t = msg.time.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char stamp[40];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  // <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
  std::string out =
      fmt::format("<{}>1 {}.{:06}Z {} {} {} - - ", facility_ * 8 + Severity(msg.level), stamp,
                  micros, hostname_, app_name_, ::getpid());
  out.append(msg.payload.data(), msg.payload.size());
  return out;
}

void RemoteSyslogSink::sink_it_(const spdlog::details::log_msg& msg) {
  if (fd_ < 0 && !Connect()) {
    ++dropped_;
    return;
  }
  std::string line = Format(msg);
  if (transport_ == SyslogTransport::kUdp) {
    if (line.size() > kMaxUdpMessage) line.resize(kMaxUdpMessage);
    // A refused datagram (no server yet) is lost; the socket stays usable.
    if (::send(fd_, line.data(), line.size(), MSG_NOSIGNAL) < 0) ++dropped_;
    return;
  }
  if (line.size() > kMaxTcpMessage) line.resize(kMaxTcpMessage);
  std::string frame = fmt::format("{} ", line.size());
  frame += line;
  line.swap(frame);
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Half a frame would desynchronise the stream: drop the connection, reconnect later.
      Close();
      ++dropped_;
      return;
    }
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace dmarc::log
