#include "app/run_command.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "app/fetch_command.h"
#include "app/service_commands.h"
#include "config/config.h"
#include "consul/consul.h"
#include "log/log.h"
#include "metrics/metrics.h"
#include "store/store.h"

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

std::atomic<bool> g_terminate{false};
std::atomic<bool> g_reload{false};
std::atomic<bool>* g_fetch_stop = nullptr;

extern "C" void OnTerminate(int) {
  g_terminate = true;
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
  Housekeeping(std::string url, int retention_days)
      : url_(std::move(url)), days_(retention_days), thread_([this] { Loop(); }) {}
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
    auto db = store::OpenStore(url_, store::OpenOptions{});
    if (!db) {
      spdlog::error("housekeeping: {}", db.error());
      return;
    }
    auto next_purge = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!stop_) {
      if (days_ > 0 && std::chrono::steady_clock::now() >= next_purge) {
        lock.unlock();
        auto purged = PurgeOlderThan(**db, days_, static_cast<std::int64_t>(std::time(nullptr)));
        if (purged) {
          spdlog::info("retention: purged {} older than {} days", DescribePurge(*purged), days_);
        } else {
          spdlog::error("retention: {}: {}", (*db)->Describe(), purged.error());
        }
        next_purge = std::chrono::steady_clock::now() + kPurgeEvery;
        lock.lock();
      }
      metrics::Program().store_size.Set({}, static_cast<double>((*db)->SizeOnDisk()));
      wake_.wait_for(lock, kMeasureEvery, [this] { return stop_; });
    }
  }

  std::string url_;
  int days_;
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

// Registers the service when configured; deregisters what the previous configuration registered
// when it is no longer wanted under the same id.
void UpdateConsul(std::optional<consul::Agent>& registered, const config::Config& c) {
  std::optional<consul::Agent> next;
  if (c.consul) next.emplace(*c.consul);
  if (registered && (!next || next->service_id() != registered->service_id())) {
    if (auto r = registered->Deregister(); !r) spdlog::error("{}", r.error());
  }
  registered.reset();
  if (!next) return;
  if (auto r = next->Register(); !r) {
    spdlog::error("{} (the service runs unregistered until the next reload)", r.error());
    return;
  }
  spdlog::info("consul: registered {} with health check {}", next->service_id(), next->check_url());
  registered = std::move(next);
}

}  // namespace

int RunService(const RunCommandOptions& options) {
  auto config = LoadConfigAndLogging(options.config, kDefaultConfig);
  if (!config) return 2;
  if (options.config.empty() && config->directory) {
    std::error_code ec;
    std::filesystem::create_directories(config->directory->path, ec);
  }
  g_fetch_stop = &FetchStopFlag();
  std::signal(SIGTERM, OnTerminate);
  std::signal(SIGINT, OnTerminate);
  std::signal(SIGHUP, OnReload);

  std::optional<consul::Agent> registered;
  int rc = 0;
  while (!g_terminate) {
    g_reload = false;
    *g_fetch_stop = g_terminate.load();
    spdlog::info("running with {}", config->file);
    UpdateConsul(registered, *config);
    {
      Housekeeping housekeeping(config->store.url, config->store.retention_days);
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
      spdlog::error("reload: the configuration has errors, the running one stays:\n{}",
                    next.error());
      continue;
    }
    if (auto logged = log::Setup(next->log, next->secrets); !logged) {
      spdlog::error("reload: {}; the running configuration stays", logged.error());
      continue;
    }
    config = std::move(next).value();
    spdlog::info("configuration reloaded from {}", config->file);
  }
  if (registered) {
    if (auto r = registered->Deregister(); !r) {
      spdlog::error("{}", r.error());
    } else {
      spdlog::info("consul: deregistered {}", registered->service_id());
    }
  }
  spdlog::info("stopped");
  return rc;
}

}  // namespace dmarc::app
