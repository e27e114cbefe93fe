// What `vacuum`, `run` and `check-config` share: purging by retention and its summary line, the
// dashboard a configuration asks for, and the checks made before either starts.
#include "app/service_commands.h"

#include <fmt/format.h>

#include <limits>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "collect/source.h"
#include "metrics/metrics.h"
#include "store/store.h"

namespace dmarc::app {

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

web::ServeOptions DashboardOptionsOf(const config::Config& c) {
  web::ServeOptions o = c.web;
  const StoreTarget target = TargetOf(c.store);
  o.db = target.url;
  o.read_db = target.read_url;
  o.db_password = target.options.password;
  o.enrichment = !c.enrich.enabled ? "off" : c.enrich.offline ? "offline" : "on";
  return o;
}

Result<bool> CheckDashboardConfig(const config::Config& c) {
  if (!c.web.enabled) return true;
  auto checked = web::CheckServeOptions(DashboardOptionsOf(c));
  if (checked) return true;
  // The same check as `serve`'s, said in the configuration's words.
  std::string message = checked.error();
  static const std::pair<std::string_view, std::string_view> kKeys[] = {
      {"--listen", "web.listen"},
      {"--token-file", "web.token_file"},
      {"--users", "web.users_file"},
      {"--tls-cert", "web.tls_cert"},
      {"--tls-key", "web.tls_key"},
      {"--forwarders-file", "web.forwarders_file"},
      {"or listen on", "or set web.listen to"}};
  for (const auto& [flag, key] : kKeys) {
    for (std::size_t at = message.find(flag); at != std::string::npos;
         at = message.find(flag, at + key.size())) {
      message.replace(at, flag.size(), key);
    }
  }
  return MakeError("[web]: " + message);
}

Result<bool> CheckSourcesConfig(const config::Config& c) {
  constexpr std::size_t kAny = std::numeric_limits<std::size_t>::max();
  std::vector<std::pair<std::string_view, std::unique_ptr<collect::Source>>> local;
  if (c.maildir) local.emplace_back("maildir.path", collect::MakeMaildirSource(*c.maildir, kAny));
  if (c.mbox) local.emplace_back("mbox.path", collect::MakeMboxSource(c.mbox->path, kAny));
  if (c.directory) {
    local.emplace_back("directory.path", collect::MakeDirectorySource(c.directory->path, kAny));
  }
  for (auto& [key, source] : local) {
    if (Status s = source->CheckPath(); !s) return MakeError(fmt::format("{}: {}", key, s.error()));
  }
  return true;
}

}  // namespace dmarc::app
