// The PostgreSQL store's retention: Purge, Compact, SizeOnDisk. Same contract as the SQLite store
// (sqlite_retention.cc, docs/store.md "Retention"): what is older than the cutoff goes, the
// rollups lose exactly the purged reports' part, in short transactions.
//
// Whole partitions first. aggregate_records is partitioned by month of its records' day; that
// is the point of partitioning: a month whose every record belongs to a purged report is
// dropped (DROP TABLE of the partition: no row-by-row DELETE, no WAL for each row, no dead rows
// for VACUUM, the files go back to the file system at once). Its rollups need no record either:
// the daily rollups of its days come only from its records, so they are deleted, and the
// per-address totals lose the sums of its days' daily_sources rows. Only months that end before
// the cutoff are candidates (a later month may still receive records).
//
// Dropping a partition takes an ACCESS EXCLUSIVE lock on aggregate_records (PostgreSQL locks the
// parent to drop a partition), taken first, as writers do (parent, then partition), so there is
// no deadlock, and with a lock timeout, so a long reader delays the drop to the next purge
// instead of queueing every writer and reader behind it. Under that lock the month is checked
// again (a writer may have stored an old report meanwhile): one read of one old partition.
// A check without the lock first skips months that hold a record of a kept report (a report
// spanning months) without locking anything.
//
// Then the rest row by row, 200 reports per transaction (the reports ended before the cutoff,
// with what records they still have: those of months not dropped), as SQLite does.
//
// Note: a purge that runs every day (run with retention_days) moves the cutoff a day at a time,
// so the oldest month's records are mostly deleted row by row before the month is whole behind
// the cutoff; dropping pays off when the purge runs less often than monthly (vacuum --days) or
// the retention is shortened.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

namespace {

constexpr int kPurgeBatch = 200;  // reports per write transaction
constexpr const char* kDropLockTimeout = "10s";

// A monthly partition of aggregate_records: its table and its bounds [lo, hi).
struct Partition {
  std::string name;
  std::int64_t lo = 0, hi = 0;
};

// The integers in a partition bound's text ("FOR VALUES FROM ('1700000000') TO ('...')").
std::vector<std::int64_t> Integers(std::string_view text) {
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < text.size();) {
    const bool neg = text[i] == '-' && i + 1 < text.size() &&
                     std::isdigit(static_cast<unsigned char>(text[i + 1]));
    if (!neg && !std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    std::size_t j = neg ? i + 1 : i;
    std::int64_t v = 0;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) {
      v = v * 10 + (text[j] - '0');
      ++j;
    }
    out.push_back(neg ? -v : v);
    i = j;
  }
  return out;
}

Result<std::vector<Partition>> ListPartitions(Connection& conn) {
  auto rows = conn.Query(
      "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
      " JOIN pg_class c ON c.oid = i.inhrelid"
      " WHERE i.inhparent = 'aggregate_records'::regclass ORDER BY c.relname");
  if (!rows) return std::move(rows).error_value();
  std::vector<Partition> out;
  for (int i = 0; i < rows->size(); ++i) {
    const auto bounds = Integers(rows->View(i, 1));
    if (bounds.size() != 2) continue;  // a DEFAULT partition: not a month
    out.push_back({rows->Text(i, 0), bounds[0], bounds[1]});
  }
  return out;
}

// The rollups of a purged batch of reports ($1: their ids) lose exactly what their records
// added (see the writer's rollups); rows left with no records go, and so does every record.
constexpr std::string_view kBatchDailySources =
    "UPDATE daily_sources AS d SET messages = d.messages - x.m, records = d.records - x.n,"
    " dmarc_pass = d.dmarc_pass - x.p, spf_aligned = d.spf_aligned - x.sa,"
    " dkim_aligned = d.dkim_aligned - x.da FROM (SELECT r.day, r.domain, s.id AS ip,"
    " sum(r.count)::bigint AS m, count(*) AS n, sum(r.count * r.dmarc_aligned)::bigint AS p,"
    " sum(r.count * r.spf_aligned)::bigint AS sa, sum(r.count * r.dkim_aligned)::bigint AS da"
    " FROM aggregate_records r JOIN source_ips s ON s.ip = r.source_ip"
    " WHERE r.report = ANY($1::bigint[]) GROUP BY 1, 2, 3) AS x"
    " WHERE d.day = x.day AND d.domain = x.domain AND d.ip = x.ip";
constexpr std::string_view kBatchSourceTotals =
    "UPDATE source_totals AS d SET messages = d.messages - x.m, records = d.records - x.n,"
    " dmarc_pass = d.dmarc_pass - x.p, spf_aligned = d.spf_aligned - x.sa,"
    " dkim_aligned = d.dkim_aligned - x.da FROM (SELECT r.domain, s.id AS ip,"
    " sum(r.count)::bigint AS m, count(*) AS n, sum(r.count * r.dmarc_aligned)::bigint AS p,"
    " sum(r.count * r.spf_aligned)::bigint AS sa, sum(r.count * r.dkim_aligned)::bigint AS da"
    " FROM aggregate_records r JOIN source_ips s ON s.ip = r.source_ip"
    " WHERE r.report = ANY($1::bigint[]) GROUP BY 1, 2) AS x"
    " WHERE d.domain = x.domain AND d.ip = x.ip";
constexpr std::string_view kBatchIpTotals =
    "UPDATE ip_totals AS d SET messages = d.messages - x.m, records = d.records - x.n,"
    " dmarc_pass = d.dmarc_pass - x.p, spf_aligned = d.spf_aligned - x.sa,"
    " dkim_aligned = d.dkim_aligned - x.da FROM (SELECT s.id AS ip,"
    " sum(r.count)::bigint AS m, count(*) AS n, sum(r.count * r.dmarc_aligned)::bigint AS p,"
    " sum(r.count * r.spf_aligned)::bigint AS sa, sum(r.count * r.dkim_aligned)::bigint AS da"
    " FROM aggregate_records r JOIN source_ips s ON s.ip = r.source_ip"
    " WHERE r.report = ANY($1::bigint[]) GROUP BY 1) AS x WHERE d.ip = x.ip";
constexpr std::string_view kBatchDailyResults =
    "UPDATE daily_results AS d SET records = d.records - x.n, messages = d.messages - x.m"
    " FROM (SELECT day, domain, header_from, disposition, dmarc_aligned, spf_aligned,"
    " dkim_aligned, count(*) AS n, sum(count)::bigint AS m FROM aggregate_records"
    " WHERE report = ANY($1::bigint[]) GROUP BY 1, 2, 3, 4, 5, 6, 7) AS x"
    " WHERE d.day = x.day AND d.domain = x.domain AND d.header_from = x.header_from"
    " AND d.disposition = x.disposition AND d.dmarc_aligned = x.dmarc_aligned"
    " AND d.spf_aligned = x.spf_aligned AND d.dkim_aligned = x.dkim_aligned";
// A day, sender or source left with nothing is no longer part of the totals (a source whose
// remaining records all count 0 messages goes with it). Only the rows this batch touched are
// looked at (their keys come from the records, still there).
constexpr std::string_view kBatchEmptyDailyResults =
    "DELETE FROM daily_results WHERE records <= 0 AND day IN (SELECT day FROM"
    " aggregate_records WHERE report = ANY($1::bigint[]))";
constexpr std::string_view kBatchEmptyDailySources =
    "DELETE FROM daily_sources WHERE records <= 0 AND day IN (SELECT day FROM"
    " aggregate_records WHERE report = ANY($1::bigint[]))";
constexpr std::string_view kBatchEmptySourceTotals =
    "DELETE FROM source_totals WHERE records <= 0 AND (domain, ip) IN (SELECT r.domain, s.id"
    " FROM aggregate_records r JOIN source_ips s ON s.ip = r.source_ip"
    " WHERE r.report = ANY($1::bigint[]))";
constexpr std::string_view kBatchEmptyIpTotals =
    "DELETE FROM ip_totals WHERE records <= 0 AND ip IN (SELECT s.id FROM aggregate_records r"
    " JOIN source_ips s ON s.ip = r.source_ip WHERE r.report = ANY($1::bigint[]))";
constexpr std::string_view kBatchSteps[] = {
    kBatchDailySources,      kBatchSourceTotals,      kBatchIpTotals,          kBatchDailyResults,
    kBatchEmptyDailyResults, kBatchEmptyDailySources, kBatchEmptySourceTotals, kBatchEmptyIpTotals,
};

// A dropped month's part of the per-address totals: the sums of its days' daily_sources rows
// ($1, $2: its bounds); then its daily rollups go.
constexpr std::string_view kMonthSourceTotals =
    "UPDATE source_totals AS d SET messages = d.messages - x.m, records = d.records - x.n,"
    " dmarc_pass = d.dmarc_pass - x.p, spf_aligned = d.spf_aligned - x.sa,"
    " dkim_aligned = d.dkim_aligned - x.da FROM (SELECT domain, ip, sum(messages)::bigint AS m,"
    " sum(records)::bigint AS n, sum(dmarc_pass)::bigint AS p, sum(spf_aligned)::bigint AS sa,"
    " sum(dkim_aligned)::bigint AS da FROM daily_sources WHERE day >= $1 AND day < $2"
    " GROUP BY 1, 2) AS x WHERE d.domain = x.domain AND d.ip = x.ip";
constexpr std::string_view kMonthIpTotals =
    "UPDATE ip_totals AS d SET messages = d.messages - x.m, records = d.records - x.n,"
    " dmarc_pass = d.dmarc_pass - x.p, spf_aligned = d.spf_aligned - x.sa,"
    " dkim_aligned = d.dkim_aligned - x.da FROM (SELECT ip, sum(messages)::bigint AS m,"
    " sum(records)::bigint AS n, sum(dmarc_pass)::bigint AS p, sum(spf_aligned)::bigint AS sa,"
    " sum(dkim_aligned)::bigint AS da FROM daily_sources WHERE day >= $1 AND day < $2"
    " GROUP BY 1) AS x WHERE d.ip = x.ip";
constexpr std::string_view kMonthEmptySourceTotals =
    "DELETE FROM source_totals WHERE records <= 0 AND (domain, ip) IN (SELECT domain, ip FROM"
    " daily_sources WHERE day >= $1 AND day < $2)";
constexpr std::string_view kMonthEmptyIpTotals =
    "DELETE FROM ip_totals WHERE records <= 0 AND ip IN (SELECT ip FROM daily_sources"
    " WHERE day >= $1 AND day < $2)";
constexpr std::string_view kMonthSteps[] = {
    kMonthSourceTotals,
    kMonthIpTotals,
    kMonthEmptySourceTotals,
    kMonthEmptyIpTotals,
    "DELETE FROM daily_sources WHERE day >= $1 AND day < $2",
    "DELETE FROM daily_results WHERE day >= $1 AND day < $2",
};

// The other kinds of report, each purged in its own transaction; the rows its last statement
// deletes ($1: the cutoff) are what it counts.
constexpr std::string_view kPurgeSmtpTlsFailureDetails =
    "DELETE FROM smtp_tls_failure_details WHERE policy IN (SELECT p.id FROM"
    " smtp_tls_policies p JOIN smtp_tls_reports r ON r.id = p.report WHERE r.end_ts < $1)";
constexpr std::string_view kPurgeSmtpTlsPolicies =
    "DELETE FROM smtp_tls_policies WHERE report IN (SELECT id FROM smtp_tls_reports"
    " WHERE end_ts < $1)";

}  // namespace

Result<PurgeResult> PgStore::Purge(std::int64_t cutoff) {
  PurgeResult result;
  // 1. Whole months behind the cutoff.
  DMARC_TRY(PurgeMonths(cutoff, result));
  // 2. The reports, with the records they still have, kPurgeBatch per transaction.
  DMARC_TRY(PurgeAggregateReports(cutoff, result));
  // 3. Each other kind in its own transaction.
  DMARC_TRY(PurgeOtherKinds(cutoff, result));
  DMARC_TRY_ASSIGN(result.rejected_inputs, PurgeRejectedInputs(cutoff));
  return result;
}

Result<PurgeResult> PgStore::CountPurge(std::int64_t cutoff) {
  auto rows = conn_.Query(
      "SELECT (SELECT count(*) FROM aggregate_reports WHERE end_ts < $1),"
      " (SELECT count(*) FROM aggregate_records r JOIN aggregate_reports a ON a.id = r.report"
      " WHERE a.end_ts < $1),"
      " (SELECT count(*) FROM failure_reports WHERE arrival_ts < $1),"
      " (SELECT count(*) FROM smtp_tls_reports WHERE end_ts < $1),"
      " (SELECT count(*) FROM rejected_inputs WHERE received_at < $1)",
      Params().Add(cutoff));
  if (!rows) return MakeError("count of what a purge removes failed: " + rows.error());
  PurgeResult r;
  r.aggregate_reports = static_cast<std::size_t>(rows->Int(0, 0));
  r.aggregate_records = static_cast<std::size_t>(rows->Int(0, 1));
  r.failure_reports = static_cast<std::size_t>(rows->Int(0, 2));
  r.smtp_tls_reports = static_cast<std::size_t>(rows->Int(0, 3));
  r.rejected_inputs = static_cast<std::size_t>(rows->Int(0, 4));
  return r;
}

Result<bool> PgStore::PurgeMonths(std::int64_t cutoff, PurgeResult& result) {
  auto partitions = ListPartitions(conn_);
  if (!partitions) return MakeError("purge of aggregate reports failed: " + partitions.error());
  for (const Partition& p : *partitions) {
    if (p.hi > cutoff) continue;
    auto n = DropMonth(p.name, p.lo, p.hi, cutoff);
    if (!n) return MakeError("purge of aggregate reports failed: " + n.error());
    if (*n > 0) spdlog::info("{}: dropped {} ({} records)", label_, p.name, *n);
    result.aggregate_records += *n;
  }
  return true;
}

Result<std::size_t> PgStore::DropMonth(const std::string& name, std::int64_t lo, std::int64_t hi,
                                       std::int64_t cutoff) {
  const std::string table = pg::QuoteIdent(name);
  // Without a lock: a month that holds a record of a kept report stays (most often found after
  // reading little: the scan stops at the first one).
  auto kept = InTransaction<bool>(
      [&]() -> Result<bool> {
        auto rows = conn_.Query("SELECT EXISTS (SELECT 1 FROM " + table +
                                    " r JOIN aggregate_reports a ON a.id = r.report"
                                    " WHERE a.end_ts >= $1)",
                                Params().Add(cutoff));
        if (!rows) return std::move(rows).error_value();
        return rows->Bool(0, 0);
      },
      /*read_only=*/true);
  if (!kept) return std::move(kept).error_value();
  if (*kept) return std::size_t{0};
  bool gone = false;
  auto dropped = InTransaction<std::size_t>([&]() -> Result<std::size_t> {
    DMARC_TRY(conn_.Exec(std::string("SET LOCAL lock_timeout = '") + kDropLockTimeout + "'"));
    DMARC_TRY(conn_.Exec("LOCK TABLE aggregate_records IN ACCESS EXCLUSIVE MODE"));
    // Again under the lock (a writer may have stored an old report since), counting the records.
    auto rows = conn_.Query("SELECT count(*), count(k.id) FROM " + table +
                                " r LEFT JOIN (SELECT id FROM aggregate_reports WHERE end_ts >= $1)"
                                " k ON k.id = r.report",
                            Params().Add(cutoff));
    if (!rows) return std::move(rows).error_value();
    gone = false;
    if (rows->Int(0, 1) > 0) return std::size_t{0};
    const auto records = static_cast<std::size_t>(rows->Int(0, 0));
    for (std::string_view sql : kMonthSteps) {
      DMARC_TRY(conn_.Query(sql, Params().Add(lo).Add(hi)));
    }
    DMARC_TRY(conn_.Exec("DROP TABLE " + table));
    gone = true;
    if (records > 0) DMARC_TRY(BumpAggregateVersion());
    return records;
  });
  if (!dropped && conn_.LastError().sqlstate == "55P03") {
    spdlog::info("{}: {} is busy; its records are purged row by row", label_, name);
    return std::size_t{0};
  }
  // The writer of this process makes the month again when it needs it.
  if (dropped && gone) std::erase(partitions_, lo);
  return dropped;
}

Result<bool> PgStore::PurgeAggregateReports(std::int64_t cutoff, PurgeResult& result) {
  std::int64_t last_id = 0;
  for (;;) {
    std::size_t records = 0;
    std::vector<std::int64_t> victims;
    auto batch = InTransaction<bool>([&]() -> Result<bool> {
      records = 0;
      victims.clear();
      auto rows = conn_.Query(
          "SELECT id FROM aggregate_reports WHERE end_ts < $1 AND id > $2 ORDER BY id LIMIT $3",
          Params().Add(cutoff).Add(last_id).Add(kPurgeBatch));
      if (!rows) return std::move(rows).error_value();
      for (int i = 0; i < rows->size(); ++i) victims.push_back(rows->Int(i, 0));
      if (victims.empty()) return true;
      DMARC_TRY_ASSIGN(records, DeleteReports(victims));
      return BumpAggregateVersion();
    });
    if (!batch) return MakeError("purge of aggregate reports failed: " + batch.error());
    result.aggregate_reports += victims.size();
    result.aggregate_records += records;
    if (victims.size() < static_cast<std::size_t>(kPurgeBatch)) return true;
    last_id = victims.back();
  }
}

Result<std::size_t> PgStore::DeleteReports(const std::vector<std::int64_t>& ids) {
  Params params;
  params.AddArray(ids);
  for (std::string_view sql : kBatchSteps) DMARC_TRY(conn_.Query(sql, params));
  auto del = conn_.Query("DELETE FROM aggregate_records WHERE report = ANY($1::bigint[])", params);
  if (!del) return std::move(del).error_value();
  const auto records = static_cast<std::size_t>(del->Affected());
  DMARC_TRY(conn_.Query("DELETE FROM report_totals WHERE report = ANY($1::bigint[])", params));
  DMARC_TRY(conn_.Query("DELETE FROM aggregate_raw WHERE report = ANY($1::bigint[])", params));
  DMARC_TRY(conn_.Query("DELETE FROM aggregate_reports WHERE id = ANY($1::bigint[])", params));
  return records;
}

Result<bool> PgStore::PurgeOtherKinds(std::int64_t cutoff, PurgeResult& result) {
  const struct {
    const char* what;
    std::vector<std::string_view> sql;
    std::size_t* count;
  } kinds[] = {
      {"failure reports",
       {"DELETE FROM failure_reports WHERE arrival_ts < $1"},
       &result.failure_reports},
      {"SMTP TLS reports",
       {kPurgeSmtpTlsFailureDetails, kPurgeSmtpTlsPolicies,
        "DELETE FROM smtp_tls_reports WHERE end_ts < $1"},
       &result.smtp_tls_reports},
  };
  for (const auto& kind : kinds) {
    std::size_t changes = 0;
    auto r = InTransaction<bool>([&]() -> Result<bool> {
      for (std::size_t i = 0; i < kind.sql.size(); ++i) {
        auto rows = conn_.Query(kind.sql[i], Params().Add(cutoff));
        if (!rows) return std::move(rows).error_value();
        changes = static_cast<std::size_t>(rows->Affected());
      }
      return true;
    });
    if (!r) return MakeError(fmt::format("purge of {} failed: {}", kind.what, r.error()));
    *kind.count = changes;
  }
  return true;
}

// Rejected inputs received before the cutoff, then their bytes unless a newer rejection shares
// them (the rejections go first: the bytes are what they refer to). Returns the rejections purged.
Result<std::size_t> PgStore::PurgeRejectedInputs(std::int64_t cutoff) {
  std::size_t rejections = 0;
  auto r = InTransaction<bool>([&]() -> Result<bool> {
    auto gone = conn_.Query("DELETE FROM rejected_inputs WHERE received_at < $1 RETURNING sha256",
                            Params().Add(cutoff));
    if (!gone) return std::move(gone).error_value();
    rejections = static_cast<std::size_t>(gone->size());
    std::vector<std::string> digests;
    digests.reserve(rejections);
    for (int i = 0; i < gone->size(); ++i) digests.push_back(gone->Text(i, 0));
    if (digests.empty()) return true;
    DMARC_TRY(
        conn_.Query("DELETE FROM rejected_blobs b WHERE b.sha256 = ANY($1::text[]) AND NOT EXISTS"
                    " (SELECT 1 FROM rejected_inputs i WHERE i.sha256 = b.sha256)",
                    Params().AddArray(digests)));
    return true;
  });
  if (!r) return MakeError("purge of rejected inputs failed: " + r.error());
  return rejections;
}

Result<bool> PgStore::Compact() {
  // VACUUM cannot run in a transaction: one statement outside any. ANALYZE refreshes the
  // planner's statistics after the purge changed the tables.
  if (auto r = conn_.Exec(
          "VACUUM (ANALYZE) aggregate_reports, aggregate_records, aggregate_raw, daily_results,"
          " source_ips, daily_sources, source_totals, ip_totals, report_totals,"
          " failure_reports, smtp_tls_reports, smtp_tls_policies, smtp_tls_failure_details,"
          " rejected_blobs, rejected_inputs, ip_info_cache");
      !r) {
    return MakeError("VACUUM: " + r.error());
  }
  return true;
}

std::uint64_t PgStore::SizeOnDisk() const {
  // Query is not const (it records the last error); the store itself is not changed.
  auto rows = const_cast<Connection&>(conn_).Query("SELECT pg_database_size(current_database())");
  if (!rows || rows->size() == 0) return 0;
  return static_cast<std::uint64_t>(rows->Int(0, 0));
}

}  // namespace dmarc::store::pg_impl
