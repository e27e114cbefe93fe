#include "outputs/syslog_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace dmarc::outputs {
namespace {

std::string Where(const SyslogEndpoint& e) {
  return "syslog " + e.host + ":" + std::to_string(e.port);
}

Error IoError(const SyslogEndpoint& e, const std::string& what, int err) {
  return MakeError(ErrorKind::kIo, Where(e) + ": " + what + ": " + std::strerror(err));
}

// Connects one address within the timeout; the socket is blocking afterwards, with the timeout
// on every send and receive.
int ConnectAddress(const addrinfo* a, int timeout_ms, int& err) {
  const int fd =
      ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      err = errno;
      ::close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    socklen_t len = sizeof err;
    if (::poll(&p, 1, timeout_ms) != 1) {
      err = ETIMEDOUT;
    } else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
      err = errno;
    }
    if (err != 0) {
      ::close(fd);
      return -1;
    }
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

Result<int> Connect(const SyslogEndpoint& e) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = e.transport == SyslogTransport::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(e.port);
  if (const int rc = ::getaddrinfo(e.host.c_str(), port.c_str(), &hints, &list); rc != 0) {
    return MakeError(ErrorKind::kIo, Where(e) + ": cannot resolve: " + ::gai_strerror(rc));
  }
  int err = ECONNREFUSED;
  int fd = -1;
  for (const addrinfo* a = list; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ConnectAddress(a, e.timeout_ms, err);
  }
  ::freeaddrinfo(list);
  if (fd < 0) return IoError(e, "cannot connect", err);
  return fd;
}

std::string Framed(const std::vector<std::string>& messages) {
  std::size_t n = 0;
  for (const auto& m : messages) n += m.size() + 12;
  std::string out;
  out.reserve(n);
  for (const auto& m : messages) {
    out += std::to_string(m.size());
    out += ' ';
    out += m;
  }
  return out;
}

class SocketConnection : public SyslogConnection {
 public:
  SocketConnection(SyslogEndpoint e, int fd) : e_(std::move(e)), fd_(fd) {}
  ~SocketConnection() override { ::close(fd_); }
  SocketConnection(const SocketConnection&) = delete;
  SocketConnection& operator=(const SocketConnection&) = delete;

  Status Send(const std::vector<std::string>& messages) override {
    if (e_.transport == SyslogTransport::kUdp) {
      for (const auto& m : messages) {
        if (::send(fd_, m.data(), m.size(), MSG_NOSIGNAL) < 0)
          return IoError(e_, "cannot send", errno);
      }
      return Ok();
    }
    const std::string data = Framed(messages);
    std::string_view rest = data;
    while (!rest.empty()) {
      const ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return IoError(e_, "cannot send", n < 0 ? errno : EPIPE);
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    return Ok();
  }

  bool Alive() override {
    if (e_.transport == SyslogTransport::kUdp) return true;
    // A syslog receiver never sends: anything readable is its end of the connection.
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

 protected:
  SyslogEndpoint e_;
  int fd_;
};

std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    out += out.empty() ? "" : "; ";
    out += buf;
  }
  return out.empty() ? "handshake failed" : out;
}

class TlsConnection : public SocketConnection {
 public:
  TlsConnection(SyslogEndpoint e, int fd) : SocketConnection(std::move(e), fd) {}
  ~TlsConnection() override {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  }
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  Status Handshake();
  Status Send(const std::vector<std::string>& messages) override {
    const std::string data = Framed(messages);
    std::size_t done = 0;
    while (done < data.size()) {
      const int n = SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done));
      if (n <= 0) {
        return MakeError(ErrorKind::kIo, Where(e_) + ": cannot send: " + OpenSslErrors());
      }
      done += static_cast<std::size_t>(n);
    }
    return Ok();
  }

 private:
  Status Configure();
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

Status TlsConnection::Configure() {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) return MakeError(ErrorKind::kIo, Where(e_) + ": " + OpenSslErrors());
  SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx_, SSL_MODE_AUTO_RETRY);
  const bool loaded = e_.ca_file.empty()
                          ? SSL_CTX_set_default_verify_paths(ctx_) == 1
                          : SSL_CTX_load_verify_locations(ctx_, e_.ca_file.c_str(), nullptr) == 1;
  if (!loaded) {
    return MakeError(ErrorKind::kInvalid,
                     Where(e_) + ": cannot load CA certificates: " + OpenSslErrors());
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (!e_.cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx_, e_.cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx_, e_.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
    return MakeError(ErrorKind::kInvalid,
                     Where(e_) + ": cannot load the client certificate: " + OpenSslErrors());
  }
  ssl_ = SSL_new(ctx_);
  if (ssl_ == nullptr) return MakeError(ErrorKind::kIo, Where(e_) + ": " + OpenSslErrors());
  SSL_set_fd(ssl_, fd_);
  const std::string& name = e_.server_name.empty() ? e_.host : e_.server_name;
  in6_addr ip{};
  if (::inet_pton(AF_INET, name.c_str(), &ip) == 1 ||
      ::inet_pton(AF_INET6, name.c_str(), &ip) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else {
    SSL_set1_host(ssl_, name.c_str());
    SSL_set_tlsext_host_name(ssl_, name.c_str());
  }
  return Ok();
}

Status TlsConnection::Handshake() {
  ERR_clear_error();
  if (Status st = Configure(); !st) return st;
  if (SSL_connect(ssl_) == 1) return Ok();
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    return MakeError(ErrorKind::kAuth, Where(e_) + ": TLS certificate is not trusted: " +
                                           X509_verify_cert_error_string(verify));
  }
  return MakeError(ErrorKind::kIo, Where(e_) + ": TLS handshake: " + OpenSslErrors());
}

}  // namespace

Result<std::unique_ptr<SyslogConnection>> ConnectSyslog(const SyslogEndpoint& endpoint) {
  int fd = -1;
  DMARC_TRY_ASSIGN(fd, Connect(endpoint));
  if (endpoint.transport != SyslogTransport::kTls) {
    return std::unique_ptr<SyslogConnection>(std::make_unique<SocketConnection>(endpoint, fd));
  }
  auto tls = std::make_unique<TlsConnection>(endpoint, fd);
  DMARC_TRY(tls->Handshake());
  return std::unique_ptr<SyslogConnection>(std::move(tls));
}

}  // namespace dmarc::outputs
