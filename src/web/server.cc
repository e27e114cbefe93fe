#include "web/server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <httplib.h>
#include <sodium.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <vector>

#include "metrics/metrics.h"
#include "store/dashboard.h"
#include "store/store.h"
#include "web/api.h"
#include "web/assets.h"
#include "web/auth.h"

namespace dmarc::web {

namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";
constexpr std::size_t kMaxBodyBytes = 64 * 1024;

struct HostPort {
  std::string host;
  int port = 0;
};

Result<HostPort> ParseListen(const std::string& s) {
  HostPort hp;
  std::string port;
  if (s.starts_with("[")) {
    const auto close = s.find(']');
    if (close == std::string::npos || s.size() < close + 2 || s[close + 1] != ':') {
      return MakeError(fmt::format("--listen: \"{}\" is not [IPv6]:PORT", s));
    }
    hp.host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos)
      return MakeError(fmt::format("--listen: \"{}\" has no port", s));
    hp.host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  try {
    std::size_t used = 0;
    hp.port = std::stoi(port, &used);
    if (used != port.size() || hp.port < 0 || hp.port > 65535) throw std::out_of_range("port");
  } catch (const std::exception&) {
    return MakeError(fmt::format("--listen: \"{}\" is not a port number", port));
  }
  return hp;
}

bool IsLoopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// A few store connections, each used by one request at a time: a slow query does not hold up
// the others.
struct Connection {
  std::unique_ptr<store::ReportStore> store;
  std::unique_ptr<store::DashboardQueries> queries;
  std::unique_ptr<Api> api;
};
constexpr int kConnections = 4;

class ConnectionPool {
 public:
  void Add(std::unique_ptr<Connection> c) {
    free_.push_back(c.get());
    all_.push_back(std::move(c));
  }
  Connection* Take() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !free_.empty(); });
    Connection* c = free_.back();
    free_.pop_back();
    return c;
  }
  void Give(Connection* c) {
    {
      std::lock_guard lock(mu_);
      free_.push_back(c);
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> all_;
  std::vector<Connection*> free_;
};

class HttpServer final : public Server {
 public:
  HttpServer(std::unique_ptr<ConnectionPool> pool, const ServeOptions& options)
      : pool_(std::move(pool)), tls_(!options.tls_cert.empty()), auth_(tls_) {}

  Result<bool> Setup(const ServeOptions& options) {
    if (auto r = auth_.Load(options); !r) return r;
    auto hp = ParseListen(options.listen);
    if (!hp) return MakeError(hp.error());
    if (!IsLoopback(hp->host) && !auth_.enabled()) {
      return MakeError(
          fmt::format("--listen {}: refusing to serve report data beyond this machine without "
                      "authentication; add --token-file or --users (or listen on 127.0.0.1)",
                      options.listen));
    }
    if (options.tls_cert.empty() != options.tls_key.empty()) {
      return MakeError("--tls-cert and --tls-key go together");
    }
    if (tls_) {
      auto ssl =
          std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
      if (!ssl->is_valid()) {
        return MakeError(fmt::format("cannot use TLS certificate {} and key {}", options.tls_cert,
                                     options.tls_key));
      }
      http_ = std::move(ssl);
    } else {
      http_ = std::make_unique<httplib::Server>();
    }
    Policies();
    Routes();
    if (hp->port == 0) {
      port_ = http_->bind_to_any_port(hp->host);
      if (port_ <= 0) return MakeError(fmt::format("cannot listen on {}", options.listen));
    } else {
      if (!http_->bind_to_port(hp->host, hp->port)) {
        return MakeError(fmt::format("cannot listen on {}", options.listen));
      }
      port_ = hp->port;
    }
    host_ = hp->host;
    return true;
  }

  int port() const override { return port_; }
  bool Run() override { return http_->listen_after_bind(); }
  void Stop() override { http_->stop(); }
  std::string Url() const override {
    const bool v6 = host_.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}", tls_ ? "https" : "http", v6 ? "[" : "", host_,
                       v6 ? "]" : "", port_);
  }

 private:
  // What holds for every request: limits, security headers, the authentication guard.
  void Policies() {
    http_->set_payload_max_length(kMaxBodyBytes);
    http_->set_tcp_nodelay(true);  // small answers go out at once, not after a delayed ACK
    http_->set_read_timeout(std::chrono::seconds(30));
    http_->set_default_headers({
        {"Content-Security-Policy", kCsp},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"Cross-Origin-Opener-Policy", "same-origin"},
        {"Cross-Origin-Resource-Policy", "same-origin"},
        {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
    });
    http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      // cpp-httplib compresses answers on the fly and prefers Brotli at its slowest setting
      // (seconds for the 600 KB script); gzip is fast enough. The request object is the server's
      // own, non-const one: changing its header here is safe.
      auto& headers = const_cast<httplib::Request&>(req).headers;
      if (auto it = headers.find("Accept-Encoding"); it != headers.end()) {
        const bool gzip = it->second.find("gzip") != std::string::npos;
        headers.erase("Accept-Encoding");
        if (gzip) headers.emplace("Accept-Encoding", "gzip");
      }
      // The dashboard's data and the metrics need authentication when it is configured (a
      // Prometheus scraper sends the bearer token); /healthz tells nothing and stays open.
      const bool guarded = req.path.starts_with("/api/") || req.path == "/metrics";
      if (!guarded || req.path == "/api/login" || req.path == "/api/session" ||
          auth_.Authorized(req)) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      SendJson(res, 401, {{"error", "sign in first"}});
      return httplib::Server::HandlerResponse::Handled;
    });
    http_->set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
          SendJson(res, 500, {{"error", "internal error"}});
        });
  }

  void Routes() {
    http_->Get("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
      SendJson(res, 200,
               {{"auth_required", auth_.enabled()}, {"signed_in", auth_.Authorized(req)}});
    });
    http_->Post("/api/login", [this](const httplib::Request& req, httplib::Response& res) {
      auth_.Login(req, res);
    });
    http_->Post("/api/logout", [this](const httplib::Request& req, httplib::Response& res) {
      auth_.Logout(req, res);
    });
    http_->Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(metrics::RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
    });
    http_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      Result<bool> ok = true;
      {
        Connection* c = pool_->Take();
        ok = c->store->Health();  // fast: the integrity check runs in the background
        pool_->Give(c);
      }
      res.status = ok ? 200 : 503;
      res.set_header("Cache-Control", "no-store");
      // /healthz answers without authentication: Health's reasons hold no SQL and no path.
      res.set_content(ok ? "ok\n" : "unavailable: " + ok.error() + "\n", "text/plain");
    });
    http_->Get(R"(/api/.*)", [this](const httplib::Request& req, httplib::Response& res) {
      Params params(req.params.begin(), req.params.end());
      ApiAnswer a;
      {
        Connection* c = pool_->Take();
        a = c->api->Get(req.path, params);
        pool_->Give(c);
      }
      res.status = a.status;
      res.set_header("Cache-Control", "no-store");
      if (!a.download_name.empty()) {
        res.set_header("Content-Disposition",
                       fmt::format("attachment; filename=\"{}\"", a.download_name));
      }
      res.set_content(a.body, a.content_type);
    });
    http_->Get(R"(/.*)", [](const httplib::Request& req, httplib::Response& res) {
      const Asset* asset = FindAsset(req.path);
      // Every page is index.html: the front end routes on the fragment.
      if (!asset && !req.path.starts_with("/api/")) asset = FindAsset("/index.html");
      if (!asset) {
        res.status = 404;
        return;
      }
      res.set_header("Cache-Control", "no-cache");
      res.set_content(std::string(asset->data), std::string(asset->content_type));
    });
  }

  std::unique_ptr<ConnectionPool> pool_;
  bool tls_;
  Auth auth_;
  std::unique_ptr<httplib::Server> http_;
  std::string host_;
  int port_ = 0;
};

}  // namespace

Result<std::unique_ptr<Server>> StartServer(const ServeOptions& options) {
  if (sodium_init() < 0) return MakeError("libsodium failed to initialise");
  auto pool = std::make_unique<ConnectionPool>();
  for (int i = 0; i < kConnections; ++i) {
    auto c = std::make_unique<Connection>();
    auto st = store::OpenStore(options.db, store::OpenOptions{});  // the first one migrates
    if (!st) return MakeError(st.error());
    auto q = store::OpenDashboard(options.db);
    if (!q) return MakeError(q.error());
    c->store = std::move(st).value();
    c->queries = std::move(q).value();
    c->api =
        std::make_unique<Api>(*c->store, *c->queries, ApiOptions{options.show_failure_samples});
    pool->Add(std::move(c));
  }
  auto server = std::make_unique<HttpServer>(std::move(pool), options);
  if (auto r = server->Setup(options); !r) return MakeError(r.error());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace dmarc::web
