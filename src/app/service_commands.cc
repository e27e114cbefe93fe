#include "app/service_commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ctime>

#include "app/cli.h"
#include "config/config.h"
#include "metrics/metrics.h"
#include "store/store.h"

namespace dmarc::app {

namespace {

std::string DescribeSources(const config::Config& c) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (c.imap)
    add(fmt::format("imap {}@{}:{}/{}", c.imap->user, c.imap->host, c.imap->port, c.imap->folder));
  if (c.pop3) add(fmt::format("pop3 {}@{}:{}", c.pop3->user, c.pop3->host, c.pop3->port));
  if (c.maildir) add("maildir " + c.maildir->path);
  if (c.mbox) add("mbox " + c.mbox->path);
  if (c.directory) add("directory " + c.directory->path);
  return out;
}

}  // namespace

Result<store::PurgeResult> PurgeOlderThan(store::ReportStore& st, int days, std::int64_t now) {
  auto r = st.Purge(now - static_cast<std::int64_t>(days) * 86400);
  if (r) metrics::Program().purged_reports.Add({}, static_cast<double>(r->aggregate_reports));
  return r;
}

std::string DescribePurge(const store::PurgeResult& p) {
  return fmt::format(
      "{} aggregate report(s) ({} records), {} failure report(s), {} SMTP TLS report(s), {} "
      "rejected input(s)",
      p.aggregate_reports, p.aggregate_records, p.failure_reports, p.smtp_tls_reports,
      p.rejected_inputs);
}

int RunVacuum(const VacuumCommandOptions& options) {
  std::string url = options.db;
  int days = options.retention_days.value_or(0);
  if (!options.config.empty()) {
    auto config = config::LoadConfig(options.config, config::ProcessEnvironment());
    if (!config) {
      fmt::print(stderr, "{}\n", config.error());
      return 2;
    }
    if (url.empty()) url = config->store.url;
    if (!options.retention_days) days = config->store.retention_days;
  }
  if (url.empty()) {
    fmt::print(stderr, "vacuum: give --db URL or --config FILE\n");
    return 2;
  }
  auto db = store::OpenStore(url, store::OpenOptions{});
  if (!db) {
    fmt::print(stderr, "{}\n", db.error());
    return 1;
  }
  store::ReportStore& st = **db;
  const std::uint64_t before = st.SizeOnDisk();
  if (days > 0) {
    auto purged = PurgeOlderThan(st, days, static_cast<std::int64_t>(std::time(nullptr)));
    if (!purged) {
      fmt::print(stderr, "{}: {}\n", st.Describe(), purged.error());
      return 1;
    }
    if (!options.quiet) {
      fmt::print(stderr, "vacuum: purged {} older than {} days\n", DescribePurge(*purged), days);
    }
  }
  if (auto c = st.Compact(); !c) {
    fmt::print(stderr, "{}: {}\n", st.Describe(), c.error());
    return 1;
  }
  if (!options.quiet) {
    fmt::print(stderr, "vacuum: {} from {:.1f} MiB to {:.1f} MiB\n", st.Describe(),
               static_cast<double>(before) / 1048576.0,
               static_cast<double>(st.SizeOnDisk()) / 1048576.0);
  }
  return 0;
}

int RunCheckConfig(const std::string& file) {
  auto config = config::LoadConfig(file, config::ProcessEnvironment());
  if (!config) {
    fmt::print(stderr, "{}\n", config.error());
    return 1;
  }
  const config::Config& c = *config;
  fmt::print("{}: ok\n", c.file);
  fmt::print("  sources: {}\n", DescribeSources(c));
  fmt::print("  store: {}{}\n", c.store.url,
             c.store.retention_days ? fmt::format(" (reports kept {} days)", c.store.retention_days)
                                    : std::string(" (reports kept forever)"));
  std::string log = "level " + c.log.level;
  if (c.log.to_stderr) log += ", stderr";
  if (!c.log.file.empty()) log += ", file " + c.log.file;
  if (!c.log.syslog.empty()) {
    log += fmt::format(", syslog {}://{}:{}",
                       c.log.syslog_transport == log::SyslogTransport::kTcp ? "tcp" : "udp",
                       c.log.syslog_host, c.log.syslog_port);
  }
  fmt::print("  log: {}\n", log);
  const auto& e = c.enrich;
  fmt::print("  enrichment: {}; failure samples: {}\n",
             !e.enabled  ? std::string("off")
             : e.offline ? std::string("offline (no DNS)")
                         : fmt::format("DNS via {}",
                                       e.nameservers.empty()
                                           ? std::string("the system's resolvers")
                                           : fmt::format("{}", fmt::join(e.nameservers, ", "))),
             c.failure.keep_sample == parse::KeepSample::kFull   ? "full"
             : c.failure.keep_sample == parse::KeepSample::kNone ? "none"
                                                                 : "headers");
  if (c.consul) fmt::print("  consul: {} as {}\n", c.consul->address, c.consul->service_name);
  if (c.web.enabled) {
    std::string web = (c.web.tls_cert.empty() ? "http://" : "https://") + c.web.listen;
    if (!c.web.token_file.empty()) web += ", token " + c.web.token_file;
    if (!c.web.users_file.empty()) web += ", users " + c.web.users_file;
    if (c.web.token_file.empty() && c.web.users_file.empty()) web += ", no sign-in";
    fmt::print("  web: {}\n", web);
  } else {
    fmt::print("  web: off\n");
  }
  return 0;
}

// ---- The command lines of `check-config` and `vacuum`. ----

namespace {

std::string& CheckConfigFile() {
  static std::string file;
  return file;
}

VacuumCommandOptions& VacuumState() {
  static VacuumCommandOptions state;
  return state;
}

}  // namespace

void AddCheckConfigOptions(CLI::App& cmd) {
  cmd.add_option("FILE", CheckConfigFile(), "TOML configuration")->required();
}

int RunCheckConfigCommand() { return RunCheckConfig(CheckConfigFile()); }

void AddVacuumOptions(CLI::App& cmd) {
  VacuumCommandOptions& vacuum = VacuumState();
  cmd.add_option("--db", vacuum.db, kDbHelp);
  cmd.add_option("-c,--config", vacuum.config,
                 "Take store.url and store.retention_days from this configuration");
  cmd.add_option("--retention-days", vacuum.retention_days,
                 "Purge what is older than this many days (0: only compact)")
      ->check(CLI::Range(0, 100000));
  cmd.add_flag("-q,--quiet", vacuum.quiet, "No summary");
}

int RunVacuumCommand() { return RunVacuum(VacuumState()); }

}  // namespace dmarc::app
