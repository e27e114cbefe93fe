// Commands for running dmarc-report as a service: `check-config` and `vacuum`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "app/store_target.h"
#include "base/result.h"
#include "config/config.h"
#include "store/store.h"
#include "web/server.h"

namespace dmarc::app {

// Loads FILE (with the DMARC_REPORT_* environment, as `fetch` and `run` do) and prints every
// problem, one per line naming the file, the key and what is expected; exit 0 when it is valid.
// With `connect`, also signs in to each mail source and lists its mails (nothing is read, moved
// or deleted); exit 1 when one fails, with the source's error.
int RunCheckConfig(const std::string& file, bool connect = false);

// The dashboard `run` starts for a configuration: its [web] table, serving the store of [store].
web::ServeOptions DashboardOptionsOf(const config::Config& c);
// What `run` refuses of a configuration's [web] table before starting it (web::CheckServeOptions),
// the options named by their configuration keys (web.listen, web.token_file, ...).
Result<bool> CheckDashboardConfig(const config::Config& c);
// What `run` and `fetch` refuse of a configuration's local sources before they start: a path of
// [maildir], [mbox] or [directory] that does not exist or is not what it should be
// (collect::Source::CheckPath), named by its key (maildir.path, ...).
Result<bool> CheckSourcesConfig(const config::Config& c);

struct VacuumCommandOptions {
  StoreArgs store;                    // store.url and store.retention_days from its --config
  std::optional<int> retention_days;  // overrides the config; 0: purge nothing
  bool quiet = false;
  bool dry_run = false;  // say what would be purged; change nothing
};

// Purges reports older than the retention, then compacts the store.
int RunVacuum(const VacuumCommandOptions& options);

// Purges what is older than `days` days before `now` (Unix seconds) and counts it in the
// metrics; `run` calls it on a schedule when store.retention_days is set.
Result<store::PurgeResult> PurgeOlderThan(store::ReportStore& st, int days, std::int64_t now);
std::string DescribePurge(const store::PurgeResult& p);

}  // namespace dmarc::app
