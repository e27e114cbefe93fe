// What `vacuum` and `run` share: purging by retention and its summary line.
#include "app/service_commands.h"

#include <fmt/format.h>

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

}  // namespace dmarc::app
