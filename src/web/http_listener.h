// The HTTP(S) server underneath the dashboard: libmicrohttpd (event-driven, epoll, a few threads
// of its own), behind the request and response of http.h. It bounds what a client can make it
// hold: connections in all and per client address, request header bytes and fields, the body
// whatever its transfer encoding, and idle time; docs/decisions/0005-web-server-library.md says
// why this library. Slow handlers run on a WorkQueue while their connection waits suspended.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "base/result.h"
#include "web/http.h"
#include "web/work_queue.h"

namespace dmarc::web::http {

using Handler = std::function<void(const Request&, Response&)>;

// How to answer a request once its headers are in: `handler` on the listener's own threads
// (cheap work only), or on `queue` when set; when the queue is full, `busy` answers instead.
struct Route {
  Handler handler;
  WorkQueue* queue = nullptr;
  Handler busy;
};

struct ListenerOptions {
  std::string host;                       // an address or a name; empty: every address
  int port = 0;                           // 0: a free one
  std::string tls_cert_pem, tls_key_pem;  // both set: HTTPS only
  unsigned threads = 2;
  unsigned max_connections = 256;
  unsigned max_connections_per_client = 32;
  unsigned idle_timeout = 15;  // seconds
  std::size_t max_header_bytes = 32 * 1024;
  unsigned max_headers = 100;
  std::size_t max_body_bytes = 64 * 1024;
  std::function<Route(const Request&)> router;
  // Called on every answer before it is sent, the listener's own refusals included (the
  // headers every answer carries).
  Handler finish;
};

class Listener {
 public:
  virtual ~Listener() = default;
  virtual int port() const = 0;
  // Stops accepting and closes every connection. Jobs on queues must have finished first.
  virtual void Stop() = 0;
};

// Binds and serves at once; errors name the address or the TLS certificate.
Result<std::unique_ptr<Listener>> Listen(ListenerOptions options);

}  // namespace dmarc::web::http
