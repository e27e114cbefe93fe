#include "app/run_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "app/cli.h"
#include "app/fetch_command.h"
#include "app/service_commands.h"
#include "app/smtp_receiver.h"
#include "app/store_target.h"
#include "base/files.h"
#include "base/signals.h"
#include "config/config.h"
#include "consul/consul.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "store/store.h"
#include "web/server.h"

namespace dmarc::app {

const char* const kDefaultConfig = R"(
[directory]
path = "inbox"
[store]
url = "sqlite:data/dmarc-report.db"
[fetch]
watch_interval = 5
)";

namespace {

// The threads below log through spdlog::default_logger(), a counted reference taken under
// spdlog's lock: a reload may replace the default logger while they run.

std::atomic<bool> g_terminate{false};
std::atomic<bool> g_reload{false};
std::atomic<bool>* g_fetch_stop = nullptr;

extern "C" void OnTerminate(int sig) {
  SayStoppingOrExit(sig, g_terminate.exchange(true));
  *g_fetch_stop = true;
}

extern "C" void OnReload(int) {
  g_reload = true;
  *g_fetch_stop = true;
}

constexpr std::chrono::hours kPurgeEvery{24};
constexpr std::chrono::seconds kMeasureEvery{60};

// A thread beside the fetch loop, with its own store connection: purges what is older than the
// retention at start and once a day, and measures the store for the metrics every minute.
class Housekeeping {
 public:
  explicit Housekeeping(StoreTarget target)
      : target_(std::move(target)), thread_([this] { Loop(); }) {}
  ~Housekeeping() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  Housekeeping(const Housekeeping&) = delete;
  Housekeeping& operator=(const Housekeeping&) = delete;

 private:
  void Loop() {
    auto db = target_.Open();
    if (!db) {
      spdlog::default_logger()->error("housekeeping: {}", db.error());
      return;
    }
    auto next_purge = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (days_ > 0 && std::chrono::steady_clock::now() >= next_purge) {
        lock.unlock();
        auto purged = PurgeOlderThan(**db, days_, static_cast<std::int64_t>(std::time(nullptr)));
        if (purged) {
          spdlog::default_logger()->info("retention: purged {} older than {} days",
                                         DescribePurge(*purged), days_);
        } else {
          spdlog::default_logger()->error("retention: {}: {}", (*db)->Describe(), purged.error());
        }
        next_purge = std::chrono::steady_clock::now() + kPurgeEvery;
        lock.lock();
      }
      metrics::Program().store_size.Set({}, static_cast<double>((*db)->SizeOnDisk()));
      wake_.wait_for(lock, kMeasureEvery, [this] { return stop_; });
    }
  }

  StoreTarget target_;
  const int days_ = target_.retention_days;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

Result<config::Config> Load(const std::string& file) {
  if (file.empty()) {
    return config::LoadConfigText(kDefaultConfig, "built-in default", config::ProcessEnvironment());
  }
  return config::LoadConfig(file, config::ProcessEnvironment());
}

constexpr std::chrono::minutes kReregisterEvery{5};
constexpr std::chrono::seconds kLongestRetry{60};

// Keeps the service registered with the Consul agent from a thread of its own: registers at
// once, retries after 1 s, 2 s, ... up to a minute while the agent is unreachable (it may start
// after us), and registers again every few minutes (an agent restarted without its state has
// forgotten us; registering is idempotent). Deregisters only when asked: a reload under the same
// service id keeps the registration.
class ConsulRegistration {
 public:
  explicit ConsulRegistration(const consul::Options& c) : agent_(c), thread_([this] { Loop(); }) {}
  ~ConsulRegistration() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  ConsulRegistration(const ConsulRegistration&) = delete;
  ConsulRegistration& operator=(const ConsulRegistration&) = delete;

  const std::string& service_id() const { return agent_.service_id(); }

  // Stops the thread's work, then deregisters.
  void Deregister() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (auto r = agent_.Deregister(); !r) {
      spdlog::default_logger()->error("{}", r.error());
    } else {
      spdlog::default_logger()->info("consul: deregistered {}", agent_.service_id());
    }
  }

 private:
  void Loop() {
    std::chrono::seconds pause{1};
    bool registered = false;
    std::string last_error;
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      auto r = agent_.Register();
      lock.lock();
      std::chrono::seconds wait = kReregisterEvery;
      if (r) {
        if (!registered) {
          spdlog::default_logger()->info("consul: registered {} with health check {}",
                                         agent_.service_id(), agent_.check_url());
        }
        registered = true;
        last_error.clear();
        pause = std::chrono::seconds(1);
      } else {
        if (r.error() != last_error) spdlog::default_logger()->error("{} (retrying)", r.error());
        last_error = r.error();
        registered = false;
        wait = pause;
        pause = std::min(kLongestRetry, pause * 2);
      }
      wake_.wait_for(lock, wait, [this] { return stop_; });
    }
  }

  consul::Agent agent_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// After a (re)load: a registration for the new configuration; the previous one is deregistered
// when the new configuration has no [consul] table or another service id.
void UpdateConsul(std::unique_ptr<ConsulRegistration>& current, const config::Config& c) {
  const bool same_id =
      current && c.consul && consul::Agent(*c.consul).service_id() == current->service_id();
  if (current && !same_id) current->Deregister();
  current.reset();
  if (c.consul) current = std::make_unique<ConsulRegistration>(*c.consul);
}

// The example reports of the repository (testdata/real/parsedmarc-samples/aggregate), looked for
// beside the binary (installed or in the build tree) and in the source tree it was built from.
std::optional<std::filesystem::path> FindExampleReports() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / "../share/dmarc-report/examples");
    candidates.push_back(exe.parent_path() / "../testdata/real/parsedmarc-samples/aggregate");
  }
#ifdef DMARC_SOURCE_DIR
  candidates.push_back(fs::path(DMARC_SOURCE_DIR) / "testdata/real/parsedmarc-samples/aggregate");
#endif
  for (const auto& c : candidates) {
    if (fs::is_directory(c, ec)) return fs::weakly_canonical(c, ec);
  }
  return std::nullopt;
}

// The built-in default on a first start (no drop folder, no store yet): the drop folder is
// created and the example reports are copied into it, so that the dashboard has something to
// show. Any later start leaves the folder alone.
void PrepareDefaultDropFolder(const config::Config& c) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path inbox = c.directory->path;
  // Only a SQLite store of its own: examples never go into a shared PostgreSQL database.
  auto db = store::SqlitePathFromUrl(c.store.url);
  const bool first_start = db && !fs::exists(inbox, ec) && !fs::exists(*db, ec);
  if (Status made = CreatePrivateDirectories(inbox); !made) spdlog::warn("{}", made.error());
  if (!first_start) return;
  auto examples = FindExampleReports();
  if (!examples) {
    spdlog::info("first start: no example reports found; drop reports into {}/", inbox.string());
    return;
  }
  int copied = 0;
  for (const auto& entry : fs::directory_iterator(*examples, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    if (fs::copy_file(entry.path(), inbox / entry.path().filename(), ec)) ++copied;
  }
  spdlog::info("first start: copied {} example report files from {} into {}/", copied,
               examples->string(), inbox.string());
}

// The dashboard on a thread of its own, serving the store of the configuration.
class Dashboard {
 public:
  static Result<std::unique_ptr<Dashboard>> Start(const web::ServeOptions& o) {
    auto server = web::StartServer(o);
    if (!server) return MakeError(fmt::format("[web]: {}", server.error()));
    return std::unique_ptr<Dashboard>(new Dashboard(std::move(server).value(), o));
  }
  ~Dashboard() {
    server_->Stop();
    thread_.join();
  }
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  bool Serves(const web::ServeOptions& o) const { return o == options_; }

 private:
  Dashboard(std::unique_ptr<web::Server> server, web::ServeOptions o)
      : server_(std::move(server)), options_(std::move(o)) {
    spdlog::info("dashboard on {}/", server_->Url());
    thread_ = std::thread([this] {
      if (!server_->Run()) spdlog::default_logger()->error("dashboard: the server failed");
    });
  }

  std::unique_ptr<web::Server> server_;
  web::ServeOptions options_;
  std::thread thread_;
};

// After a (re)load: the dashboard for the new configuration. A running one with the same
// settings stays; otherwise it stops and the new one starts (the same port is free again). When
// the new settings fail, the previous ones are tried again. Returns false when no dashboard that
// the configuration asks for runs.
bool UpdateDashboard(std::unique_ptr<Dashboard>& current, const config::Config& c,
                     const config::Config* previous) {
  if (current && c.web.enabled && current->Serves(DashboardOptionsOf(c))) return true;
  current.reset();
  if (!c.web.enabled) return true;
  // The check check-config runs, then the start (which checks the same again, and binds).
  auto checked = CheckDashboardConfig(c);
  auto started = checked ? Dashboard::Start(DashboardOptionsOf(c))
                         : Result<std::unique_ptr<Dashboard>>(MakeError(checked.error()));
  if (started) {
    current = std::move(started).value();
    return true;
  }
  spdlog::error("{}", started.error());
  if (previous && previous->web.enabled) {
    if (auto again = Dashboard::Start(DashboardOptionsOf(*previous))) {
      current = std::move(again).value();
      spdlog::warn("reload: the dashboard keeps its previous settings");
    }
  }
  return false;
}

}  // namespace

int RunService(const RunCommandOptions& options) {
  auto config = LoadConfigAndLogging(options.config, kDefaultConfig);
  if (!config) return 2;
  if (options.config.empty() && config->directory) PrepareDefaultDropFolder(*config);
  if (auto sources = CheckSourcesConfig(*config); !sources) {
    spdlog::error("{}: {}", config->file, sources.error());
    return 2;
  }
  std::unique_ptr<Dashboard> dashboard;
  if (!UpdateDashboard(dashboard, *config, nullptr)) return 2;
  std::unique_ptr<smtp::Server> receiver;  // [smtp]: spools for the fetch loop
  if (!UpdateSmtpReceiver(receiver, *config, nullptr)) return 2;
  g_fetch_stop = &FetchStopFlag();
  OnStopSignal(SIGTERM, OnTerminate);
  OnStopSignal(SIGINT, OnTerminate);
  OnStopSignal(SIGHUP, OnReload);

  std::unique_ptr<ConsulRegistration> registered;
  int rc = 0;
  while (!g_terminate) {
    g_reload = false;
    *g_fetch_stop = g_terminate.load();
    spdlog::info("running with {}", config->file);
    UpdateConsul(registered, *config);
    {
      Housekeeping housekeeping(TargetOf(config->store));
      FetchCommandOptions fetch;
      fetch.config = options.config;
      fetch.watch = true;
      fetch.progress = false;
      fetch.signal_handlers = false;
      fetch.limits = options.limits;
      rc = RunFetchLoop(*config, fetch);
    }
    if (rc == 2 || !g_reload || g_terminate) break;
    auto next = Load(options.config);
    if (!next) {
      // One log line per error: the logger shows a newline inside a line as "\n".
      spdlog::error("reload: the configuration has errors, the running one stays:");
      std::string_view errors = next.error();
      while (!errors.empty()) {
        const std::size_t end = std::min(errors.find('\n'), errors.size());
        spdlog::error("  {}", errors.substr(0, end));
        errors.remove_prefix(std::min(end + 1, errors.size()));
      }
      continue;
    }
    if (auto sources = CheckSourcesConfig(*next); !sources) {
      spdlog::error("reload: {}: {}; the running configuration stays", next->file, sources.error());
      continue;
    }
    if (auto logged = log::Setup(next->log, next->secrets); !logged) {
      spdlog::error("reload: {}; the running configuration stays", logged.error());
      continue;
    }
    UpdateDashboard(dashboard, *next, &*config);
    UpdateSmtpReceiver(receiver, *next, &*config);
    config = std::move(next).value();
    spdlog::info("configuration reloaded from {}", config->file);
  }
  if (registered) registered->Deregister();
  if (receiver) receiver->Stop();
  dashboard.reset();
  spdlog::info("stopped");
  return rc;
}

// ---- The command line of `run`. ----

namespace {

RunCommandOptions& RunState() {
  static RunCommandOptions state;
  return state;
}

}  // namespace

void AddRunOptions(CLI::App& cmd) {
  RunCommandOptions& run = RunState();
  cmd.add_option("-c,--config", run.config,
                 "TOML configuration; SIGHUP re-reads it (default: $DMARC_REPORT_CONFIG, else "
                 "/etc/dmarc-report/dmarc-report.toml when it exists, else the drop folder "
                 "inbox/ into data/dmarc-report.db)");
  AddLimitOptions(cmd, run.limits);
}

int RunServiceCommand() {
  RunCommandOptions& run = RunState();
  if (run.config.empty()) run.config = config::DefaultConfigPath(config::ProcessEnvironment());
  return RunService(run);
}

}  // namespace dmarc::app
