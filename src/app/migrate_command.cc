// `dmarc-report migrate --from URL --to URL`: copies a whole store into another (SQLite to
// PostgreSQL and back): aggregate reports with their origin, import time, raw XML and the
// enrichment of each record; failure and SMTP TLS reports; rejected inputs with their bytes; the
// per-address table. Batches are committed one by one, so an interrupted copy resumes where it
// stopped (reports already in the target are skipped before they are sent); at the end the
// totals of both stores are compared.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "app/cli.h"
#include "app/progress.h"
#include "app/store_target.h"
#include "store/store.h"

namespace dmarc::app {

namespace {

struct MigrateOptions {
  std::string from, to;  // to: empty for the store of the configuration (ResolveStore)
  std::string config;    // [store] password_file for the PostgreSQL side(s)
  std::size_t batch = 1000;
  bool quiet = false;
};

MigrateOptions& MigrateState() {
  static MigrateOptions state;
  return state;
}

// The totals compared at the end, by name, in the order printed.
std::vector<std::pair<const char*, std::uint64_t>> Totals(const store::Stats& s) {
  return {{"Aggregate reports", s.reports},
          {"Records", s.records},
          {"Messages", s.messages},
          {"DMARC pass", s.dmarc_pass},
          {"DMARC fail", s.dmarc_fail},
          {"Source IPs", s.source_ips},
          {"Failure reports", s.failure_reports},
          {"SMTP TLS reports", s.smtp_tls_reports},
          {"Rejected inputs", s.rejected_inputs}};
}

// Prints both stores' totals side by side; true when every one (and every per-disposition and
// per-domain count) is equal.
bool CompareTotals(const store::Stats& a, const store::Stats& b) {
  fmt::print("{:<22}{:>14}{:>14}\n", "", "source", "target");
  bool same = true;
  const auto ta = Totals(a), tb = Totals(b);
  for (std::size_t i = 0; i < ta.size(); ++i) {
    const bool eq = ta[i].second == tb[i].second;
    same = same && eq;
    fmt::print("{:<22}{:>14}{:>14}{}\n", ta[i].first, ta[i].second, tb[i].second,
               eq ? "" : "  differs");
  }
  if (a.by_disposition != b.by_disposition || a.by_domain != b.by_domain) {
    fmt::print("messages per disposition or per header-from domain differ\n");
    same = false;
  }
  return same;
}

// The two stores of a copy.
struct MigrateStores {
  std::unique_ptr<store::ReportStore> from, to;
};

// Opens the source (read only) and the target; nothing, after printing why, when one of them
// cannot be opened.
std::optional<MigrateStores> OpenMigrateStores(const MigrateOptions& options) {
  // The password of [store] password_file (or the environment's) serves the PostgreSQL side;
  // two servers with different passwords: PGPASSFILE.
  auto target = ResolveStore({.db = options.to, .read_db = "", .config = options.config});
  if (!target) {
    spdlog::error("migrate: {}", target.error());
    return std::nullopt;
  }
  if (options.from == target->url) {
    spdlog::error("migrate: --from and --to name the same store");
    return std::nullopt;
  }
  store::OpenOptions source_options = target->options;
  source_options.read_only = true;  // the source is read, never migrated (PostgreSQL)
  auto from = store::OpenStore(options.from, source_options);
  if (!from) {
    spdlog::error("migrate: --from: {}", from.error());
    return std::nullopt;
  }
  store::OpenOptions target_options = target->options;
  // Rejected inputs keep the bytes the source kept, whatever their length.
  target_options.max_raw_bytes = std::numeric_limits<std::size_t>::max();
  auto to = store::OpenStore(target->url, target_options);
  if (!to) {
    spdlog::error("migrate: --to: {}", to.error());
    return std::nullopt;
  }
  return MigrateStores{std::move(from).value(), std::move(to).value()};
}

// What a copy did, for its summary.
struct MigrateCounts {
  std::size_t done = 0;       // items read from the source (not counting addresses)
  std::size_t skipped = 0;    // aggregate reports the target already had
  std::size_t records = 0;    // records of the aggregate reports copied
  std::size_t addresses = 0;  // rows of the per-address table
  store::BatchResult stored;
};

// Resuming: drops the batch's aggregate reports the target has already, before anything is sent;
// adds how many to skipped.
Result<bool> DropStoredAggregates(store::ReportStore& dst, store::CopyBatch& batch,
                                  std::size_t& skipped) {
  if (batch.aggregates.empty()) return true;
  std::vector<const model::AggregateReport*> reports;
  reports.reserve(batch.aggregates.size());
  for (const auto& a : batch.aggregates) reports.push_back(&a.report);
  std::vector<bool> there;
  DMARC_TRY_ASSIGN(there, dst.AggregatesStored(reports));
  std::size_t k = 0;
  for (std::size_t i = 0; i < batch.aggregates.size(); ++i) {
    if (there[i]) {
      ++skipped;
    } else {
      if (k != i) batch.aggregates[k] = std::move(batch.aggregates[i]);
      ++k;
    }
  }
  batch.aggregates.resize(k);
  return true;
}

// Writes one batch of the source into the target (what it has not yet), counting it.
Result<bool> CopyBatchInto(store::ReportStore& dst, store::CopyBatch& batch,
                           MigrateCounts& counts) {
  const std::size_t seen = batch.Size() - batch.ip_info.size();
  counts.addresses += batch.ip_info.size();
  DMARC_TRY(DropStoredAggregates(dst, batch, counts.skipped));
  if (batch.Size() > 0) {
    store::BatchResult r;
    DMARC_TRY_ASSIGN(r, dst.StoreCopy(batch));
    counts.stored.new_reports += r.new_reports;
    counts.stored.duplicate_reports += r.duplicate_reports;
    counts.stored.new_failures += r.new_failures;
    counts.stored.new_smtp_tls += r.new_smtp_tls;
    counts.stored.rejections += r.rejections;
    counts.records += r.new_records;
  }
  counts.done += seen;
  return true;
}

// Copies everything of src into dst, batch by batch, with a progress bar over total items;
// false, after printing why, when the copy stops on an error.
bool CopyStore(store::ReportStore& src, store::ReportStore& dst, const MigrateOptions& options,
               std::size_t total, MigrateCounts& counts) {
  Progress progress(total, !options.quiet, "items", "items");
  auto copied = src.ForEachCopy(options.batch, [&](store::CopyBatch&& batch) -> Result<bool> {
    DMARC_TRY(CopyBatchInto(dst, batch, counts));
    progress.Update(std::min(counts.done, total), counts.done);
    return true;
  });
  progress.Finish();
  if (!copied) {
    spdlog::error(
        "migrate: {} → {}: {} (what was committed stays: run the same command again "
        "to go on)",
        src.Describe(), dst.Describe(), copied.error());
    return false;
  }
  return true;
}

void PrintMigrateSummary(store::ReportStore& src, store::ReportStore& dst, double seconds,
                         const MigrateCounts& counts) {
  const store::BatchResult& stored = counts.stored;
  fmt::print(stderr,
             "migrate: {} → {} in {}: {} aggregate report(s) copied ({} records), {} already "
             "there; {} failure, {} SMTP TLS report(s), {} rejected input(s), {} address(es)\n",
             src.Describe(), dst.Describe(), FormatDuration(seconds), stored.new_reports,
             counts.records, counts.skipped + stored.duplicate_reports, stored.new_failures,
             stored.new_smtp_tls, stored.rejections, counts.addresses);
}

// Compares the totals of both stores after the copy: the exit status (0: the same).
int VerifyTotals(store::ReportStore& src, store::ReportStore& dst) {
  auto a = src.QueryStats(store::Filter{});
  auto b = dst.QueryStats(store::Filter{});
  if (!a || !b) {
    spdlog::error("migrate: cannot verify: {}", !a ? a.error() : b.error());
    return 2;
  }
  if (!CompareTotals(*a, *b)) {
    spdlog::error(
        "migrate: the totals differ (was the target empty, or did a writer change the "
        "source meanwhile?)");
    return 1;
  }
  return 0;
}

}  // namespace

int RunMigrate(const MigrateOptions& options) {
  auto stores = OpenMigrateStores(options);
  if (!stores) return 2;
  store::ReportStore& src = *stores->from;
  store::ReportStore& dst = *stores->to;
  auto before = src.QueryStats(store::Filter{});
  if (!before) {
    spdlog::error("{}: {}", src.Describe(), before.error());
    return 2;
  }
  const std::size_t total = before->reports + before->failure_reports + before->smtp_tls_reports +
                            before->rejected_inputs;
  const auto start = std::chrono::steady_clock::now();
  MigrateCounts counts;
  if (!CopyStore(src, dst, options, total, counts)) return 2;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!options.quiet) PrintMigrateSummary(src, dst, seconds, counts);
  return VerifyTotals(src, dst);
}

// ---- The command line of `migrate`. ----

void AddMigrateOptions(CLI::App& cmd) {
  MigrateOptions& m = MigrateState();
  cmd.add_option("--from", m.from, "Store URL to copy from (read only)")->required();
  cmd.add_option("--to", m.to,
                 "Store URL to copy into (created or migrated as needed; default: "
                 "$DMARC_REPORT_STORE_URL, or [store] url of the configuration)");
  cmd.add_option("-c,--config", m.config,
                 "Take [store] (url, password_file) from this configuration (default: "
                 "$DMARC_REPORT_CONFIG, or /etc/dmarc-report/dmarc-report.toml when it exists)");
  cmd.add_option("--batch", m.batch, "Items per transaction")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd.add_flag("-q,--quiet", m.quiet, "No progress bar and no summary (the totals are printed)");
}

int RunMigrateCommand() { return RunMigrate(MigrateState()); }

}  // namespace dmarc::app
