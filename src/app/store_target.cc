#include "app/store_target.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <vector>

#include "log/log.h"

namespace dmarc::app {

store::OpenOptions StoreOpenOptions(const config::StoreConfig& c) {
  store::OpenOptions o;
  o.password = c.password;
  return o;
}

StoreTarget TargetOf(const config::StoreConfig& c) {
  StoreTarget t;
  t.url = c.url;
  t.read_url = c.read_url == c.url ? "" : c.read_url;
  t.retention_days = c.retention_days;
  t.options = StoreOpenOptions(c);
  return t;
}

store::OpenOptions StoreTarget::ReadOptions() const {
  store::OpenOptions o = options;
  o.read_only = !read_url.empty() && read_url != url;
  return o;
}

Result<std::unique_ptr<store::ReportStore>> StoreTarget::Open() const {
  return store::OpenStore(url, options);
}

Result<std::unique_ptr<store::ReportStore>> StoreTarget::OpenForReading() const {
  return store::OpenStore(ReadUrl(), ReadOptions());
}

Result<StoreTarget> ResolveStore(const StoreArgs& args) {
  const config::EnvLookup env = config::ProcessEnvironment();
  // --db names the store itself: no configuration is read unless --config is given too.
  const std::string file =
      args.config.empty() && args.db.empty() ? config::DefaultConfigPath(env) : args.config;
  if (args.db.empty() && file.empty() && !env(config::EnvName("store", "url"))) {
    return MakeError(fmt::format("give --db URL, --config FILE or {} (there is no {})",
                                 config::EnvName("store", "url"), config::kSystemConfigPath));
  }
  std::vector<std::string> secrets, warnings;
  auto c = config::LoadStoreConfig(file, env, secrets, warnings);
  if (!c) return std::move(c).error_value();
  for (const auto& w : warnings) spdlog::warn("{}", w);
  if (!args.db.empty()) {
    c->url = args.db;
    c->read_url = args.read_db;
  } else if (!args.read_db.empty()) {
    c->read_url = args.read_db;
  }
  // Whatever logs from here on (the store's retries, the dashboard) keeps the password out.
  if (!secrets.empty()) {
    if (auto logged = log::Setup(log::Options{}, secrets); !logged) {
      return std::move(logged).error_value();
    }
  }
  return TargetOf(*c);
}

std::unique_ptr<store::ReportStore> OpenStoreOrSay(const StoreArgs& args, Access access,
                                                   StoreTarget* target) {
  auto t = ResolveStore(args);
  if (!t) {
    spdlog::error("{}", t.error());
    return nullptr;
  }
  if (access == Access::kImport) t->options.cache_kib = 32 * 1024;
  t->options.must_exist = access == Access::kRead || access == Access::kUpdate;
  auto st = access == Access::kRead ? t->OpenForReading() : t->Open();
  if (!st) {
    spdlog::error("{}", st.error());
    return nullptr;
  }
  if (target) *target = std::move(t).value();
  return std::move(st).value();
}

void AddStoreOptions(CLI::App& cmd, StoreArgs& args, bool read_db) {
  cmd.add_option("--db", args.db,
                 "Store URL: sqlite:PATH or a plain path (SQLite), or "
                 "postgresql://USER@HOST:PORT/DB?sslmode=... (default: $DMARC_REPORT_STORE_URL, "
                 "or [store] url of the configuration)");
  if (read_db) {
    cmd.add_option("--read-db", args.read_db,
                   "Store URL the dashboard reads from: a hot standby of --db (default: [store] "
                   "read_url, or --db)");
  }
  cmd.add_option("-c,--config", args.config,
                 "Take [store] (url, read_url, password_file) from this configuration (default: "
                 "$DMARC_REPORT_CONFIG, or /etc/dmarc-report/dmarc-report.toml when it exists)");
}

}  // namespace dmarc::app
