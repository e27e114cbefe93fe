#include "web/server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "archive/archive.h"
#include "metrics/metrics.h"
#include "store/dashboard.h"
#include "store/store.h"
#include "web/api.h"
#include "web/assets.h"
#include "web/auth.h"
#include "web/http.h"
#include "web/http_listener.h"
#include "web/work_queue.h"

namespace dmarc::web {

namespace {

constexpr std::pair<const char*, const char*> kSecurityHeaders[] = {
    {"Content-Security-Policy",
     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
     "frame-ancestors 'none'"},
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
    {"Cross-Origin-Opener-Policy", "same-origin"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
    {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"},
};
// Store queries waiting for one of the kConnections threads; beyond: 503.
constexpr std::size_t kQueryQueue = 64;
// Sign-in threads yield the CPU to the server's own (Argon2id takes ~95 ms of it).
constexpr int kSignInNice = 10;

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

// The loopback names and addresses a request to a loopback dashboard may carry in its Host
// header, besides the configured ones; lower case, without the port.
bool HostAllowed(std::string host, const std::string& listen_host,
                 const std::vector<std::string>& allowed) {
  if (host.starts_with("[")) {
    host = host.substr(1, host.find(']') - 1);
  } else if (host.find(':') == host.rfind(':')) {
    host = host.substr(0, host.find(':'));  // a name or IPv4 address and a port
  }
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (host.empty() || IsLoopback(host) || host == listen_host) return true;
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& name) {
    return std::equal(name.begin(), name.end(), host.begin(), host.end(),
                      [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  });
}

// What cpp-httplib compressed: text, JSON, XML, JavaScript, SVG.
bool Compressible(const std::string& type) {
  return type.starts_with("text/") || type.starts_with("application/json") ||
         type.starts_with("application/xml") || type.starts_with("application/javascript") ||
         type.starts_with("image/svg+xml");
}

// The embedded files, gzip-compressed once (the script is ~600 KB).
class GzipAssets {
 public:
  const std::string& Of(const Asset& asset) {
    std::lock_guard lock(mu_);
    auto [it, added] = cache_.try_emplace(asset.path);
    if (added) {
      auto z = archive::Gzip(asset.data);
      if (z) it->second = std::move(z).value();
    }
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string_view, std::string> cache_;
};

void SendText(http::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(text, "text/plain");
}

Result<std::string> ReadPem(const std::string& path, const char* option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(fmt::format("{} {}: cannot read", option, path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// CheckServeOptions with the Auth that is to serve (loaded by it).
Result<bool> CheckServeOptions(const ServeOptions& o, Auth& auth) {
  if (auto r = auth.Load(o); !r) return r;
  auto hp = ParseListen(o.listen);
  if (!hp) return MakeError(hp.error());
  if (!IsLoopback(hp->host) && !auth.enabled()) {
    return MakeError(
        fmt::format("--listen {}: refusing to serve report data beyond this machine without "
                    "authentication; add --token-file or --users (or listen on 127.0.0.1)",
                    o.listen));
  }
  if (o.tls_cert.empty() != o.tls_key.empty()) {
    return MakeError("--tls-cert and --tls-key go together");
  }
  if (!o.tls_cert.empty()) {
    for (const auto& [path, option] :
         {std::pair{&o.tls_cert, "--tls-cert"}, std::pair{&o.tls_key, "--tls-key"}}) {
      if (auto pem = ReadPem(*path, option); !pem) return MakeError(pem.error());
    }
  }
  if (!o.forwarders_files.empty()) {
    if (auto f = store::Forwarders::WithFiles(o.forwarders_files); !f) {
      return MakeError("--forwarders-file " + f.error());
    }
  }
  return true;
}

// Keeps the sender indexes of GET /api/senders and /api/advise current (SenderIndexCache::Refresh)
// on a connection of its own, every kIndexRefreshSeconds, so that after new reports a request
// seldom waits for a build; the thread runs at the lowest priority.
constexpr int kIndexRefreshSeconds = 2;

class IndexRefresher {
 public:
  IndexRefresher(std::unique_ptr<store::ReportStore> store,
                 std::shared_ptr<store::SenderIndexCache> cache)
      : store_(std::move(store)), cache_(std::move(cache)), thread_([this] { Loop(); }) {}
  ~IndexRefresher() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  IndexRefresher(const IndexRefresher&) = delete;
  IndexRefresher& operator=(const IndexRefresher&) = delete;

 private:
  void Loop() {
    // On Linux the nice value is per thread; failing to lower it only costs fairness.
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(kIndexRefreshSeconds), [&] { return stop_; })) {
      lock.unlock();
      if (auto r = cache_->Refresh(*store_); !r) {
        spdlog::warn("dashboard: the sender indexes were not refreshed: {}", r.error());
      }
      lock.lock();
    }
  }

  std::unique_ptr<store::ReportStore> store_;
  std::shared_ptr<store::SenderIndexCache> cache_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is set
};

class HttpServer final : public Server {
 public:
  HttpServer(std::unique_ptr<ConnectionPool> pool, std::unique_ptr<Connection> health,
             std::unique_ptr<IndexRefresher> refresher, const ServeOptions& options)
      : pool_(std::move(pool)),
        health_(std::move(health)),
        refresher_(std::move(refresher)),
        options_(options),
        tls_(!options.tls_cert.empty()),
        auth_(tls_),
        queries_(kConnections, kQueryQueue, 0),
        sign_ins_(options.sign_in_threads, options.sign_in_queue, kSignInNice) {}
  ~HttpServer() override { Stop(); }

  Result<bool> Setup() {
    const ServeOptions& o = options_;
    if (auto r = CheckServeOptions(o, auth_); !r) return r;
    auto hp = ParseListen(o.listen);
    if (!hp) return MakeError(hp.error());
    http::ListenerOptions lo{.host = hp->host,
                             .port = hp->port,
                             .max_connections = o.max_connections,
                             .max_connections_per_client = o.max_connections_per_client,
                             .idle_timeout = o.idle_timeout,
                             .max_header_bytes = o.max_header_bytes,
                             .max_headers = o.max_headers,
                             .max_body_bytes = o.max_body_bytes};
    if (tls_) {
      auto cert = ReadPem(o.tls_cert, "--tls-cert");
      auto key = ReadPem(o.tls_key, "--tls-key");
      if (!cert || !key) return MakeError(!cert ? cert.error() : key.error());
      lo.tls_cert_pem = std::move(cert).value();
      lo.tls_key_pem = std::move(key).value();
    }
    lo.router = [this](const http::Request& req) { return Route(req); };
    lo.finish = [this](const http::Request& req, http::Response& res) { Finish(req, res); };
    auto listener = http::Listen(std::move(lo));
    if (!listener) {
      return MakeError(
          tls_ ? fmt::format("cannot use TLS certificate {} and key {}", o.tls_cert, o.tls_key)
               : fmt::format("cannot listen on {}", o.listen));
    }
    listener_ = std::move(listener).value();
    port_ = listener_->port();
    host_ = hp->host;
    return true;
  }

  int port() const override { return port_; }
  bool Run() override {
    std::unique_lock lock(mu_);
    stopped_cv_.wait(lock, [&] { return stopped_; });
    return true;
  }
  void Stop() override {
    // Queued jobs finish and resume their connections before the listener closes them.
    queries_.Stop();
    sign_ins_.Stop();
    if (listener_) listener_->Stop();
    refresher_.reset();
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    stopped_cv_.notify_all();
  }
  std::string Url() const override {
    const bool v6 = host_.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}", tls_ ? "https" : "http", v6 ? "[" : "", host_,
                       v6 ? "]" : "", port_);
  }

 private:
  // What holds for every request before routing: the Host check and the authentication guard.
  // Returns the handler of a refusal, or nothing.
  http::Handler Refusal(const http::Request& req) {
    // Without sign-in, a page of another site whose name resolves to this loopback address
    // (DNS rebinding) could read the data: only names of this server are answered.
    // /healthz tells nothing, and health checkers may use any name.
    if (!auth_.enabled() && req.path != "/healthz" &&
        !HostAllowed(req.get_header_value("Host"), host_, options_.allowed_hosts)) {
      return [](const http::Request&, http::Response& res) {
        SendText(res, 421, "unknown host name: add it with --allowed-host\n");
      };
    }
    // The dashboard's data and the metrics need authentication when it is configured (a
    // Prometheus scraper sends the bearer token); /healthz tells nothing and stays open.
    const bool guarded = req.path.starts_with("/api/") || req.path == "/metrics";
    if (!guarded || req.path == "/api/login" || req.path == "/api/session" ||
        auth_.Authorized(req)) {
      return nullptr;
    }
    // A bearer token from an address past the sign-in limit is not compared: it waits.
    if (const long wait = req.has_header("Authorization") ? auth_.RetryAfter(req.remote_addr) : 0;
        wait > 0) {
      return [wait](const http::Request&, http::Response& res) {
        res.set_header("Retry-After", std::to_string(wait));
        SendJson(res, 429, {{"error", "too many failed sign-ins; try again later"}});
      };
    }
    return [](const http::Request&, http::Response& res) {
      SendJson(res, 401, {{"error", "sign in first"}});
    };
  }

  // Cheap answers run on the listener's threads; sign-ins (Argon2id) and store queries on
  // queues of their own, so that neither holds up the others.
  http::Route Route(const http::Request& req) {
    const http::Handler busy = [](const http::Request&, http::Response& res) {
      res.set_header("Retry-After", "1");
      SendJson(res, 503, {{"error", "the server is busy; try again in a second"}});
    };
    if (auto refusal = Refusal(req)) return {refusal};
    const bool get = req.method == "GET" || req.method == "HEAD";
    const std::string& p = req.path;
    if (req.method == "POST" && p == "/api/login") {
      return {[this](const http::Request& r, http::Response& res) { auth_.Login(r, res); },
              &sign_ins_, busy};
    }
    if (req.method == "POST" && p == "/api/logout") {
      return {[this](const http::Request& r, http::Response& res) { auth_.Logout(r, res); }};
    }
    if (req.method == "POST" && p == "/api/senders/status") {
      return {[this](const http::Request& r, http::Response& res) { SenderStatus(r, res); },
              &queries_, busy};
    }
    if (!get) return {[](const http::Request&, http::Response& res) { res.status = 404; }};
    if (p == "/api/session") {
      return {[this](const http::Request& r, http::Response& res) {
        // Who checks a bearer token once (a wrong one counts as one failed sign-in); without
        // sign-in configured everyone is signed in and nobody is anyone.
        const std::optional<std::string> who = auth_.Who(r);
        SendJson(res, 200,
                 {{"auth_required", auth_.enabled()},
                  {"signed_in", !auth_.enabled() || who.has_value()},
                  {"session", auth_.HasSession(r)},
                  {"user", who ? nlohmann::json(*who) : nlohmann::json(nullptr)},
                  {"can_edit", who.has_value() && auth_.MayEdit(*who)}});
      }};
    }
    if (p == "/metrics") {
      return {[](const http::Request&, http::Response& res) {
        res.set_header("Cache-Control", "no-store");
        res.set_content(metrics::RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8");
      }};
    }
    if (p == "/healthz")
      return {[this](const http::Request&, http::Response& res) { Health(res); }};
    if (p.starts_with("/api/")) {
      return {[this](const http::Request& r, http::Response& res) { Query(r, res); }, &queries_,
              busy};
    }
    return {[](const http::Request& r, http::Response& res) { StaticFile(r, res); }};
  }

  void Health(http::Response& res) {
    Result<bool> ok = true;
    {
      // A connection of its own: /healthz never waits for the dashboard's queries.
      std::lock_guard lock(health_mu_);
      ok = health_->store->Health();  // fast: the integrity check runs in the background
    }
    res.set_header("Cache-Control", "no-store");
    // /healthz answers without authentication: Health's reasons hold no SQL and no path.
    SendText(res, ok ? 200 : 503, ok ? "ok\n" : "unavailable: " + ok.error() + "\n");
  }

  void Query(const http::Request& req, http::Response& res) {
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
  }

  // POST /api/senders/status: only from the dashboard's own pages (CSRF), and only by a signed-in
  // user or the bearer token: without sign-in configured, nobody may change a status here (the
  // CLI can). With editors configured, only they (and the token) may: docs/senders.md.
  void SenderStatus(const http::Request& req, http::Response& res) {
    if (!Auth::FromOwnPage(req)) {
      return SendJson(res, 403,
                      {{"error", "cross-origin request or no X-Requested-With: dmarc-report"}});
    }
    const std::optional<std::string> who = auth_.Who(req);
    if (!who) {
      return SendJson(res, 403,
                      {{"error",
                        "changing a status needs sign-in (--token-file or "
                        "--users-file)"}});
    }
    if (!auth_.MayEdit(*who)) {
      return SendJson(res, 403,
                      {{"error", *who + " may not change statuses: only the editors may "
                                        "([web] editors, --editor)"}});
    }
    ApiAnswer a;
    {
      Connection* c = pool_->Take();
      a = c->api->PostSenderStatus(req.body, *who);
      pool_->Give(c);
    }
    res.status = a.status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(a.body, a.content_type);
  }

  static void StaticFile(const http::Request& req, http::Response& res) {
    const Asset* asset = FindAsset(req.path);
    // Every page is index.html: the front end routes on the fragment.
    if (!asset && !req.path.starts_with("/api/")) asset = FindAsset("/index.html");
    if (!asset) {
      res.status = 404;
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(asset->data), std::string(asset->content_type));
  }

  // The headers every answer carries, and gzip where the client takes it.
  void Finish(const http::Request& req, http::Response& res) {
    for (const auto& [name, value] : kSecurityHeaders) {
      if (res.get_header_value(name).empty()) res.set_header(name, value);
    }
    if (tls_) res.set_header("Strict-Transport-Security", "max-age=31536000");
    if (req.get_header_value("Accept-Encoding").find("gzip") == std::string::npos ||
        !Compressible(res.content_type) || res.body.empty()) {
      return;
    }
    const Asset* asset = FindAsset(req.path);
    std::string z;
    if (asset && res.body == asset->data) {
      z = gzip_assets_.Of(*asset);
    } else if (auto r = archive::Gzip(res.body)) {
      z = std::move(r).value();
    }
    if (z.empty()) return;
    res.body = std::move(z);
    res.set_header("Content-Encoding", "gzip");
    res.set_header("Vary", "Accept-Encoding");
  }

  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<Connection> health_;
  std::mutex health_mu_;
  std::unique_ptr<IndexRefresher> refresher_;
  ServeOptions options_;
  bool tls_;
  Auth auth_;
  WorkQueue queries_;
  WorkQueue sign_ins_;
  GzipAssets gzip_assets_;
  std::unique_ptr<http::Listener> listener_;
  std::string host_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable stopped_cv_;
  bool stopped_ = false;
};

}  // namespace

Result<bool> CheckServeOptions(const ServeOptions& options) {
  Auth auth(!options.tls_cert.empty());
  return CheckServeOptions(options, auth);
}

namespace {

// What every connection's Api is given; an unreadable or bad forwarders file is an error.
Result<ApiOptions> ApiOptionsOf(const ServeOptions& options) {
  ApiOptions api;
  api.show_failure_samples = options.show_failure_samples;
  api.enrichment = options.enrichment;
  api.sender_indexes = std::make_shared<store::SenderIndexCache>();
  if (!options.forwarders_files.empty()) {
    auto forwarders = store::Forwarders::WithFiles(options.forwarders_files);
    if (!forwarders) return MakeError(forwarders.error());
    api.forwarders = *std::move(forwarders);
  }
  return api;
}

}  // namespace

Result<std::unique_ptr<Server>> StartServer(const ServeOptions& options) {
  if (sodium_init() < 0) return MakeError("libsodium failed to initialise");
  auto api_options = ApiOptionsOf(options);
  if (!api_options) return MakeError(api_options.error());
  auto pool = std::make_unique<ConnectionPool>();
  std::unique_ptr<Connection> health;
  store::OpenOptions open_options;
  open_options.password = options.db_password;
  const std::string& url = options.read_db.empty() ? options.db : options.read_db;
  if (url != options.db) {
    // The dashboard writes nothing: the primary is opened once, so that its schema (which the
    // standby follows) is current; when it cannot be reached, the standby still serves.
    if (auto primary = store::OpenStore(options.db, open_options); !primary) {
      spdlog::warn("{}; serving what {} has", primary.error(), url);
    }
    open_options.read_only = true;
  }
  for (int i = 0; i <= kConnections; ++i) {
    auto c = std::make_unique<Connection>();
    auto st = store::OpenStore(url, open_options);  // the first one migrates
    // A standby made just now may not have replayed the schema the primary was given: a few
    // seconds for it to follow.
    for (int wait = 0; !st && i == 0 && open_options.read_only && wait < 100; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      st = store::OpenStore(url, open_options);
    }
    if (!st) return MakeError(st.error());
    auto q = store::OpenDashboard(url, open_options);
    if (!q) return MakeError(q.error());
    c->store = std::move(st).value();
    c->queries = std::move(q).value();
    c->api = std::make_unique<Api>(*c->store, *c->queries, *api_options);
    if (i == kConnections) {
      health = std::move(c);
    } else {
      pool->Add(std::move(c));
    }
  }
  auto refresh_store = store::OpenStore(url, open_options);
  if (!refresh_store) return MakeError(refresh_store.error());
  auto refresher = std::make_unique<IndexRefresher>(std::move(refresh_store).value(),
                                                    api_options->sender_indexes);
  auto server = std::make_unique<HttpServer>(std::move(pool), std::move(health),
                                             std::move(refresher), options);
  if (auto r = server->Setup(); !r) return MakeError(r.error());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace dmarc::web
