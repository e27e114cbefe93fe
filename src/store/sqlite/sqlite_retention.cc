// The SQLite store's retention: Purge (reports older than a cutoff, with their share of every
// rollup) and Compact (VACUUM). See "Retention" in docs/store.md.
#include <fmt/format.h>

#include <string_view>
#include <vector>

#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store::sqlite_impl {

namespace {

constexpr std::size_t kPurgeBatch = 200;  // reports per write transaction

// An aggregate report to purge: its id and its records' id range.
struct Victim {
  std::int64_t id, first, count;
};

// The daily totals lose exactly what the records added (see BatchRollups in sqlite_write.cc).
constexpr std::string_view kRecordSteps[] = {
    "UPDATE daily_sources AS d SET messages = d.messages - x.m, records = d.records - x.n,"
    " dmarc_pass = d.dmarc_pass - x.p, spf_aligned = d.spf_aligned - x.sa,"
    " dkim_aligned = d.dkim_aligned - x.da FROM (SELECT r.day, r.domain, s.id AS ip,"
    " sum(r.count) AS m, count(*) AS n, sum(r.count * r.dmarc_aligned) AS p,"
    " sum(r.count * r.spf_aligned) AS sa, sum(r.count * r.dkim_aligned) AS da"
    " FROM aggregate_records r JOIN source_ips s"
    " ON s.ip = r.source_ip WHERE r.id >= ?1 AND r.id < ?2 GROUP BY 1, 2, 3) AS x"
    " WHERE d.day = x.day AND d.domain = x.domain AND d.ip = x.ip",
    // The dashboard's rollups (schema migration 4) lose the same.
    "UPDATE source_totals AS d SET messages = d.messages - x.m, records = d.records - x.n,"
    " dmarc_pass = d.dmarc_pass - x.p, spf_aligned = d.spf_aligned - x.sa,"
    " dkim_aligned = d.dkim_aligned - x.da FROM (SELECT r.domain, s.id AS ip,"
    " sum(r.count) AS m, count(*) AS n, sum(r.count * r.dmarc_aligned) AS p,"
    " sum(r.count * r.spf_aligned) AS sa, sum(r.count * r.dkim_aligned) AS da"
    " FROM aggregate_records r JOIN source_ips s"
    " ON s.ip = r.source_ip WHERE r.id >= ?1 AND r.id < ?2 GROUP BY 1, 2) AS x"
    " WHERE d.domain = x.domain AND d.ip = x.ip",
    "UPDATE ip_totals AS d SET messages = d.messages - x.m, records = d.records - x.n,"
    " dmarc_pass = d.dmarc_pass - x.p, spf_aligned = d.spf_aligned - x.sa,"
    " dkim_aligned = d.dkim_aligned - x.da FROM (SELECT s.id AS ip,"
    " sum(r.count) AS m, count(*) AS n, sum(r.count * r.dmarc_aligned) AS p,"
    " sum(r.count * r.spf_aligned) AS sa, sum(r.count * r.dkim_aligned) AS da"
    " FROM aggregate_records r JOIN source_ips s"
    " ON s.ip = r.source_ip WHERE r.id >= ?1 AND r.id < ?2 GROUP BY 1) AS x"
    " WHERE d.ip = x.ip",
    "UPDATE daily_results AS d SET records = d.records - x.n, messages = d.messages - x.m"
    " FROM (SELECT day, domain, header_from, disposition, dmarc_aligned, spf_aligned,"
    " dkim_aligned, count(*) AS n, sum(count) AS m FROM aggregate_records"
    " WHERE id >= ?1 AND id < ?2 GROUP BY 1, 2, 3, 4, 5, 6, 7) AS x"
    " WHERE d.day = x.day AND d.domain = x.domain AND d.header_from = x.header_from"
    " AND d.disposition = x.disposition AND d.dmarc_aligned = x.dmarc_aligned"
    " AND d.spf_aligned = x.spf_aligned AND d.dkim_aligned = x.dkim_aligned",
    "DELETE FROM aggregate_records WHERE id >= ?1 AND id < ?2",
};

// Up to kPurgeBatch aggregate reports that ended before cutoff, oldest id first.
Result<std::vector<Victim>> SelectVictims(Database& db, std::int64_t cutoff) {
  std::vector<Victim> victims;
  auto s = db.Prepare(
      "SELECT id, coalesce(first_record, 0), record_count FROM aggregate_reports"
      " WHERE end_ts < ?1 ORDER BY id LIMIT ?2");
  if (!s) return MakeError(s.error());
  s->Bind(1, cutoff).Bind(2, static_cast<std::int64_t>(kPurgeBatch));
  for (;;) {
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) break;
    victims.push_back({s->Int(0), s->Int(1), s->Int(2)});
  }
  return victims;
}

}  // namespace

Result<std::size_t> SqliteStore::PurgeAggregateBatch(std::int64_t cutoff, PurgeResult& result) {
  std::vector<Victim> victims;
  DMARC_TRY_ASSIGN(victims, SelectVictims(db_, cutoff));
  if (victims.empty()) return std::size_t{0};
  DMARC_TRY(db_.Exec("BEGIN IMMEDIATE"));
  auto run = [&]() -> Result<bool> {
    std::vector<Statement> steps;
    for (std::string_view sql : kRecordSteps) {
      auto s = db_.Prepare(sql);
      if (!s) return MakeError(s.error());
      steps.push_back(std::move(s).value());
    }
    auto del = db_.Prepare("DELETE FROM aggregate_reports WHERE id = ?1");
    if (!del) return MakeError(del.error());
    auto del_totals = db_.Prepare("DELETE FROM report_totals WHERE report = ?1");
    if (!del_totals) return MakeError(del_totals.error());
    auto del_raw = db_.Prepare("DELETE FROM aggregate_raw WHERE report = ?1");
    if (!del_raw) return MakeError(del_raw.error());
    for (const Victim& v : victims) {
      if (v.count > 0) {
        for (Statement& s : steps) {
          s.Bind(1, v.first).Bind(2, v.first + v.count);
          DMARC_TRY(s.Run());
        }
        result.aggregate_records += static_cast<std::size_t>(v.count);
      }
      del_totals->Bind(1, v.id);
      DMARC_TRY(del_totals->Run());
      del_raw->Bind(1, v.id);
      DMARC_TRY(del_raw->Run());
      del->Bind(1, v.id);
      DMARC_TRY(del->Run());
      ++result.aggregate_reports;
    }
    // A day, sender or source left with nothing is no longer part of the totals. (A source
    // whose remaining records all count 0 messages goes with it.)
    DMARC_TRY(db_.Exec("DELETE FROM daily_sources WHERE records <= 0"));
    DMARC_TRY(db_.Exec("DELETE FROM source_totals WHERE records <= 0"));
    DMARC_TRY(db_.Exec("DELETE FROM ip_totals WHERE records <= 0"));
    DMARC_TRY(db_.Exec("DELETE FROM daily_results WHERE records <= 0"));
    return BumpAggregateVersion();
  };
  if (auto r = run(); !r) {
    (void)db_.Exec("ROLLBACK");
    return MakeError(r.error());
  }
  if (auto r = db_.Exec("COMMIT"); !r) {
    (void)db_.Exec("ROLLBACK");
    return MakeError("commit failed: " + r.error());
  }
  return victims.size();
}

Result<std::size_t> SqliteStore::PurgeWith(const std::vector<std::string_view>& sql,
                                           std::int64_t cutoff) {
  DMARC_TRY(db_.Exec("BEGIN IMMEDIATE"));
  std::size_t changes = 0;
  auto run = [&]() -> Result<bool> {
    for (std::size_t i = 0; i < sql.size(); ++i) {
      auto s = db_.Prepare(sql[i]);
      if (!s) return MakeError(s.error());
      s->Bind(1, cutoff);
      DMARC_TRY(s->Run());
      if (i + 1 == sql.size()) changes = static_cast<std::size_t>(db_.Changes());
    }
    return true;
  };
  if (auto r = run(); !r) {
    (void)db_.Exec("ROLLBACK");
    return MakeError(r.error());
  }
  DMARC_TRY(db_.Exec("COMMIT"));
  return changes;
}

Result<PurgeResult> SqliteStore::Purge(std::int64_t cutoff) {
  PurgeResult result;
  for (;;) {
    auto n = PurgeAggregateBatch(cutoff, result);
    if (!n) return MakeError("purge of aggregate reports failed: " + n.error());
    if (*n < kPurgeBatch) break;
  }
  // Each kind in its own transaction; its last statement's changes are what it counts.
  const struct {
    const char* what;
    std::vector<std::string_view> sql;
    std::size_t* count;
  } kinds[] = {
      {"failure reports",
       {"DELETE FROM failure_reports WHERE arrival_ts < ?1"},
       &result.failure_reports},
      {"SMTP TLS reports",
       {"DELETE FROM smtp_tls_failure_details WHERE policy IN (SELECT p.id FROM"
        " smtp_tls_policies p JOIN smtp_tls_reports r ON r.id = p.report WHERE r.end_ts < ?1)",
        "DELETE FROM smtp_tls_policies WHERE report IN (SELECT id FROM smtp_tls_reports"
        " WHERE end_ts < ?1)",
        "DELETE FROM smtp_tls_reports WHERE end_ts < ?1"},
       &result.smtp_tls_reports},
      // The blobs go first (those only old rejections use), then the rejections themselves.
      {"rejected inputs",
       {"DELETE FROM rejected_blobs WHERE sha256 IN (SELECT sha256 FROM rejected_inputs"
        " WHERE received_at < ?1) AND sha256 NOT IN (SELECT sha256 FROM"
        " rejected_inputs WHERE received_at >= ?1)",
        "DELETE FROM rejected_inputs WHERE received_at < ?1"},
       &result.rejected_inputs},
  };
  for (const auto& kind : kinds) {
    auto n = PurgeWith(kind.sql, cutoff);
    if (!n) return MakeError(fmt::format("purge of {} failed: {}", kind.what, n.error()));
    *kind.count = *n;
  }
  return result;
}

Result<PurgeResult> SqliteStore::CountPurge(std::int64_t cutoff) {
  PurgeResult r;
  const struct {
    std::string_view sql;
    std::size_t* first;
    std::size_t* second;
  } counts[] = {
      {"SELECT count(*), coalesce(sum(record_count), 0) FROM aggregate_reports WHERE end_ts < ?1",
       &r.aggregate_reports, &r.aggregate_records},
      {"SELECT count(*) FROM failure_reports WHERE arrival_ts < ?1", &r.failure_reports, nullptr},
      {"SELECT count(*) FROM smtp_tls_reports WHERE end_ts < ?1", &r.smtp_tls_reports, nullptr},
      {"SELECT count(*) FROM rejected_inputs WHERE received_at < ?1", &r.rejected_inputs, nullptr},
  };
  for (const auto& c : counts) {
    auto s = db_.Prepare(c.sql);
    if (!s) return MakeError(s.error());
    s->Bind(1, cutoff);
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) continue;
    *c.first = static_cast<std::size_t>(s->Int(0));
    if (c.second) *c.second = static_cast<std::size_t>(s->Int(1));
  }
  return r;
}

Result<bool> SqliteStore::Compact() {
  // VACUUM rewrites the file without the free pages; the checkpoints empty the WAL around it.
  for (const char* sql :
       {"PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"}) {
    if (auto r = db_.Exec(sql); !r) return MakeError(fmt::format("{}: {}", sql, r.error()));
  }
  return true;
}

}  // namespace dmarc::store::sqlite_impl
