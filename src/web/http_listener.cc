#include "web/http_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <vector>

namespace dmarc::web::http {

namespace {

// GnuTLS priorities: TLS 1.2 and 1.3 only, and no static-RSA key exchange (no forward secrecy:
// a stolen key would decrypt every recorded session).
constexpr const char* kTlsPriorities =
    "NORMAL:-RSA:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE";

// One request on its way through the callbacks of libmicrohttpd.
struct Exchange {
  enum State { kReading, kRefused, kQueued, kDone };
  Request req;
  Response res;
  std::atomic<State> state = kReading;
};

std::string ClientAddress(MHD_Connection* conn) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!info || !info->client_addr) return "";
  char text[INET6_ADDRSTRLEN] = "";
  const sockaddr* sa = info->client_addr;
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  }
  return text;
}

template <class Map>
MHD_Result AddValue(void* cls, MHD_ValueKind, const char* key, const char* value) {
  static_cast<Map*>(cls)->emplace(key ? key : "", value ? value : "");
  return MHD_YES;
}

// A listening socket for host:port; the port actually bound is in *bound.
Result<int> BindSocket(const std::string& host, int port, int* bound, bool* v6) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found) != 0) {
    return MakeError(fmt::format("cannot resolve {}", host));
  }
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    // Accepted sockets inherit it: small answers and TLS handshake records go out at once,
    // not after the client's delayed ACK (~40 ms each).
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 128) != 0) {
      close(fd);
      fd = -1;
      continue;
    }
    *v6 = a->ai_family == AF_INET6;
  }
  freeaddrinfo(found);
  if (fd < 0) return MakeError(fmt::format("cannot listen on port {} of {}", port, host));
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *bound = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return fd;
}

class MhdListener final : public Listener {
 public:
  explicit MhdListener(ListenerOptions options) : o_(std::move(options)) {}
  ~MhdListener() override { Stop(); }

  Result<bool> Start() {
    bool v6 = false;
    auto fd = BindSocket(o_.host, o_.port, &port_, &v6);
    if (!fd) return MakeError(fd.error());
    const bool tls = !o_.tls_cert_pem.empty();
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (v6) flags |= MHD_USE_IPv6;
    if (tls) flags |= MHD_USE_TLS;
    std::vector<MHD_OptionItem> opts = {
        {MHD_OPTION_LISTEN_SOCKET, *fd, nullptr},
        {MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(std::max(1u, o_.threads)), nullptr},
        {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(o_.max_connections), nullptr},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<intptr_t>(o_.max_connections_per_client),
         nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(o_.idle_timeout), nullptr},
        // The connection's memory holds the request line and headers (and the read buffer):
        // a request whose headers do not fit is refused, whatever their number or length.
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(o_.max_header_bytes), nullptr},
        {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Completed), nullptr},
    };
    if (tls) {
      opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(o_.tls_cert_pem.c_str())});
      opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(o_.tls_key_pem.c_str())});
      opts.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(kTlsPriorities)});
    }
    opts.push_back({MHD_OPTION_END, 0, nullptr});
    daemon_ = MHD_start_daemon(flags, 0, nullptr, nullptr, &Access, this, MHD_OPTION_ARRAY,
                               opts.data(), MHD_OPTION_END);
    if (!daemon_) {
      close(*fd);
      return MakeError(tls ? "the TLS certificate or key is not usable"
                           : fmt::format("cannot serve on port {}", port_));
    }
    return true;
  }

  int port() const override { return port_; }
  void Stop() override {
    if (daemon_) MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
  }

 private:
  static void Completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    delete static_cast<Exchange*>(*con_cls);
    *con_cls = nullptr;
  }

  static MHD_Result Access(void* cls, MHD_Connection* conn, const char* url, const char* method,
                           const char*, const char* upload, size_t* upload_size, void** con_cls) {
    auto* self = static_cast<MhdListener*>(cls);
    auto* ex = static_cast<Exchange*>(*con_cls);
    if (!ex) {
      ex = new Exchange();
      *con_cls = ex;
      return self->Begin(conn, url, method, *ex);
    }
    if (*upload_size > 0) {
      const std::size_t n = *upload_size;
      *upload_size = 0;
      if (ex->state != Exchange::kReading) return MHD_NO;  // refused: read no more of it
      // Over the limit in the middle of a body (chunked: no length was declared): this
      // version of libmicrohttpd cannot answer before the body is complete, so the connection
      // closes at once, with nothing more read.
      if (ex->req.body.size() + n > self->o_.max_body_bytes) return MHD_NO;
      ex->req.body.append(upload, n);
      return MHD_YES;
    }
    return self->Answer(conn, *ex);
  }

  // The headers are in: fill the request, refuse what is over a limit before any body is read.
  MHD_Result Begin(MHD_Connection* conn, const char* url, const char* method, Exchange& ex) {
    Request& req = ex.req;
    req.method = method;
    req.path = url;
    req.remote_addr = ClientAddress(conn);
    using Headers = decltype(req.headers);
    using Params = decltype(req.params);
    const int fields =
        MHD_get_connection_values(conn, MHD_HEADER_KIND, &AddValue<Headers>, &req.headers);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, &AddValue<Params>, &req.params);
    if (fields > static_cast<int>(o_.max_headers)) {
      return Refuse(conn, ex, 431,
                    fmt::format("more than {} request header fields", o_.max_headers));
    }
    const std::string length = req.get_header_value("Content-Length");
    std::uint64_t declared = 0;
    std::from_chars(length.data(), length.data() + length.size(), declared);
    if (length.size() > 18 || declared > o_.max_body_bytes) {
      return Refuse(conn, ex, 413,
                    fmt::format("the request body is larger than {} bytes", o_.max_body_bytes));
    }
    return MHD_YES;
  }

  // The whole request is in (or the job on a queue is done): answer.
  MHD_Result Answer(MHD_Connection* conn, Exchange& ex) {
    switch (ex.state.load()) {
      case Exchange::kDone:
        return Send(conn, ex);
      case Exchange::kReading:
        break;
      default:  // refused or waiting: nothing more to do
        return MHD_YES;
    }
    const Route route = o_.router(ex.req);
    if (!route.queue) {
      Run(route.handler, ex);
      return Send(conn, ex);
    }
    // The connection waits without a thread while the job runs; the job resumes it.
    ex.state = Exchange::kQueued;
    MHD_suspend_connection(conn);
    const bool queued = route.queue->TryPush([this, conn, &ex, handler = route.handler] {
      Run(handler, ex);
      ex.state = Exchange::kDone;
      MHD_resume_connection(conn);
    });
    if (!queued) {
      Run(route.busy, ex);
      ex.state = Exchange::kDone;
      MHD_resume_connection(conn);
    }
    return MHD_YES;
  }

  void Run(const Handler& handler, Exchange& ex) {
    try {
      handler(ex.req, ex.res);
    } catch (const std::exception&) {
      ex.res = Response{};
      ex.res.status = 500;
      ex.res.set_content(R"({"error":"internal error"})", "application/json");
    }
  }

  // Answers at once with an error; the connection closes after it (the rest of the request is
  // not read).
  MHD_Result Refuse(MHD_Connection* conn, Exchange& ex, int status, const std::string& message) {
    ex.res = Response{};
    ex.res.status = status;
    ex.res.set_content(fmt::format(R"({{"error":"{}"}})", message), "application/json");
    ex.res.set_header("Connection", "close");
    const MHD_Result r = Send(conn, ex);
    ex.state = Exchange::kRefused;
    return r;
  }

  MHD_Result Send(MHD_Connection* conn, Exchange& ex) {
    if (o_.finish) o_.finish(ex.req, ex.res);
    Response& res = ex.res;
    MHD_Response* r =
        MHD_create_response_from_buffer(res.body.size(), res.body.data(), MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    for (const auto& [name, value] : res.headers) {
      MHD_add_response_header(r, name.c_str(), value.c_str());
    }
    if (!res.content_type.empty()) {
      MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, res.content_type.c_str());
    }
    const MHD_Result queued = MHD_queue_response(conn, static_cast<unsigned>(res.status), r);
    MHD_destroy_response(r);
    return queued;
  }

  ListenerOptions o_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

}  // namespace

Result<std::unique_ptr<Listener>> Listen(ListenerOptions options) {
  auto listener = std::make_unique<MhdListener>(std::move(options));
  if (auto r = listener->Start(); !r) return MakeError(r.error());
  return std::unique_ptr<Listener>(std::move(listener));
}

}  // namespace dmarc::web::http
