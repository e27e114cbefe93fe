#include "store/sqlite/sqlite_store.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "base/time.h"
#include "sinks/report_json.h"
#include "store/sqlite/sqlite_db.h"

namespace dmarc::store {

namespace {

using sqlite::Database;
using sqlite::Statement;

// Each entry migrates the schema from version i to i + 1; applied in one transaction on open.
// Never edit a released entry: append a new one.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE aggregate_reports (
  id INTEGER PRIMARY KEY,
  org_name TEXT NOT NULL,
  org_email TEXT NOT NULL,
  org_extra_contact_info TEXT,
  report_id TEXT NOT NULL,
  begin_ts INTEGER NOT NULL,
  end_ts INTEGER NOT NULL,
  domain TEXT NOT NULL,
  xml_schema TEXT NOT NULL,
  xml_namespace TEXT,
  generator TEXT,
  timespan_requires_normalization INTEGER NOT NULL,
  original_timespan_seconds INTEGER NOT NULL,
  errors TEXT NOT NULL,
  adkim TEXT NOT NULL,
  aspf TEXT NOT NULL,
  p TEXT NOT NULL,
  sp TEXT NOT NULL,
  pct TEXT,
  fo TEXT,
  np TEXT,
  testing TEXT,
  discovery_method TEXT,
  origin TEXT NOT NULL,
  imported_at INTEGER NOT NULL,
  -- The report's rows are aggregate_records first_record .. first_record + record_count - 1:
  -- one writer inserts them consecutively in one transaction, so no index on `report` is needed.
  first_record INTEGER,
  record_count INTEGER NOT NULL DEFAULT 0,
  UNIQUE (org_name, report_id, domain, begin_ts, end_ts)
);
CREATE INDEX aggregate_reports_domain_begin ON aggregate_reports (domain, begin_ts);
CREATE INDEX aggregate_reports_begin ON aggregate_reports (begin_ts);

CREATE TABLE aggregate_records (
  id INTEGER PRIMARY KEY,
  report INTEGER NOT NULL REFERENCES aggregate_reports (id) ON DELETE CASCADE,
  domain TEXT NOT NULL,
  day INTEGER NOT NULL,
  interval_begin INTEGER NOT NULL,
  interval_end INTEGER NOT NULL,
  normalized_timespan INTEGER NOT NULL,
  source_ip TEXT NOT NULL,
  source_country TEXT,
  source_reverse_dns TEXT,
  source_base_domain TEXT,
  source_name TEXT,
  source_type TEXT,
  source_asn INTEGER,
  source_as_name TEXT,
  source_as_domain TEXT,
  count INTEGER NOT NULL,
  spf_aligned INTEGER NOT NULL,
  dkim_aligned INTEGER NOT NULL,
  dmarc_aligned INTEGER NOT NULL,
  disposition TEXT NOT NULL,
  policy_dkim TEXT NOT NULL,
  policy_spf TEXT NOT NULL,
  header_from TEXT NOT NULL,
  envelope_from TEXT,
  envelope_to TEXT
);
-- No secondary index yet: every index costs each of millions of inserts, and today's queries
-- use the rollups and id ranges. The dashboard adds the ones its queries need, measured.

CREATE TABLE aggregate_dkim (
  record INTEGER NOT NULL REFERENCES aggregate_records (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  domain TEXT NOT NULL,
  selector TEXT NOT NULL,
  result TEXT NOT NULL,
  human_result TEXT,
  PRIMARY KEY (record, position)
) WITHOUT ROWID;

CREATE TABLE aggregate_spf (
  record INTEGER NOT NULL REFERENCES aggregate_records (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  domain TEXT NOT NULL,
  scope TEXT NOT NULL,
  result TEXT NOT NULL,
  human_result TEXT,
  PRIMARY KEY (record, position)
) WITHOUT ROWID;

CREATE TABLE aggregate_overrides (
  record INTEGER NOT NULL REFERENCES aggregate_records (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  type TEXT,
  comment TEXT,
  PRIMARY KEY (record, position)
) WITHOUT ROWID;

-- Daily rollups, maintained in the same transaction as the records, so stats never scan them.
CREATE TABLE daily_messages (
  day INTEGER NOT NULL,
  domain TEXT NOT NULL,
  header_from TEXT NOT NULL,
  disposition TEXT NOT NULL,
  records INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  dmarc_pass INTEGER NOT NULL,
  PRIMARY KEY (day, domain, header_from, disposition)
) WITHOUT ROWID;

-- Every source IP ever seen, numbered: distinct counts compare integers, not text.
CREATE TABLE source_ips (
  id INTEGER PRIMARY KEY,
  ip TEXT NOT NULL UNIQUE
);

CREATE TABLE daily_sources (
  day INTEGER NOT NULL,
  domain TEXT NOT NULL,
  ip INTEGER NOT NULL REFERENCES source_ips (id),
  messages INTEGER NOT NULL,
  PRIMARY KEY (day, domain, ip)
) WITHOUT ROWID;

CREATE TABLE failure_reports (
  id INTEGER PRIMARY KEY,
  arrival_ts INTEGER NOT NULL,
  reported_domain TEXT,
  source_ip TEXT,
  feedback_type TEXT,
  data TEXT NOT NULL,
  origin TEXT NOT NULL,
  imported_at INTEGER NOT NULL
);
CREATE INDEX failure_reports_arrival ON failure_reports (arrival_ts);

CREATE TABLE smtp_tls_reports (
  id INTEGER PRIMARY KEY,
  organization_name TEXT NOT NULL,
  report_id TEXT NOT NULL,
  begin_ts INTEGER NOT NULL,
  end_ts INTEGER NOT NULL,
  contact_info TEXT,
  origin TEXT NOT NULL,
  imported_at INTEGER NOT NULL,
  UNIQUE (organization_name, report_id, begin_ts, end_ts)
);
CREATE INDEX smtp_tls_reports_begin ON smtp_tls_reports (begin_ts);

CREATE TABLE smtp_tls_policies (
  id INTEGER PRIMARY KEY,
  report INTEGER NOT NULL REFERENCES smtp_tls_reports (id) ON DELETE CASCADE,
  policy_domain TEXT NOT NULL,
  policy_type TEXT NOT NULL,
  policy_strings TEXT,
  mx_host_patterns TEXT,
  successful_session_count INTEGER NOT NULL,
  failed_session_count INTEGER NOT NULL
);
CREATE INDEX smtp_tls_policies_report ON smtp_tls_policies (report);

CREATE TABLE smtp_tls_failure_details (
  policy INTEGER NOT NULL REFERENCES smtp_tls_policies (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  result_type TEXT NOT NULL,
  failed_session_count INTEGER NOT NULL,
  sending_mta_ip TEXT,
  receiving_ip TEXT,
  receiving_mx_hostname TEXT,
  receiving_mx_helo TEXT,
  additional_info_uri TEXT,
  failure_reason_code TEXT,
  PRIMARY KEY (policy, position)
) WITHOUT ROWID;

CREATE TABLE rejected_blobs (
  sha256 TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  raw BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE rejected_inputs (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  origin TEXT NOT NULL,
  reason TEXT NOT NULL,
  sha256 TEXT NOT NULL REFERENCES rejected_blobs (sha256),
  UNIQUE (sha256, origin, reason)
);
CREATE INDEX rejected_inputs_received ON rejected_inputs (received_at);

-- Reverse DNS and geolocation results, including failures, with an expiry (enrichment).
CREATE TABLE ip_info_cache (
  ip TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  reverse_dns TEXT,
  base_domain TEXT,
  country TEXT,
  asn INTEGER,
  as_name TEXT,
  as_domain TEXT,
  resolved_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql",
    // 2: failure and SMTP TLS reports are stored (issue #5): the failure report's dedup key,
    // the recoveries made while parsing an SMTP TLS report.
    R"sql(
ALTER TABLE failure_reports ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX failure_reports_dedup ON failure_reports (dedup_key);
CREATE INDEX failure_reports_domain_arrival ON failure_reports (reported_domain, arrival_ts);
ALTER TABLE smtp_tls_reports ADD COLUMN errors TEXT NOT NULL DEFAULT '[]';
CREATE INDEX smtp_tls_policies_domain ON smtp_tls_policies (policy_domain);
)sql",
    // Enrichment: when a record's source fields were last filled from reverse DNS (NULL: never,
    // e.g. imported offline), so `enrich --db` can find records whose data is missing or stale.
    R"sql(
ALTER TABLE aggregate_records ADD COLUMN source_enriched_at INTEGER;
)sql",
    // The dashboard: rollups for its views, and the records of one source IP (its drill-down).
    R"sql(
CREATE INDEX aggregate_records_source_ip ON aggregate_records (source_ip);

-- Rollups for the dashboard, written with the records as daily_messages is. daily_results keeps
-- SPF and DKIM alignment and the DMARC result apart; daily_sources gains the same per IP.
CREATE TABLE daily_results (
  day INTEGER NOT NULL,
  domain TEXT NOT NULL,
  header_from TEXT NOT NULL,
  disposition TEXT NOT NULL,
  dmarc_aligned INTEGER NOT NULL,
  spf_aligned INTEGER NOT NULL,
  dkim_aligned INTEGER NOT NULL,
  records INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  PRIMARY KEY (day, domain, header_from, disposition, dmarc_aligned, spf_aligned, dkim_aligned)
) WITHOUT ROWID;
INSERT INTO daily_results
  SELECT day, domain, header_from, disposition, dmarc_aligned, spf_aligned, dkim_aligned,
         count(*), sum(count)
  FROM aggregate_records GROUP BY 1, 2, 3, 4, 5, 6, 7;

ALTER TABLE daily_sources ADD COLUMN records INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_sources ADD COLUMN dmarc_pass INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_sources ADD COLUMN spf_aligned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_sources ADD COLUMN dkim_aligned INTEGER NOT NULL DEFAULT 0;
DELETE FROM daily_sources;
INSERT INTO daily_sources (day, domain, ip, messages, records, dmarc_pass, spf_aligned,
                           dkim_aligned)
  SELECT r.day, r.domain, s.id, sum(r.count), count(*), sum(r.count * r.dmarc_aligned),
         sum(r.count * r.spf_aligned), sum(r.count * r.dkim_aligned)
  FROM aggregate_records r JOIN source_ips s ON s.ip = r.source_ip GROUP BY 1, 2, 3;
-- daily_sources summed over all days: views without a date range read one row per IP.
CREATE TABLE source_totals (
  domain TEXT NOT NULL,
  ip INTEGER NOT NULL REFERENCES source_ips (id),
  records INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  dmarc_pass INTEGER NOT NULL,
  spf_aligned INTEGER NOT NULL,
  dkim_aligned INTEGER NOT NULL,
  PRIMARY KEY (domain, ip)
) WITHOUT ROWID;
INSERT INTO source_totals
  SELECT domain, ip, sum(records), sum(messages), sum(dmarc_pass), sum(spf_aligned),
         sum(dkim_aligned)
  FROM daily_sources GROUP BY domain, ip;

-- Messages of each aggregate report, so lists of reports and reporters need not sum rows.
CREATE TABLE report_totals (
  report INTEGER PRIMARY KEY REFERENCES aggregate_reports (id) ON DELETE CASCADE,
  messages INTEGER NOT NULL,
  dmarc_pass INTEGER NOT NULL
);
INSERT INTO report_totals
  SELECT report, sum(count), sum(count * dmarc_aligned) FROM aggregate_records GROUP BY report;
)sql",
    // The sending service per address beside its other details, so the dashboard groups sources
    // by service from one row per address instead of every record; filled from the records.
    R"sql(
ALTER TABLE ip_info_cache ADD COLUMN name TEXT;
ALTER TABLE ip_info_cache ADD COLUMN type TEXT;
INSERT INTO ip_info_cache (ip, status, base_domain, country, asn, as_name, as_domain, name, type,
                           resolved_at, expires_at)
  SELECT source_ip, 'unknown', max(source_base_domain), max(source_country), max(source_asn),
         max(source_as_name), max(source_as_domain), max(source_name), max(source_type), 0, 0
  FROM aggregate_records WHERE source_name IS NOT NULL OR source_country IS NOT NULL
    OR source_base_domain IS NOT NULL OR source_asn IS NOT NULL
  GROUP BY source_ip
  ON CONFLICT (ip) DO UPDATE SET name = excluded.name, type = excluded.type,
    base_domain = coalesce(ip_info_cache.base_domain, excluded.base_domain),
    country = coalesce(ip_info_cache.country, excluded.country),
    asn = coalesce(ip_info_cache.asn, excluded.asn),
    as_name = coalesce(ip_info_cache.as_name, excluded.as_name),
    as_domain = coalesce(ip_info_cache.as_domain, excluded.as_domain);
)sql",
    // The XML each aggregate report was parsed from, as received, gzip-compressed (`encoding`);
    // `size` is its uncompressed length. Reports imported before have none.
    R"sql(
CREATE TABLE aggregate_raw (
  report INTEGER PRIMARY KEY REFERENCES aggregate_reports (id) ON DELETE CASCADE,
  encoding TEXT NOT NULL,
  size INTEGER NOT NULL,
  bytes BLOB NOT NULL
);
)sql",
    // source_totals over every policy domain: views without a domain or days (the first page a
    // person opens) read one row per address. The records of one address, and of one header-from
    // domain, by size: the largest are the first entries of the index (the drill-downs).
    R"sql(
DROP INDEX aggregate_records_source_ip;
CREATE INDEX aggregate_records_source_ip ON aggregate_records (source_ip, count DESC);
CREATE INDEX aggregate_records_header_from ON aggregate_records (header_from, count DESC);
CREATE TABLE ip_totals (
  ip INTEGER PRIMARY KEY REFERENCES source_ips (id),
  records INTEGER NOT NULL,
  messages INTEGER NOT NULL,
  dmarc_pass INTEGER NOT NULL,
  spf_aligned INTEGER NOT NULL,
  dkim_aligned INTEGER NOT NULL
);
INSERT INTO ip_totals
  SELECT ip, sum(records), sum(messages), sum(dmarc_pass), sum(spf_aligned), sum(dkim_aligned)
  FROM source_totals GROUP BY ip;
)sql",
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

class SqliteStore final : public ReportStore {
 public:
  SqliteStore(Database db, std::string path, OpenOptions options)
      : db_(std::move(db)), path_(std::move(path)), options_(options) {}

  Result<bool> Init() {
    // WAL lets readers (stats, the dashboard) run while a writer commits. synchronous=FULL makes
    // every commit durable, power loss included; batching keeps commits (and fsyncs) few.
    // Foreign keys are declared for readers of the schema but not enforced: the one writer
    // inserts parents and children in the same transaction, and a check per child row would
    // cost a lookup for each of millions of rows.
    const std::string cache = fmt::format("PRAGMA cache_size=-{}", options_.cache_kib);
    // Switching a new file to WAL needs it to itself for a moment, and SQLite answers "locked"
    // at once (no busy handler) when another connection is opening it too (`run`'s threads, two
    // importers started together): try again for up to the busy timeout.
    for (int waited_ms = 0;; waited_ms += 20) {
      auto r = db_.Exec("PRAGMA journal_mode=WAL");
      if (r) break;
      if (waited_ms >= options_.busy_timeout_ms || r.error_kind() != ErrorKind::kBusy) {
        return MakeError(r.error_kind(), fmt::format("PRAGMA journal_mode=WAL: {}", r.error()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (const char* pragma : {"PRAGMA synchronous=FULL", "PRAGMA temp_store=MEMORY", cache.c_str(),
                               "PRAGMA wal_autocheckpoint=10000"}) {
      if (auto r = db_.Exec(pragma); !r) return MakeError(fmt::format("{}: {}", pragma, r.error()));
    }
    if (auto r = Migrate(); !r) return r;
    return PrepareStatements();
  }

  Result<BatchResult> Store(const Batch& batch) override {
    pending_ip_ids_.clear();
    auto result = InWriteTransaction([&] { return StoreInTransaction(batch); });
    if (result) ip_ids_.merge(pending_ip_ids_);
    return result;
  }

  Result<Stats> QueryStats(const Filter& filter) override;
  Result<std::size_t> ForEachAggregate(
      const Filter& filter, const std::function<void(model::AggregateReport&&)>& visit) override;
  Result<std::size_t> ForEachFailure(
      const Filter& filter, const std::function<void(model::FailureReport&&)>& visit) override;
  Result<std::size_t> ForEachSmtpTls(
      const Filter& filter, const std::function<void(model::SmtpTlsReport&&)>& visit) override;
  Result<std::vector<RejectedInput>> Rejections() override;
  Result<std::vector<bool>> AggregatesStored(
      const std::vector<const model::AggregateReport*>& reports) override;
  Result<std::vector<IpInfoRow>> GetIpInfo(const std::vector<std::string>& ips,
                                           std::int64_t now) override;
  Result<bool> PutIpInfo(const std::vector<IpInfoRow>& rows) override;
  Result<bool> PutSourceInfo(const std::vector<model::Source>& sources) override;
  Result<std::vector<std::string>> SourceIpsToEnrich(std::int64_t enriched_before) override;
  Result<std::size_t> UpdateSources(const std::vector<model::Source>& sources,
                                    std::int64_t enriched_at,
                                    std::int64_t enriched_before) override;
  Result<PurgeResult> Purge(std::int64_t cutoff) override;
  Result<bool> Compact() override;
  std::uint64_t SizeOnDisk() const override {
    std::uint64_t total = 0;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(path_ + suffix, ec);
      if (!ec) total += size;
    }
    return total;
  }
  Result<bool> Ping() override { return db_.Exec("SELECT count(*) FROM sqlite_master"); }
  std::string Describe() const override { return "sqlite:" + path_; }

 private:
  Result<bool> Migrate() {
    if (auto r = db_.Exec("BEGIN IMMEDIATE"); !r) return r;
    auto version_stmt = db_.Prepare("PRAGMA user_version");
    if (!version_stmt) return MakeError(version_stmt.error());
    auto step = version_stmt->Step();
    if (!step) return MakeError(step.error());
    const int version = static_cast<int>(version_stmt->Int(0));
    version_stmt = Statement();
    if (version > kSchemaVersion) {
      (void)db_.Exec("ROLLBACK");
      return MakeError(fmt::format("the store has schema version {}, newer than this program's {}",
                                   version, kSchemaVersion));
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      if (auto r = db_.Exec(kMigrations[v]); !r) {
        (void)db_.Exec("ROLLBACK");
        return MakeError(fmt::format("schema migration {} failed: {}", v + 1, r.error()));
      }
    }
    if (auto r = db_.Exec(fmt::format("PRAGMA user_version={}", kSchemaVersion)); !r) return r;
    return db_.Exec("COMMIT");
  }

  Result<bool> PrepareStatements() {
    auto prep = [&](Statement& s, std::string_view sql) -> Result<bool> {
      auto r = db_.Prepare(sql);
      if (!r) return MakeError(r.error());
      s = std::move(r).value();
      return true;
    };
    const std::pair<Statement*, std::string_view> all[] = {
        {&insert_report_,
         "INSERT INTO aggregate_reports (org_name, org_email, org_extra_contact_info, report_id,"
         " begin_ts, end_ts, domain, xml_schema, xml_namespace, generator,"
         " timespan_requires_normalization, original_timespan_seconds, errors, adkim, aspf, p,"
         " sp, pct, fo, np, testing, discovery_method, origin, imported_at)"
         " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,"
         "?22,?23,?24) ON CONFLICT DO NOTHING"},
        {&insert_record_,
         "INSERT INTO aggregate_records (report, domain, day, interval_begin, interval_end,"
         " normalized_timespan, source_ip, source_country, source_reverse_dns,"
         " source_base_domain, source_name, source_type, source_asn, source_as_name,"
         " source_as_domain, count, spf_aligned, dkim_aligned, dmarc_aligned, disposition,"
         " policy_dkim, policy_spf, header_from, envelope_from, envelope_to, source_enriched_at)"
         " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,"
         "?22,?23,?24,?25,?26)"},
        {&insert_dkim_,
         "INSERT INTO aggregate_dkim (record, position, domain, selector, result, human_result)"
         " VALUES (?1,?2,?3,?4,?5,?6)"},
        {&insert_spf_,
         "INSERT INTO aggregate_spf (record, position, domain, scope, result, human_result)"
         " VALUES (?1,?2,?3,?4,?5,?6)"},
        {&insert_override_,
         "INSERT INTO aggregate_overrides (record, position, type, comment) VALUES (?1,?2,?3,?4)"},
        {&upsert_daily_messages_,
         "INSERT INTO daily_messages (day, domain, header_from, disposition, records, messages,"
         " dmarc_pass) VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT DO UPDATE SET"
         " records = records + excluded.records, messages = messages + excluded.messages,"
         " dmarc_pass = dmarc_pass + excluded.dmarc_pass"},
        {&upsert_daily_sources_,
         "INSERT INTO daily_sources (day, domain, ip, messages, records, dmarc_pass, spf_aligned,"
         " dkim_aligned) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT DO UPDATE SET"
         " messages = messages + excluded.messages, records = records + excluded.records,"
         " dmarc_pass = dmarc_pass + excluded.dmarc_pass,"
         " spf_aligned = spf_aligned + excluded.spf_aligned,"
         " dkim_aligned = dkim_aligned + excluded.dkim_aligned"},
        {&upsert_source_totals_,
         "INSERT INTO source_totals (domain, ip, records, messages, dmarc_pass, spf_aligned,"
         " dkim_aligned) VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT DO UPDATE SET"
         " records = records + excluded.records, messages = messages + excluded.messages,"
         " dmarc_pass = dmarc_pass + excluded.dmarc_pass,"
         " spf_aligned = spf_aligned + excluded.spf_aligned,"
         " dkim_aligned = dkim_aligned + excluded.dkim_aligned"},
        {&upsert_ip_totals_,
         "INSERT INTO ip_totals (ip, records, messages, dmarc_pass, spf_aligned, dkim_aligned)"
         " VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT DO UPDATE SET"
         " records = records + excluded.records, messages = messages + excluded.messages,"
         " dmarc_pass = dmarc_pass + excluded.dmarc_pass,"
         " spf_aligned = spf_aligned + excluded.spf_aligned,"
         " dkim_aligned = dkim_aligned + excluded.dkim_aligned"},
        {&insert_report_totals_,
         "INSERT INTO report_totals (report, messages, dmarc_pass) VALUES (?1,?2,?3)"},
        {&insert_raw_,
         "INSERT INTO aggregate_raw (report, encoding, size, bytes) VALUES (?1,'gzip',?2,?3)"},
        {&upsert_daily_results_,
         "INSERT INTO daily_results (day, domain, header_from, disposition, dmarc_aligned,"
         " spf_aligned, dkim_aligned, records, messages) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"
         " ON CONFLICT DO UPDATE SET records = records + excluded.records,"
         " messages = messages + excluded.messages"},
        {&insert_source_ip_, "INSERT INTO source_ips (ip) VALUES (?1) ON CONFLICT DO NOTHING"},
        {&select_source_ip_, "SELECT id FROM source_ips WHERE ip = ?1"},
        {&set_record_range_,
         "UPDATE aggregate_reports SET first_record = ?2, record_count = ?3 WHERE id = ?1"},
        {&insert_blob_,
         "INSERT INTO rejected_blobs (sha256, size, raw) VALUES (?1,?2,?3) ON CONFLICT DO NOTHING"},
        {&insert_failure_,
         "INSERT INTO failure_reports (arrival_ts, reported_domain, source_ip, feedback_type,"
         " data, origin, imported_at, dedup_key) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"
         " ON CONFLICT DO NOTHING"},
        {&insert_tls_report_,
         "INSERT INTO smtp_tls_reports (organization_name, report_id, begin_ts, end_ts,"
         " contact_info, origin, imported_at, errors) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"
         " ON CONFLICT DO NOTHING"},
        {&insert_tls_policy_,
         "INSERT INTO smtp_tls_policies (report, policy_domain, policy_type, policy_strings,"
         " mx_host_patterns, successful_session_count, failed_session_count)"
         " VALUES (?1,?2,?3,?4,?5,?6,?7)"},
        {&insert_tls_detail_,
         "INSERT INTO smtp_tls_failure_details (policy, position, result_type,"
         " failed_session_count, sending_mta_ip, receiving_ip, receiving_mx_hostname,"
         " receiving_mx_helo, additional_info_uri, failure_reason_code)"
         " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"},
        {&insert_rejection_,
         "INSERT INTO rejected_inputs (received_at, origin, reason, sha256) VALUES (?1,?2,?3,?4)"
         " ON CONFLICT DO NOTHING"},
    };
    for (const auto& [stmt, sql] : all) {
      if (auto r = prep(*stmt, sql); !r) return r;
    }
    return true;
  }

  Result<BatchResult> StoreInTransaction(const Batch& batch);
  // Runs a query function in one read transaction, so it sees one snapshot.
  template <class F>
  auto InReadTransaction(F&& run) -> decltype(run()) {
    if (auto b = db_.Exec("BEGIN"); !b) return MakeError(b.error());
    auto r = run();
    (void)db_.Exec("COMMIT");
    return r;
  }
  Result<bool> StoreFailures(const Batch& batch, std::int64_t now, BatchResult& result);
  Result<bool> StoreSmtpTls(const Batch& batch, std::int64_t now, BatchResult& result);

  // Runs body in one write transaction: committed when it succeeds, rolled back otherwise.
  template <class Body>
  auto InWriteTransaction(Body&& body) -> decltype(body()) {
    if (auto r = db_.Exec("BEGIN IMMEDIATE"); !r) {
      return MakeError("cannot start a write: " + r.error());
    }
    auto result = body();
    if (!result) {
      (void)db_.Exec("ROLLBACK");
      return result;
    }
    if (auto r = db_.Exec("COMMIT"); !r) {
      (void)db_.Exec("ROLLBACK");
      return MakeError("commit failed: " + r.error());
    }
    return result;
  }
  // Purges up to kPurgeBatch aggregate reports ended before cutoff; returns how many.
  Result<std::size_t> PurgeAggregateBatch(std::int64_t cutoff, PurgeResult& result);
  // Runs one statement binding ?1 = cutoff inside its own write transaction; returns changes.
  Result<std::size_t> PurgeWith(const std::vector<std::string_view>& sql, std::int64_t cutoff);

  Database db_;
  std::string path_;
  OpenOptions options_;
  Statement insert_report_, insert_record_, insert_dkim_, insert_spf_, insert_override_,
      upsert_daily_messages_, upsert_daily_sources_, upsert_daily_results_, insert_source_ip_,
      select_source_ip_, insert_report_totals_, upsert_source_totals_, upsert_ip_totals_,
      set_record_range_, insert_blob_, insert_rejection_, insert_failure_, insert_tls_report_,
      insert_tls_policy_, insert_tls_detail_, insert_raw_;
  // Ids of source IPs known to be committed (ids never change), and those a batch in progress
  // added; merged into the first only once that batch commits.
  std::unordered_map<std::string, std::int64_t> ip_ids_;
  std::unordered_map<std::string, std::int64_t> pending_ip_ids_;
};

Result<BatchResult> SqliteStore::StoreInTransaction(const Batch& batch) {
  BatchResult result;
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  struct Totals {
    std::int64_t records = 0, messages = 0, dmarc_pass = 0;
  };
  std::map<std::tuple<std::int64_t, std::string, std::string, std::string>, Totals> daily;
  struct SourceTotals {
    std::int64_t messages = 0, records = 0, dmarc_pass = 0, spf_aligned = 0, dkim_aligned = 0;
    void Add(const SourceTotals& o) {
      messages += o.messages;
      records += o.records;
      dmarc_pass += o.dmarc_pass;
      spf_aligned += o.spf_aligned;
      dkim_aligned += o.dkim_aligned;
    }
    // Binds records, messages, dmarc_pass, spf_aligned, dkim_aligned from parameter first on.
    void BindTo(Statement& s, int first) const {
      s.Bind(first, records)
          .Bind(first + 1, messages)
          .Bind(first + 2, dmarc_pass)
          .Bind(first + 3, spf_aligned)
          .Bind(first + 4, dkim_aligned);
    }
  };
  std::map<std::tuple<std::int64_t, std::string, std::string>, SourceTotals> sources;
  struct ResultTotals {
    std::int64_t records = 0, messages = 0;
  };
  std::map<std::tuple<std::int64_t, std::string, std::string, std::string, bool, bool, bool>,
           ResultTotals>
      results;

  for (const auto& item : batch.aggregates) {
    const model::AggregateReport& r = *item.report;
    const auto& m = r.report_metadata;
    const auto& p = r.policy_published;
    const std::string errors = nlohmann::json(m.errors).dump();
    insert_report_.Bind(1, m.org_name)
        .Bind(2, m.org_email)
        .Bind(3, m.org_extra_contact_info)
        .Bind(4, m.report_id)
        .Bind(5, m.begin)
        .Bind(6, m.end)
        .Bind(7, p.domain)
        .Bind(8, r.xml_schema)
        .Bind(9, r.xml_namespace)
        .Bind(10, m.generator)
        .Bind(11, std::int64_t{m.timespan_requires_normalization})
        .Bind(12, m.original_timespan_seconds)
        .Bind(13, errors)
        .Bind(14, p.adkim)
        .Bind(15, p.aspf)
        .Bind(16, p.p)
        .Bind(17, p.sp)
        .Bind(18, p.pct)
        .Bind(19, p.fo)
        .Bind(20, p.np)
        .Bind(21, p.testing)
        .Bind(22, p.discovery_method)
        .Bind(23, item.origin)
        .Bind(24, now);
    DMARC_TRY(insert_report_.Run());
    if (db_.Changes() == 0) {
      ++result.duplicate_reports;
      continue;
    }
    ++result.new_reports;
    const std::int64_t report_row = db_.LastInsertId();
    std::int64_t first_record = 0;
    std::int64_t report_messages = 0, report_pass = 0;
    for (const auto& rec : r.records) {
      const std::int64_t day = FloorDay(rec.interval_begin);
      const auto& s = rec.source;
      const auto& ev = rec.policy_evaluated;
      const auto count = static_cast<std::int64_t>(rec.count);
      insert_record_.Bind(1, report_row)
          .Bind(2, p.domain)
          .Bind(3, day)
          .Bind(4, rec.interval_begin)
          .Bind(5, rec.interval_end)
          .Bind(6, std::int64_t{rec.normalized_timespan})
          .Bind(7, s.ip_address)
          .Bind(8, s.country)
          .Bind(9, s.reverse_dns)
          .Bind(10, s.base_domain)
          .Bind(11, s.name)
          .Bind(12, s.type)
          .Bind(13, s.asn)
          .Bind(14, s.as_name)
          .Bind(15, s.as_domain)
          .Bind(16, count)
          .Bind(17, std::int64_t{rec.alignment.spf})
          .Bind(18, std::int64_t{rec.alignment.dkim})
          .Bind(19, std::int64_t{rec.alignment.dmarc})
          .Bind(20, ev.disposition)
          .Bind(21, ev.dkim)
          .Bind(22, ev.spf)
          .Bind(23, rec.identifiers.header_from)
          .Bind(24, rec.identifiers.envelope_from)
          .Bind(25, rec.identifiers.envelope_to);
      // Left unbound (NULL) when the sources were not enriched from DNS.
      if (batch.sources_enriched_at) insert_record_.Bind(26, batch.sources_enriched_at);
      DMARC_TRY(insert_record_.Run());
      const std::int64_t record_row = db_.LastInsertId();
      if (first_record == 0) first_record = record_row;
      ++result.new_records;
      std::int64_t pos = 0;
      for (const auto& d : rec.dkim) {
        insert_dkim_.Bind(1, record_row)
            .Bind(2, pos++)
            .Bind(3, d.domain)
            .Bind(4, d.selector)
            .Bind(5, d.result)
            .Bind(6, d.human_result);
        DMARC_TRY(insert_dkim_.Run());
      }
      pos = 0;
      for (const auto& x : rec.spf) {
        insert_spf_.Bind(1, record_row)
            .Bind(2, pos++)
            .Bind(3, x.domain)
            .Bind(4, x.scope)
            .Bind(5, x.result)
            .Bind(6, x.human_result);
        DMARC_TRY(insert_spf_.Run());
      }
      pos = 0;
      for (const auto& o : ev.policy_override_reasons) {
        insert_override_.Bind(1, record_row).Bind(2, pos++).Bind(3, o.type).Bind(4, o.comment);
        DMARC_TRY(insert_override_.Run());
      }
      Totals& t = daily[{day, p.domain, rec.identifiers.header_from, ev.disposition}];
      t.records += 1;
      t.messages += count;
      if (rec.alignment.dmarc) t.dmarc_pass += count;
      SourceTotals& st = sources[{day, p.domain, s.ip_address}];
      st.messages += count;
      st.records += 1;
      if (rec.alignment.dmarc) st.dmarc_pass += count;
      if (rec.alignment.spf) st.spf_aligned += count;
      if (rec.alignment.dkim) st.dkim_aligned += count;
      ResultTotals& rt = results[{day, p.domain, rec.identifiers.header_from, ev.disposition,
                                  rec.alignment.dmarc, rec.alignment.spf, rec.alignment.dkim}];
      rt.records += 1;
      rt.messages += count;
      report_messages += count;
      if (rec.alignment.dmarc) report_pass += count;
    }
    insert_report_totals_.Bind(1, report_row).Bind(2, report_messages).Bind(3, report_pass);
    DMARC_TRY(insert_report_totals_.Run());
    if (!item.raw_xml_gzip.empty()) {
      insert_raw_.Bind(1, report_row)
          .Bind(2, static_cast<std::int64_t>(item.raw_xml_size))
          .BindBlob(3, item.raw_xml_gzip);
      DMARC_TRY(insert_raw_.Run());
    }
    if (!r.records.empty()) {
      set_record_range_.Bind(1, report_row)
          .Bind(2, first_record)
          .Bind(3, static_cast<std::int64_t>(r.records.size()));
      DMARC_TRY(set_record_range_.Run());
    }
  }
  for (const auto& [key, t] : daily) {
    const auto& [day, domain, header_from, disposition] = key;
    upsert_daily_messages_.Bind(1, day)
        .Bind(2, domain)
        .Bind(3, header_from)
        .Bind(4, disposition)
        .Bind(5, t.records)
        .Bind(6, t.messages)
        .Bind(7, t.dmarc_pass);
    DMARC_TRY(upsert_daily_messages_.Run());
  }
  for (const auto& [key, rt] : results) {
    const auto& [day, domain, header_from, disposition, dmarc, spf, dkim] = key;
    upsert_daily_results_.Bind(1, day)
        .Bind(2, domain)
        .Bind(3, header_from)
        .Bind(4, disposition)
        .Bind(5, std::int64_t{dmarc})
        .Bind(6, std::int64_t{spf})
        .Bind(7, std::int64_t{dkim})
        .Bind(8, rt.records)
        .Bind(9, rt.messages);
    DMARC_TRY(upsert_daily_results_.Run());
  }
  std::map<std::pair<std::string_view, std::int64_t>, SourceTotals> all_days;
  for (const auto& [key, st] : sources) {
    const auto& [day, domain, ip] = key;
    std::int64_t ip_id;
    if (auto it = ip_ids_.find(ip); it != ip_ids_.end()) {
      ip_id = it->second;
    } else if (auto p = pending_ip_ids_.find(ip); p != pending_ip_ids_.end()) {
      ip_id = p->second;
    } else {
      insert_source_ip_.Bind(1, ip);
      DMARC_TRY(insert_source_ip_.Run());
      select_source_ip_.Bind(1, ip);
      auto row = select_source_ip_.Step();
      if (!row || !*row) {
        select_source_ip_.Reset();
        return MakeError("cannot number source IP " + ip);
      }
      ip_id = select_source_ip_.Int(0);
      select_source_ip_.Reset();
      pending_ip_ids_.emplace(ip, ip_id);
    }
    upsert_daily_sources_.Bind(1, day)
        .Bind(2, domain)
        .Bind(3, ip_id)
        .Bind(4, st.messages)
        .Bind(5, st.records)
        .Bind(6, st.dmarc_pass)
        .Bind(7, st.spf_aligned)
        .Bind(8, st.dkim_aligned);
    DMARC_TRY(upsert_daily_sources_.Run());
    all_days[{domain, ip_id}].Add(st);
  }
  std::map<std::int64_t, SourceTotals> per_ip;  // all_days over every policy domain
  for (const auto& [key, st] : all_days) {
    upsert_source_totals_.Bind(1, key.first).Bind(2, key.second);
    st.BindTo(upsert_source_totals_, 3);
    DMARC_TRY(upsert_source_totals_.Run());
    per_ip[key.second].Add(st);
  }
  for (const auto& [ip_id, st] : per_ip) {
    upsert_ip_totals_.Bind(1, ip_id);
    st.BindTo(upsert_ip_totals_, 2);
    DMARC_TRY(upsert_ip_totals_.Run());
  }
  for (const auto& rej : batch.rejections) {
    const std::string_view raw = std::string_view(rej.raw).substr(0, options_.max_raw_bytes);
    insert_blob_.Bind(1, rej.sha256).Bind(2, static_cast<std::int64_t>(rej.size)).BindBlob(3, raw);
    DMARC_TRY(insert_blob_.Run());
    insert_rejection_.Bind(1, rej.received_at)
        .Bind(2, rej.origin)
        .Bind(3, rej.reason)
        .Bind(4, rej.sha256);
    DMARC_TRY(insert_rejection_.Run());
    result.rejections += static_cast<std::size_t>(db_.Changes());
  }
  DMARC_TRY(StoreFailures(batch, now, result));
  DMARC_TRY(StoreSmtpTls(batch, now, result));
  return result;
}

Result<bool> SqliteStore::StoreFailures(const Batch& batch, std::int64_t now, BatchResult& result) {
  for (const auto& item : batch.failures) {
    const model::FailureReport& r = *item.report;
    const std::string data = sinks::FailureToJson(r).dump(
        -1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    const std::string key = FailureDedupKey(r);
    insert_failure_.Bind(1, r.arrival_ts)
        .Bind(2, r.reported_domain)
        .Bind(3, r.source.ip_address)
        .Bind(4, r.feedback_type)
        .Bind(5, data)
        .Bind(6, item.origin)
        .Bind(7, now)
        .Bind(8, key);
    DMARC_TRY(insert_failure_.Run());
    if (db_.Changes() == 0) {
      ++result.duplicate_failures;
    } else {
      ++result.new_failures;
    }
  }
  return true;
}

Result<bool> SqliteStore::StoreSmtpTls(const Batch& batch, std::int64_t now, BatchResult& result) {
  for (const auto& item : batch.smtp_tls) {
    const model::SmtpTlsReport& r = *item.report;
    const std::string errors =
        nlohmann::json(r.errors).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    insert_tls_report_.Bind(1, r.organization_name)
        .Bind(2, r.report_id)
        .Bind(3, r.begin)
        .Bind(4, r.end)
        .Bind(5, r.contact_info)
        .Bind(6, item.origin)
        .Bind(7, now)
        .Bind(8, errors);
    DMARC_TRY(insert_tls_report_.Run());
    if (db_.Changes() == 0) {
      ++result.duplicate_smtp_tls;
      continue;
    }
    ++result.new_smtp_tls;
    const std::int64_t report_row = db_.LastInsertId();
    for (const auto& p : r.policies) {
      // Lists are stored as JSON arrays, NULL when empty.
      const std::optional<std::string> strings =
          p.policy_strings.empty()
              ? std::nullopt
              : std::optional<std::string>(
                    nlohmann::json(p.policy_strings)
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      const std::optional<std::string> patterns =
          p.mx_host_patterns.empty()
              ? std::nullopt
              : std::optional<std::string>(
                    nlohmann::json(p.mx_host_patterns)
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      insert_tls_policy_.Bind(1, report_row)
          .Bind(2, p.policy_domain)
          .Bind(3, p.policy_type)
          .Bind(4, strings)
          .Bind(5, patterns)
          .Bind(6, static_cast<std::int64_t>(p.successful_session_count))
          .Bind(7, static_cast<std::int64_t>(p.failed_session_count));
      DMARC_TRY(insert_tls_policy_.Run());
      const std::int64_t policy_row = db_.LastInsertId();
      std::int64_t pos = 0;
      for (const auto& d : p.failure_details) {
        insert_tls_detail_.Bind(1, policy_row)
            .Bind(2, pos++)
            .Bind(3, d.result_type)
            .Bind(4, static_cast<std::int64_t>(d.failed_session_count))
            .Bind(5, d.sending_mta_ip)
            .Bind(6, d.receiving_ip)
            .Bind(7, d.receiving_mx_hostname)
            .Bind(8, d.receiving_mx_helo)
            .Bind(9, d.additional_info_uri)
            .Bind(10, d.failure_reason_code);
        DMARC_TRY(insert_tls_detail_.Run());
      }
    }
  }
  return true;
}

Result<Stats> SqliteStore::QueryStats(const Filter& filter) {
  Stats stats;
  const auto [from, to] = DayRange(filter);
  const std::string domain_clause = filter.domain ? " AND domain = ?3" : "";
  auto bind = [&](Statement& s) {
    s.Bind(1, from).Bind(2, to);
    if (filter.domain) s.Bind(3, *filter.domain);
  };
  // Reads run in one transaction so every number comes from the same snapshot.
  DMARC_TRY(db_.Exec("BEGIN"));
  auto run = [&]() -> Result<bool> {
    {
      auto s = db_.Prepare(
          "SELECT count(*) FROM aggregate_reports WHERE begin_ts >= ?1 AND"
          " begin_ts < ?2" +
          domain_clause);
      if (!s) return MakeError(s.error());
      bind(*s);
      DMARC_TRY(s->Step());
      stats.reports = static_cast<std::uint64_t>(s->Int(0));
    }
    {
      auto s = db_.Prepare(
          "SELECT disposition, header_from, sum(records), sum(messages), sum(dmarc_pass) FROM"
          " daily_messages WHERE day >= ?1 AND day < ?2" +
          domain_clause + " GROUP BY disposition, header_from");
      if (!s) return MakeError(s.error());
      bind(*s);
      for (;;) {
        auto row = s->Step();
        if (!row) return MakeError(row.error());
        if (!*row) break;
        const auto records = static_cast<std::uint64_t>(s->Int(2));
        const auto messages = static_cast<std::uint64_t>(s->Int(3));
        const auto pass = static_cast<std::uint64_t>(s->Int(4));
        stats.records += records;
        stats.messages += messages;
        stats.dmarc_pass += pass;
        stats.by_disposition[s->Text(0)] += messages;
        stats.by_domain[s->Text(1)] += messages;
      }
      stats.dmarc_fail = stats.messages - stats.dmarc_pass;
    }
    {
      // Without filters, every IP ever seen is in range: count the interned table.
      const bool unfiltered = !filter.domain && !filter.from && !filter.to;
      auto s = unfiltered ? db_.Prepare("SELECT count(*) FROM source_ips")
                          : db_.Prepare(
                                "SELECT count(DISTINCT ip) FROM daily_sources WHERE"
                                " day >= ?1 AND day < ?2" +
                                domain_clause);
      if (!s) return MakeError(s.error());
      if (!unfiltered) bind(*s);
      DMARC_TRY(s->Step());
      stats.source_ips = static_cast<std::uint64_t>(s->Int(0));
    }
    {
      auto s =
          db_.Prepare(std::string("SELECT count(*) FROM failure_reports WHERE arrival_ts >= ?1 AND"
                                  " arrival_ts < ?2") +
                      (filter.domain ? " AND reported_domain = ?3" : ""));
      if (!s) return MakeError(s.error());
      bind(*s);
      DMARC_TRY(s->Step());
      stats.failure_reports = static_cast<std::uint64_t>(s->Int(0));
    }
    {
      auto s = db_.Prepare(
          std::string(
              "SELECT count(*) FROM smtp_tls_reports r WHERE begin_ts >= ?1 AND begin_ts < ?2") +
          (filter.domain ? " AND EXISTS (SELECT 1 FROM smtp_tls_policies p WHERE p.report = r.id"
                           " AND p.policy_domain = ?3)"
                         : ""));
      if (!s) return MakeError(s.error());
      bind(*s);
      DMARC_TRY(s->Step());
      stats.smtp_tls_reports = static_cast<std::uint64_t>(s->Int(0));
    }
    {
      // Rejected inputs have no domain: only the date range applies.
      auto s = db_.Prepare(
          "SELECT count(*) FROM rejected_inputs WHERE received_at >= ?1 AND"
          " received_at < ?2");
      if (!s) return MakeError(s.error());
      s->Bind(1, from).Bind(2, to);
      DMARC_TRY(s->Step());
      stats.rejected_inputs = static_cast<std::uint64_t>(s->Int(0));
    }
    return true;
  };
  auto r = run();
  (void)db_.Exec("COMMIT");
  if (!r) return MakeError(r.error());
  return stats;
}

Result<std::size_t> SqliteStore::ForEachAggregate(
    const Filter& filter, const std::function<void(model::AggregateReport&&)>& visit) {
  const auto [from, to] = DayRange(filter);
  DMARC_TRY(db_.Exec("BEGIN"));
  auto run = [&]() -> Result<std::size_t> {
    auto reports = db_.Prepare(
        std::string("SELECT id, org_name, org_email, org_extra_contact_info, report_id, begin_ts,"
                    " end_ts, domain, xml_schema, xml_namespace, generator,"
                    " timespan_requires_normalization, original_timespan_seconds, errors, adkim,"
                    " aspf, p, sp, pct, fo, np, testing, discovery_method, first_record,"
                    " record_count FROM aggregate_reports"
                    " WHERE begin_ts >= ?1 AND begin_ts < ?2") +
        (filter.domain ? " AND domain = ?3" : "") + " ORDER BY id");
    if (!reports) return MakeError(reports.error());
    auto records = db_.Prepare(
        "SELECT id, interval_begin, interval_end, normalized_timespan, source_ip,"
        " source_country, source_reverse_dns, source_base_domain, source_name, source_type,"
        " source_asn, source_as_name, source_as_domain, count, spf_aligned, dkim_aligned,"
        " dmarc_aligned, disposition, policy_dkim, policy_spf, header_from, envelope_from,"
        " envelope_to FROM aggregate_records WHERE id >= ?1 AND id < ?2 ORDER BY id");
    if (!records) return MakeError(records.error());
    auto dkim = db_.Prepare(
        "SELECT record, domain, selector, result, human_result FROM aggregate_dkim"
        " WHERE record >= ?1 AND record < ?2 ORDER BY record, position");
    auto spf = db_.Prepare(
        "SELECT record, domain, scope, result, human_result FROM aggregate_spf"
        " WHERE record >= ?1 AND record < ?2 ORDER BY record, position");
    auto overrides = db_.Prepare(
        "SELECT record, type, comment FROM aggregate_overrides"
        " WHERE record >= ?1 AND record < ?2 ORDER BY record, position");
    if (!dkim || !spf || !overrides) return MakeError("cannot prepare export queries");
    reports->Bind(1, from).Bind(2, to);
    if (filter.domain) reports->Bind(3, *filter.domain);
    std::size_t n = 0;
    for (;;) {
      auto row = reports->Step();
      if (!row) return MakeError(row.error());
      if (!*row) break;
      model::AggregateReport r;
      auto& m = r.report_metadata;
      auto& p = r.policy_published;
      m.org_name = reports->Text(1);
      m.org_email = reports->Text(2);
      m.org_extra_contact_info = reports->OptText(3);
      m.report_id = reports->Text(4);
      m.begin = reports->Int(5);
      m.end = reports->Int(6);
      p.domain = reports->Text(7);
      r.xml_schema = reports->Text(8);
      r.xml_namespace = reports->OptText(9);
      m.generator = reports->OptText(10);
      m.timespan_requires_normalization = reports->Int(11) != 0;
      m.original_timespan_seconds = reports->Int(12);
      m.errors = nlohmann::json::parse(reports->Text(13)).get<std::vector<std::string>>();
      p.adkim = reports->Text(14);
      p.aspf = reports->Text(15);
      p.p = reports->Text(16);
      p.sp = reports->Text(17);
      p.pct = reports->OptText(18);
      p.fo = reports->OptText(19);
      p.np = reports->OptText(20);
      p.testing = reports->OptText(21);
      p.discovery_method = reports->OptText(22);
      const std::int64_t first = reports->OptInt(23).value_or(0);
      const std::int64_t last = first + reports->Int(24);  // one past the last record
      std::map<std::int64_t, std::size_t> index;  // record row id → position in r.records
      records->Bind(1, first).Bind(2, last);
      for (;;) {
        auto rr = records->Step();
        if (!rr) return MakeError(rr.error());
        if (!*rr) break;
        model::Record rec;
        rec.interval_begin = records->Int(1);
        rec.interval_end = records->Int(2);
        rec.normalized_timespan = records->Int(3) != 0;
        auto& s = rec.source;
        s.ip_address = records->Text(4);
        s.country = records->OptText(5);
        s.reverse_dns = records->OptText(6);
        s.base_domain = records->OptText(7);
        s.name = records->OptText(8);
        s.type = records->OptText(9);
        s.asn = records->OptInt(10);
        s.as_name = records->OptText(11);
        s.as_domain = records->OptText(12);
        rec.count = static_cast<std::uint64_t>(records->Int(13));
        rec.alignment = {records->Int(14) != 0, records->Int(15) != 0, records->Int(16) != 0};
        rec.policy_evaluated.disposition = records->Text(17);
        rec.policy_evaluated.dkim = records->Text(18);
        rec.policy_evaluated.spf = records->Text(19);
        rec.identifiers.header_from = records->Text(20);
        rec.identifiers.envelope_from = records->OptText(21);
        rec.identifiers.envelope_to = records->OptText(22);
        index[records->Int(0)] = r.records.size();
        r.records.push_back(std::move(rec));
      }
      records->Reset();
      auto children = [&](Statement& st, auto add) -> Result<bool> {
        st.Bind(1, first).Bind(2, last);
        for (;;) {
          auto cr = st.Step();
          if (!cr) return MakeError(cr.error());
          if (!*cr) break;
          add(r.records[index.at(st.Int(0))], st);
        }
        st.Reset();
        return true;
      };
      DMARC_TRY(children(*dkim, [](model::Record& rec, Statement& st) {
        rec.dkim.push_back({st.Text(1), st.Text(2), st.Text(3), st.OptText(4)});
      }));
      DMARC_TRY(children(*spf, [](model::Record& rec, Statement& st) {
        rec.spf.push_back({st.Text(1), st.Text(2), st.Text(3), st.OptText(4)});
      }));
      DMARC_TRY(children(*overrides, [](model::Record& rec, Statement& st) {
        rec.policy_evaluated.policy_override_reasons.push_back({st.OptText(1), st.OptText(2)});
      }));
      visit(std::move(r));
      ++n;
    }
    return n;
  };
  auto r = run();
  (void)db_.Exec("COMMIT");
  return r;
}

Result<std::size_t> SqliteStore::ForEachFailure(
    const Filter& filter, const std::function<void(model::FailureReport&&)>& visit) {
  const auto [from, to] = DayRange(filter);
  return InReadTransaction([&]() -> Result<std::size_t> {
    auto s = db_.Prepare(
        std::string("SELECT data, arrival_ts FROM failure_reports WHERE arrival_ts >= ?1 AND"
                    " arrival_ts < ?2") +
        (filter.domain ? " AND reported_domain = ?3" : "") + " ORDER BY id");
    if (!s) return MakeError(s.error());
    s->Bind(1, from).Bind(2, to);
    if (filter.domain) s->Bind(3, *filter.domain);
    std::size_t n = 0;
    for (;;) {
      auto row = s->Step();
      if (!row) return MakeError(row.error());
      if (!*row) break;
      const std::string data = s->Text(0);
      auto j = nlohmann::ordered_json::parse(data, nullptr, /*allow_exceptions=*/false);
      auto report = sinks::FailureFromJson(j);
      if (!report) return MakeError(report.error());
      report->arrival_ts = s->Int(1);
      visit(std::move(report).value());
      ++n;
    }
    return n;
  });
}

Result<std::size_t> SqliteStore::ForEachSmtpTls(
    const Filter& filter, const std::function<void(model::SmtpTlsReport&&)>& visit) {
  const auto [from, to] = DayRange(filter);
  return InReadTransaction([&]() -> Result<std::size_t> {
    auto reports = db_.Prepare(
        std::string("SELECT id, organization_name, report_id, begin_ts, end_ts, contact_info,"
                    " errors FROM smtp_tls_reports r WHERE begin_ts >= ?1 AND begin_ts < ?2") +
        (filter.domain ? " AND EXISTS (SELECT 1 FROM smtp_tls_policies p WHERE p.report = r.id"
                         " AND p.policy_domain = ?3)"
                       : "") +
        " ORDER BY id");
    if (!reports) return MakeError(reports.error());
    auto policies = db_.Prepare(
        "SELECT id, policy_domain, policy_type, policy_strings, mx_host_patterns,"
        " successful_session_count, failed_session_count FROM smtp_tls_policies"
        " WHERE report = ?1 ORDER BY id");
    auto details = db_.Prepare(
        "SELECT result_type, failed_session_count, sending_mta_ip, receiving_ip,"
        " receiving_mx_hostname, receiving_mx_helo, additional_info_uri, failure_reason_code"
        " FROM smtp_tls_failure_details WHERE policy = ?1 ORDER BY position");
    if (!policies || !details) return MakeError("cannot prepare export queries");
    reports->Bind(1, from).Bind(2, to);
    if (filter.domain) reports->Bind(3, *filter.domain);
    auto strings = [](const std::optional<std::string>& text) {
      std::vector<std::string> out;
      if (!text) return out;
      auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      if (!j.is_array()) return out;
      for (const auto& v : j) {
        if (v.is_string()) out.push_back(v.get<std::string>());
      }
      return out;
    };
    std::size_t n = 0;
    for (;;) {
      auto row = reports->Step();
      if (!row) return MakeError(row.error());
      if (!*row) break;
      model::SmtpTlsReport r;
      r.organization_name = reports->Text(1);
      r.report_id = reports->Text(2);
      r.begin = reports->Int(3);
      r.end = reports->Int(4);
      r.contact_info = reports->OptText(5);
      r.errors = strings(reports->OptText(6));
      policies->Bind(1, reports->Int(0));
      for (;;) {
        auto pr = policies->Step();
        if (!pr) return MakeError(pr.error());
        if (!*pr) break;
        model::SmtpTlsPolicy p;
        p.policy_domain = policies->Text(1);
        p.policy_type = policies->Text(2);
        p.policy_strings = strings(policies->OptText(3));
        p.mx_host_patterns = strings(policies->OptText(4));
        p.successful_session_count = static_cast<std::uint64_t>(policies->Int(5));
        p.failed_session_count = static_cast<std::uint64_t>(policies->Int(6));
        details->Bind(1, policies->Int(0));
        for (;;) {
          auto dr = details->Step();
          if (!dr) return MakeError(dr.error());
          if (!*dr) break;
          model::SmtpTlsFailureDetails d;
          d.result_type = details->Text(0);
          d.failed_session_count = static_cast<std::uint64_t>(details->Int(1));
          d.sending_mta_ip = details->OptText(2);
          d.receiving_ip = details->OptText(3);
          d.receiving_mx_hostname = details->OptText(4);
          d.receiving_mx_helo = details->OptText(5);
          d.additional_info_uri = details->OptText(6);
          d.failure_reason_code = details->OptText(7);
          p.failure_details.push_back(std::move(d));
        }
        details->Reset();
        r.policies.push_back(std::move(p));
      }
      policies->Reset();
      visit(std::move(r));
      ++n;
    }
    return n;
  });
}

Result<std::vector<RejectedInput>> SqliteStore::Rejections() {
  auto s = db_.Prepare(
      "SELECT i.received_at, i.origin, i.reason, i.sha256, b.size, b.raw FROM rejected_inputs i"
      " JOIN rejected_blobs b ON b.sha256 = i.sha256 ORDER BY i.id");
  if (!s) return MakeError(s.error());
  std::vector<RejectedInput> out;
  for (;;) {
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) break;
    out.push_back({s->Int(0), s->Text(1), s->Text(2), s->Text(3),
                   static_cast<std::uint64_t>(s->Int(4)), s->Blob(5)});
  }
  return out;
}

Result<std::vector<bool>> SqliteStore::AggregatesStored(
    const std::vector<const model::AggregateReport*>& reports) {
  auto s = db_.Prepare(
      "SELECT 1 FROM aggregate_reports WHERE org_name = ?1 AND report_id = ?2 AND domain = ?3"
      " AND begin_ts = ?4 AND end_ts = ?5");
  if (!s) return MakeError(s.error());
  std::vector<bool> out;
  out.reserve(reports.size());
  DMARC_TRY(db_.Exec("BEGIN"));
  for (const auto* r : reports) {
    const auto& m = r->report_metadata;
    s->Bind(1, m.org_name)
        .Bind(2, m.report_id)
        .Bind(3, r->policy_published.domain)
        .Bind(4, m.begin)
        .Bind(5, m.end);
    auto row = s->Step();
    s->Reset();
    if (!row) {
      (void)db_.Exec("ROLLBACK");
      return MakeError(row.error());
    }
    out.push_back(*row);
  }
  DMARC_TRY(db_.Exec("COMMIT"));
  return out;
}

Result<std::vector<IpInfoRow>> SqliteStore::GetIpInfo(const std::vector<std::string>& ips,
                                                      std::int64_t now) {
  auto s = db_.Prepare(
      "SELECT ip, status, reverse_dns, base_domain, country, asn, as_name, as_domain,"
      " resolved_at, expires_at FROM ip_info_cache WHERE ip = ?1 AND expires_at > ?2");
  if (!s) return MakeError(s.error());
  std::vector<IpInfoRow> out;
  DMARC_TRY(db_.Exec("BEGIN"));
  for (const auto& ip : ips) {
    s->Bind(1, ip).Bind(2, now);
    auto row = s->Step();
    if (!row) {
      s->Reset();
      (void)db_.Exec("ROLLBACK");
      return MakeError(row.error());
    }
    if (*row) {
      out.push_back({s->Text(0), s->Text(1), s->OptText(2), s->OptText(3), s->OptText(4),
                     s->OptInt(5), s->OptText(6), s->OptText(7), s->Int(8), s->Int(9)});
    }
    s->Reset();
  }
  DMARC_TRY(db_.Exec("COMMIT"));
  return out;
}

Result<bool> SqliteStore::PutIpInfo(const std::vector<IpInfoRow>& rows) {
  if (rows.empty()) return true;
  auto s = db_.Prepare(
      "INSERT INTO ip_info_cache (ip, status, reverse_dns, base_domain, country, asn,"
      " as_name, as_domain, resolved_at, expires_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
      " ON CONFLICT (ip) DO UPDATE SET status = excluded.status,"
      " reverse_dns = excluded.reverse_dns, resolved_at = excluded.resolved_at,"
      " expires_at = excluded.expires_at,"
      // what PutSourceInfo recorded stays unless this row says otherwise
      " base_domain = coalesce(excluded.base_domain, base_domain),"
      " country = coalesce(excluded.country, country), asn = coalesce(excluded.asn, asn),"
      " as_name = coalesce(excluded.as_name, as_name),"
      " as_domain = coalesce(excluded.as_domain, as_domain)");
  if (!s) return MakeError(s.error());
  return InWriteTransaction([&]() -> Result<bool> {
    for (const auto& r : rows) {
      s->Bind(1, r.ip)
          .Bind(2, r.status)
          .Bind(3, r.reverse_dns)
          .Bind(4, r.base_domain)
          .Bind(5, r.country)
          .Bind(6, r.asn)
          .Bind(7, r.as_name)
          .Bind(8, r.as_domain)
          .Bind(9, r.resolved_at)
          .Bind(10, r.expires_at);
      DMARC_TRY(s->Run());
    }
    return true;
  });
}

Result<bool> SqliteStore::PutSourceInfo(const std::vector<model::Source>& sources) {
  if (sources.empty()) return true;
  // status 'unknown' and expires_at 0 are no DNS answer: GetIpInfo never returns such a row.
  auto s = db_.Prepare(
      "INSERT INTO ip_info_cache (ip, status, reverse_dns, base_domain, country, asn, as_name,"
      " as_domain, name, type, resolved_at, expires_at)"
      " VALUES (?1, 'unknown', NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 0)"
      " ON CONFLICT (ip) DO UPDATE SET base_domain = excluded.base_domain,"
      " country = excluded.country, asn = excluded.asn, as_name = excluded.as_name,"
      " as_domain = excluded.as_domain, name = excluded.name, type = excluded.type");
  if (!s) return MakeError(s.error());
  return InWriteTransaction([&]() -> Result<bool> {
    for (const auto& src : sources) {
      s->Bind(1, src.ip_address)
          .Bind(2, src.base_domain)
          .Bind(3, src.country)
          .Bind(4, src.asn)
          .Bind(5, src.as_name)
          .Bind(6, src.as_domain)
          .Bind(7, src.name)
          .Bind(8, src.type);
      DMARC_TRY(s->Run());
    }
    return true;
  });
}

Result<std::vector<std::string>> SqliteStore::SourceIpsToEnrich(std::int64_t enriched_before) {
  auto s = db_.Prepare(
      "SELECT DISTINCT source_ip FROM aggregate_records"
      " WHERE source_enriched_at IS NULL OR source_enriched_at < ?1");
  if (!s) return MakeError(s.error());
  s->Bind(1, enriched_before);
  std::vector<std::string> out;
  for (;;) {
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) break;
    out.push_back(s->Text(0));
  }
  return out;
}

Result<std::size_t> SqliteStore::UpdateSources(const std::vector<model::Source>& sources,
                                               std::int64_t enriched_at,
                                               std::int64_t enriched_before) {
  if (sources.empty()) return std::size_t{0};
  return InWriteTransaction([&]() -> Result<std::size_t> {
    // The new values go to a temporary table first, so one pass over the records updates all.
    DMARC_TRY(db_.Exec(
        "CREATE TEMP TABLE IF NOT EXISTS enrich_sources (ip TEXT PRIMARY KEY, country TEXT,"
        " reverse_dns TEXT, base_domain TEXT, name TEXT, type TEXT, asn INTEGER, as_name TEXT,"
        " as_domain TEXT) WITHOUT ROWID;"
        "DELETE FROM enrich_sources;"));
    auto ins =
        db_.Prepare("INSERT OR REPLACE INTO enrich_sources VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)");
    if (!ins) return MakeError(ins.error());
    for (const auto& src : sources) {
      ins->Bind(1, src.ip_address)
          .Bind(2, src.country)
          .Bind(3, src.reverse_dns)
          .Bind(4, src.base_domain)
          .Bind(5, src.name)
          .Bind(6, src.type)
          .Bind(7, src.asn)
          .Bind(8, src.as_name)
          .Bind(9, src.as_domain);
      DMARC_TRY(ins->Run());
    }
    auto upd = db_.Prepare(
        "UPDATE aggregate_records SET source_country = u.country,"
        " source_reverse_dns = u.reverse_dns, source_base_domain = u.base_domain,"
        " source_name = u.name, source_type = u.type, source_asn = u.asn,"
        " source_as_name = u.as_name, source_as_domain = u.as_domain, source_enriched_at = "
        "NULLIF(?1, 0)"
        " FROM enrich_sources AS u WHERE aggregate_records.source_ip = u.ip AND"
        " (aggregate_records.source_enriched_at IS NULL OR"
        " aggregate_records.source_enriched_at < ?2)");
    if (!upd) return MakeError(upd.error());
    upd->Bind(1, enriched_at).Bind(2, enriched_before);
    DMARC_TRY(upd->Run());
    const auto changed = static_cast<std::size_t>(db_.Changes());
    DMARC_TRY(db_.Exec("DELETE FROM enrich_sources"));
    return changed;
  });
}

// ---- Retention ----

constexpr std::size_t kPurgeBatch = 200;  // reports per write transaction

Result<std::size_t> SqliteStore::PurgeAggregateBatch(std::int64_t cutoff, PurgeResult& result) {
  struct Victim {
    std::int64_t id, first, count;
  };
  std::vector<Victim> victims;
  {
    auto s = db_.Prepare(
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
  }
  if (victims.empty()) return std::size_t{0};
  // The daily totals lose exactly what the records added (see StoreInTransaction).
  static constexpr std::string_view kRecordSteps[] = {
      "UPDATE daily_messages AS d SET records = d.records - x.n, messages = d.messages - x.m,"
      " dmarc_pass = d.dmarc_pass - x.p FROM (SELECT day, domain, header_from, disposition,"
      " count(*) AS n, sum(count) AS m, sum(CASE WHEN dmarc_aligned THEN count ELSE 0 END) AS p"
      " FROM aggregate_records WHERE id >= ?1 AND id < ?2 GROUP BY 1, 2, 3, 4) AS x"
      " WHERE d.day = x.day AND d.domain = x.domain AND d.header_from = x.header_from"
      " AND d.disposition = x.disposition",
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
      "DELETE FROM aggregate_dkim WHERE record >= ?1 AND record < ?2",
      "DELETE FROM aggregate_spf WHERE record >= ?1 AND record < ?2",
      "DELETE FROM aggregate_overrides WHERE record >= ?1 AND record < ?2",
      "DELETE FROM aggregate_records WHERE id >= ?1 AND id < ?2",
  };
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
    DMARC_TRY(db_.Exec("DELETE FROM daily_messages WHERE records <= 0"));
    DMARC_TRY(db_.Exec("DELETE FROM daily_sources WHERE records <= 0"));
    DMARC_TRY(db_.Exec("DELETE FROM source_totals WHERE records <= 0"));
    DMARC_TRY(db_.Exec("DELETE FROM ip_totals WHERE records <= 0"));
    DMARC_TRY(db_.Exec("DELETE FROM daily_results WHERE records <= 0"));
    return true;
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

Result<bool> SqliteStore::Compact() {
  // VACUUM rewrites the file without the free pages; the checkpoints empty the WAL around it.
  for (const char* sql :
       {"PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"}) {
    if (auto r = db_.Exec(sql); !r) return MakeError(fmt::format("{}: {}", sql, r.error()));
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<ReportStore>> OpenSqliteStore(const std::string& path,
                                                     const OpenOptions& options) {
  Database db;
  if (auto r = db.Open(path, options.busy_timeout_ms); !r) {
    return MakeError(fmt::format("cannot open SQLite store {}: {}", path, r.error()));
  }
  auto store = std::make_unique<SqliteStore>(std::move(db), path, options);
  if (auto r = store->Init(); !r) {
    return MakeError(fmt::format("cannot open SQLite store {}: {}", path, r.error()));
  }
  return std::unique_ptr<ReportStore>(std::move(store));
}

}  // namespace dmarc::store
