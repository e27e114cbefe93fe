#include "web/server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <httplib.h>
#include <sodium.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

#include "metrics/metrics.h"
#include "store/dashboard.h"
#include "store/store.h"
#include "web/api.h"
#include "web/assets.h"

namespace dmarc::web {

namespace {

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";
constexpr auto kSessionLifetime = std::chrono::hours(12);
constexpr std::size_t kMaxSessions = 10'000;
// Sign-in attempts: at most 5 failures per client address in 15 minutes; at most 10,000
// addresses remembered.
constexpr std::size_t kMaxFailedSignIns = 5;
constexpr auto kSignInWindow = std::chrono::minutes(15);
constexpr std::size_t kMaxTrackedAddresses = 10'000;
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

Result<std::string> ReadFirstLine(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return MakeError(fmt::format("{} {}: cannot read", what, path));
  std::string line;
  std::getline(in, line);
  while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
  return line;
}

// Users (name → Argon2id hash string), a bearer token and the signed-in sessions.
class Auth {
 public:
  Result<bool> Load(const ServeOptions& o) {
    if (!o.token_file.empty()) {
      auto t = ReadFirstLine(o.token_file, "--token-file");
      if (!t) return MakeError(t.error());
      if (t->size() < 16) {
        return MakeError(
            fmt::format("--token-file {}: the token needs at least 16 characters", o.token_file));
      }
      token_ = *t;
    }
    if (!o.users_file.empty()) {
      std::ifstream in(o.users_file);
      if (!in) return MakeError(fmt::format("--users {}: cannot read", o.users_file));
      std::string line;
      int n = 0;
      while (std::getline(in, line)) {
        ++n;
        if (line.empty() || line[0] == '#') continue;
        const auto colon = line.find(':');
        if (colon == 0 || colon == std::string::npos ||
            line.compare(colon + 1, 7, "$argon2") != 0) {
          return MakeError(fmt::format(
              "--users {} line {}: expected NAME:HASH (from dmarc-report hash-password)",
              o.users_file, n));
        }
        users_[line.substr(0, colon)] = line.substr(colon + 1);
      }
      if (users_.empty()) return MakeError(fmt::format("--users {}: no users", o.users_file));
    }
    return true;
  }

  bool enabled() const { return !token_.empty() || !users_.empty(); }

  bool TokenMatches(const std::string& candidate) const {
    return !token_.empty() && candidate.size() == token_.size() &&
           sodium_memcmp(candidate.data(), token_.data(), token_.size()) == 0;
  }

  bool PasswordMatches(const std::string& user, const std::string& password) const {
    auto it = users_.find(user);
    if (it == users_.end()) return false;
    return crypto_pwhash_str_verify(it->second.c_str(), password.data(), password.size()) == 0;
  }

  std::string NewSession() {
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    std::lock_guard lock(mu_);
    Expire();
    if (sessions_.size() >= kMaxSessions) sessions_.erase(sessions_.begin());
    sessions_[hex] = std::chrono::steady_clock::now() + kSessionLifetime;
    return hex;
  }

  bool SessionValid(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(id);
    return it != sessions_.end() && it->second > std::chrono::steady_clock::now();
  }

  void EndSession(const std::string& id) {
    std::lock_guard lock(mu_);
    sessions_.erase(id);
  }

  // Failed sign-ins per client address: after kMaxFailedSignIns within kSignInWindow, the address
  // may not try again until the oldest of them is that old. Returns the seconds to wait (0: may
  // try now).
  long SignInWait(const std::string& address) {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    auto it = failures_.find(address);
    if (it == failures_.end()) return 0;
    std::erase_if(it->second, [&](auto t) { return t + kSignInWindow <= now; });
    if (it->second.size() < kMaxFailedSignIns) return 0;
    const auto wait = it->second.front() + kSignInWindow - now;
    return std::chrono::duration_cast<std::chrono::seconds>(wait).count() + 1;
  }
  void SignInFailed(const std::string& address) {
    std::lock_guard lock(mu_);
    if (failures_.size() >= kMaxTrackedAddresses && !failures_.contains(address)) {
      // Many addresses at once: forget those whose failures are all old first, then any.
      const auto now = std::chrono::steady_clock::now();
      std::erase_if(failures_, [&](const auto& kv) {
        return kv.second.empty() || kv.second.back() + kSignInWindow <= now;
      });
      if (failures_.size() >= kMaxTrackedAddresses) failures_.erase(failures_.begin());
    }
    auto& times = failures_[address];
    times.push_back(std::chrono::steady_clock::now());
    if (times.size() > kMaxFailedSignIns) times.erase(times.begin());
  }
  void SignedIn(const std::string& address) {
    std::lock_guard lock(mu_);
    failures_.erase(address);
  }

 private:
  void Expire() {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(sessions_, [&](const auto& kv) { return kv.second <= now; });
  }

  std::string token_;
  std::map<std::string, std::string> users_;
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> sessions_;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> failures_;
};

std::string SessionCookie(const httplib::Request& req) {
  const std::string cookies = req.get_header_value("Cookie");
  std::size_t pos = 0;
  while (pos < cookies.size()) {
    auto end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string item = cookies.substr(pos, end - pos);
    const auto first = item.find_first_not_of(' ');
    if (first != std::string::npos) item = item.substr(first);
    if (item.starts_with("session=")) return item.substr(8);
    pos = end + 1;
  }
  return "";
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
      : pool_(std::move(pool)), tls_(!options.tls_cert.empty()) {}

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
  void Routes() {
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
      if (!guarded || req.path == "/api/login" || req.path == "/api/session" || Authorized(req)) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      Json(res, 401, {{"error", "sign in first"}});
      return httplib::Server::HandlerResponse::Handled;
    });
    http_->set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          Json(res, 500, {{"error", "internal error"}});
        });
    http_->Get("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
      Json(res, 200, {{"auth_required", auth_.enabled()}, {"signed_in", Authorized(req)}});
    });
    http_->Post("/api/login",
                [this](const httplib::Request& req, httplib::Response& res) { Login(req, res); });
    http_->Post("/api/logout", [this](const httplib::Request& req, httplib::Response& res) {
      if (!SameOrigin(req)) return Json(res, 403, {{"error", "cross-origin request"}});
      auth_.EndSession(SessionCookie(req));
      res.set_header("Set-Cookie", Cookie("", 0));
      Json(res, 200, {{"signed_in", false}});
    });
    http_->Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(metrics::RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
    });
    http_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      Result<bool> ok = true;
      {
        Connection* c = pool_->Take();
        ok = c->store->Ping();
        pool_->Give(c);
      }
      res.status = ok ? 200 : 503;
      res.set_header("Cache-Control", "no-store");
      // No details: /healthz answers without authentication.
      res.set_content(ok ? "ok\n" : "unavailable\n", "text/plain");
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
      res.set_content(a.body, a.content_type.c_str());
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
      res.set_content(std::string(asset->data), std::string(asset->content_type).c_str());
    });
  }

  static void Json(httplib::Response& res, int status, const nlohmann::json& j) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(DumpJson(j), "application/json");
  }

  bool Authorized(const httplib::Request& req) {
    if (!auth_.enabled()) return true;
    const std::string header = req.get_header_value("Authorization");
    if (header.starts_with("Bearer ") && auth_.TokenMatches(header.substr(7))) return true;
    const std::string session = SessionCookie(req);
    return !session.empty() && auth_.SessionValid(session);
  }

  // Requests that change state must come from our own pages (SameSite=Strict covers the
  // cookie; this covers signing in from a hostile page).
  static bool SameOrigin(const httplib::Request& req) {
    const std::string origin = req.get_header_value("Origin");
    if (origin.empty()) return true;
    const std::string host = req.get_header_value("Host");
    return origin == "http://" + host || origin == "https://" + host;
  }

  std::string Cookie(const std::string& value, long max_age) const {
    return fmt::format("session={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", value,
                       max_age, tls_ ? "; Secure" : "");
  }

  void Login(const httplib::Request& req, httplib::Response& res) {
    if (!SameOrigin(req)) return Json(res, 403, {{"error", "cross-origin request"}});
    if (!auth_.enabled()) return Json(res, 200, {{"signed_in", true}});
    // Guessing is slowed per client address (behind a reverse proxy: for everyone at once).
    if (const long wait = auth_.SignInWait(req.remote_addr); wait > 0) {
      res.set_header("Retry-After", std::to_string(wait));
      return Json(res, 429,
                  {{"error", fmt::format("too many failed sign-ins from this address; try again "
                                         "in {} s",
                                         wait)}});
    }
    const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    auto text = [&](const char* key) {
      return body.is_object() && body.contains(key) && body[key].is_string()
                 ? body[key].get<std::string>()
                 : std::string();
    };
    const bool ok =
        auth_.TokenMatches(text("token")) ||
        (!text("user").empty() && auth_.PasswordMatches(text("user"), text("password")));
    if (!ok) {
      auth_.SignInFailed(req.remote_addr);
      return Json(res, 401, {{"error", "wrong name, password or token"}});
    }
    auth_.SignedIn(req.remote_addr);
    const long max_age = std::chrono::duration_cast<std::chrono::seconds>(kSessionLifetime).count();
    res.set_header("Set-Cookie", Cookie(auth_.NewSession(), max_age));
    Json(res, 200, {{"signed_in", true}});
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

int RunServe(const ServeOptions& options) {
  auto server = StartServer(options);
  if (!server) {
    fmt::print(stderr, "{}\n", server.error());
    return 2;
  }
  auto* http = static_cast<HttpServer*>(server->get());
  fmt::print(stderr, "dmarc-report: serving {} on {}/\n", options.db, http->Url());
  std::fflush(stderr);
  return (*server)->Run() ? 0 : 2;
}

Result<std::string> HashPassword(const std::string& password) {
  if (sodium_init() < 0) return MakeError("libsodium failed to initialise");
  if (password.empty()) return MakeError("empty password");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return MakeError("out of memory while hashing");
  }
  return std::string(out);
}

}  // namespace dmarc::web
