// `dmarc-report vacuum`: purges by retention, then compacts the store.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <ctime>

#include "app/cli.h"
#include "app/service_commands.h"
#include "config/config.h"
#include "store/store.h"

namespace dmarc::app {

int RunVacuum(const VacuumCommandOptions& options) {
  auto target = ResolveStore(options.store);
  if (!target) {
    spdlog::error("vacuum: {}", target.error());
    return 2;
  }
  const int days = options.retention_days.value_or(target->retention_days);
  target->options.must_exist = true;
  auto db = target->Open();
  if (!db) {
    spdlog::error("{}", db.error());
    return 1;
  }
  store::ReportStore& st = **db;
  if (options.dry_run) {
    if (days <= 0) {
      fmt::print(stderr, "vacuum --dry-run: no retention (0 days): nothing would be purged\n");
      return 0;
    }
    const auto cutoff = static_cast<std::int64_t>(std::time(nullptr)) - std::int64_t{days} * 86400;
    auto counted = st.CountPurge(cutoff);
    if (!counted) {
      spdlog::error("{}: {}", st.Describe(), counted.error());
      return 1;
    }
    fmt::print(stderr, "vacuum --dry-run: would purge {} older than {} days; nothing was changed\n",
               DescribePurge(*counted), days);
    return 0;
  }
  const std::uint64_t before = st.SizeOnDisk();
  if (days > 0) {
    auto purged = PurgeOlderThan(st, days, static_cast<std::int64_t>(std::time(nullptr)));
    if (!purged) {
      spdlog::error("{}: {}", st.Describe(), purged.error());
      return 1;
    }
    if (!options.quiet) {
      fmt::print(stderr, "vacuum: purged {} older than {} days\n", DescribePurge(*purged), days);
    }
  }
  if (auto c = st.Compact(); !c) {
    spdlog::error("{}: {}", st.Describe(), c.error());
    return 1;
  }
  if (!options.quiet) {
    fmt::print(stderr, "vacuum: {} from {:.1f} MiB to {:.1f} MiB\n", st.Describe(),
               static_cast<double>(before) / 1048576.0,
               static_cast<double>(st.SizeOnDisk()) / 1048576.0);
  }
  return 0;
}

// ---- The command line of `vacuum`. ----

namespace {

VacuumCommandOptions& VacuumState() {
  static VacuumCommandOptions state;
  return state;
}

}  // namespace

void AddVacuumOptions(CLI::App& cmd) {
  VacuumCommandOptions& vacuum = VacuumState();
  AddStoreOptions(cmd, vacuum.store);
  cmd.add_option("--retention-days", vacuum.retention_days,
                 "Purge what is older than this many days (0: only compact)")
      ->check(CLI::Range(0, 100000));
  cmd.add_flag("-q,--quiet", vacuum.quiet, "No summary");
  cmd.add_flag("--dry-run", vacuum.dry_run,
               "Say what would be purged (by kind, with records), change nothing");
}

int RunVacuumCommand() { return RunVacuum(VacuumState()); }

}  // namespace dmarc::app
