// The SQLite store's schema: opening a connection (pragmas), the migrations and the statements
// the write path prepares once.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <thread>

#include "store/reporter_key.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store {
namespace sqlite_impl {

namespace {
// The page size of a new store: 16 KiB pages made `import` ~7 % faster than SQLite's 4 KiB
// (fewer page splits and system calls per record; docs/benchmarks.md).
constexpr int kPageBytes = 16384;
// The WAL's size at which it is checkpointed (SQLite's wal_autocheckpoint counts pages).
constexpr std::int64_t kCheckpointBytes = 10000 * 4096;
}  // namespace

const SqliteStore::StatementSql SqliteStore::kWriteStatements[] = {
    {&SqliteStore::insert_report_,
     "INSERT INTO aggregate_reports (org_name, org_email, org_extra_contact_info, report_id,"
     " begin_ts, end_ts, domain, xml_schema, xml_namespace, generator,"
     " timespan_requires_normalization, original_timespan_seconds, errors, adkim, aspf, p,"
     " sp, pct, fo, np, testing, discovery_method, origin, imported_at, first_record,"
     " record_count, reporter_key)"
     " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,"
     "?22,?23,?24,?25,?26,?27) ON CONFLICT DO NOTHING"},
    {&SqliteStore::insert_report_totals_,
     "INSERT INTO report_totals (report, messages, dmarc_pass) VALUES (?1,?2,?3)"},
    {&SqliteStore::insert_raw_,
     "INSERT INTO aggregate_raw (report, encoding, size, bytes) VALUES (?1,?4,?2,?3)"},
    {&SqliteStore::insert_source_ip_,
     "INSERT INTO source_ips (ip) VALUES (?1) ON CONFLICT DO NOTHING"},
    {&SqliteStore::select_source_ip_, "SELECT id FROM source_ips WHERE ip = ?1"},
    {&SqliteStore::select_next_record_, "SELECT coalesce(max(id), 0) + 1 FROM aggregate_records"},
    {&SqliteStore::insert_blob_,
     // An item first kept with fewer bytes (its input's budget was spent) gets the longer copy.
     "INSERT INTO rejected_blobs (sha256, size, raw) VALUES (?1,?2,?3) ON CONFLICT (sha256) DO"
     " UPDATE SET raw = excluded.raw WHERE length(excluded.raw) > length(rejected_blobs.raw)"},
    {&SqliteStore::insert_failure_,
     "INSERT INTO failure_reports (arrival_ts, reported_domain, source_ip, feedback_type,"
     " data, origin, imported_at, dedup_key, source_enriched_at)"
     " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,NULLIF(?9,0))"
     " ON CONFLICT DO NOTHING"},
    {&SqliteStore::insert_tls_report_,
     "INSERT INTO smtp_tls_reports (organization_name, report_id, begin_ts, end_ts,"
     " contact_info, origin, imported_at, errors) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)"
     " ON CONFLICT DO NOTHING"},
    {&SqliteStore::insert_tls_policy_,
     "INSERT INTO smtp_tls_policies (report, policy_domain, policy_type, policy_strings,"
     " mx_host_patterns, successful_session_count, failed_session_count)"
     " VALUES (?1,?2,?3,?4,?5,?6,?7)"},
    {&SqliteStore::insert_tls_detail_,
     "INSERT INTO smtp_tls_failure_details (policy, position, result_type,"
     " failed_session_count, sending_mta_ip, receiving_ip, receiving_mx_hostname,"
     " receiving_mx_helo, additional_info_uri, failure_reason_code)"
     " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"},
    {&SqliteStore::insert_rejection_,
     "INSERT INTO rejected_inputs (received_at, origin, reason, sha256) VALUES (?1,?2,?3,?4)"
     " ON CONFLICT DO NOTHING"},
    {&SqliteStore::bump_aggregate_version_,
     "UPDATE change_counters SET value = value + 1 WHERE name = 'aggregate'"},
    {&SqliteStore::select_aggregate_version_,
     "SELECT value FROM change_counters WHERE name = 'aggregate'"},
};

Result<bool> SqliteStore::Init() {
  // WAL lets readers (stats, the dashboard) run while a writer commits. synchronous=FULL makes
  // every commit durable, power loss included; batching keeps commits (and fsyncs) few.
  // Foreign keys are declared for readers of the schema but not enforced: the one writer
  // inserts parents and children in the same transaction, and a check per child row would
  // cost a lookup for each of millions of rows.
  const std::string cache = fmt::format("PRAGMA cache_size=-{}", options_.cache_kib);
  // A new store's pages are kPageBytes (SQLite's default is 4 KiB); a store made earlier keeps
  // its own, which only a VACUUM outside WAL mode would change. Set before WAL, which fixes it.
  if (auto r = db_.Exec(fmt::format("PRAGMA page_size={}", kPageBytes)); !r) {
    return MakeError(fmt::format("PRAGMA page_size: {}", r.error()));
  }
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
  // The WAL is copied into the store once it holds kCheckpointBytes, whatever the page size.
  auto page_bytes = db_.QueryInt("PRAGMA page_size");
  if (!page_bytes) return MakeError(page_bytes.error());
  const std::string checkpoint = fmt::format(
      "PRAGMA wal_autocheckpoint={}", kCheckpointBytes / std::max<std::int64_t>(512, *page_bytes));
  for (const char* pragma :
       {"PRAGMA synchronous=FULL", "PRAGMA temp_store=MEMORY", cache.c_str(), checkpoint.c_str()}) {
    if (auto r = db_.Exec(pragma); !r) return MakeError(fmt::format("{}: {}", pragma, r.error()));
  }
  if (auto r = Migrate(); !r) return r;
  return PrepareStatements();
}

Result<bool> SqliteStore::Migrate() {
  const std::span<const std::string_view> migrations = SchemaMigrations();
  const int schema_version = static_cast<int>(migrations.size());
  if (auto r = db_.Exec("BEGIN IMMEDIATE"); !r) return r;
  auto user_version = db_.QueryInt("PRAGMA user_version");
  if (!user_version) return MakeError(user_version.error());
  const int version = static_cast<int>(*user_version);
  if (version > schema_version) {
    (void)db_.Exec("ROLLBACK");
    return MakeError(fmt::format("the store has schema version {}, newer than this program's {}",
                                 version, schema_version));
  }
  for (int v = version; v < schema_version; ++v) {
    if (auto r = db_.Exec(std::string(migrations[v])); !r) {
      (void)db_.Exec("ROLLBACK");
      return MakeError(fmt::format("schema migration {} failed: {}", v + 1, r.error()));
    }
  }
  // At every open, not only after migration 9: a report written without its key (by a copy
  // from another store, or by hand) gets it too; finding none is one index lookup.
  if (auto r = FillReporterKeys(); !r) {
    (void)db_.Exec("ROLLBACK");
    return MakeError(fmt::format("schema migration: reporter keys: {}", r.error()));
  }
  if (auto r = db_.Exec(fmt::format("PRAGMA user_version={}", schema_version)); !r) return r;
  return db_.Exec("COMMIT");
}

// Reports stored before migration 9 (or written without the key) get the key of their
// org_name: one UPDATE per distinct name, through the index on org_name.
Result<bool> SqliteStore::FillReporterKeys() {
  std::vector<std::string> names;
  {
    auto s =
        db_.Prepare("SELECT DISTINCT org_name FROM aggregate_reports WHERE reporter_key IS NULL");
    if (!s) return MakeError(s.error());
    for (;;) {
      auto row = s->Step();
      if (!row) return MakeError(row.error());
      if (!*row) break;
      names.push_back(s->Text(0));
    }
  }
  auto update = db_.Prepare(
      "UPDATE aggregate_reports SET reporter_key = ?1 WHERE org_name = ?2 AND reporter_key IS "
      "NULL");
  if (!update) return MakeError(update.error());
  for (const auto& name : names) {
    const std::string key = ReporterKey(name);
    update->Reset();
    update->Bind(1, key).Bind(2, name);
    if (auto r = update->Step(); !r) return MakeError(r.error());
  }
  return true;
}

Result<bool> SqliteStore::PrepareStatements() {
  for (const auto& [statement, sql] : kWriteStatements) {
    auto r = db_.Prepare(sql);
    if (!r) return MakeError(r.error());
    this->*statement = std::move(r).value();
  }
  // The rollups: added to where a row of the same key exists.
  struct Upsert {
    RowInserter SqliteStore::*inserter;
    std::string_view table_and_columns;
    int columns;
    std::string_view sums;
  };
  constexpr std::string_view kSourceSums =
      "messages = messages + excluded.messages, records = records + excluded.records,"
      " dmarc_pass = dmarc_pass + excluded.dmarc_pass,"
      " spf_aligned = spf_aligned + excluded.spf_aligned,"
      " dkim_aligned = dkim_aligned + excluded.dkim_aligned";
  const Upsert upserts[] = {
      {&SqliteStore::upsert_daily_results_,
       "daily_results (day, domain, header_from, disposition, dmarc_aligned, spf_aligned,"
       " dkim_aligned, records, messages)",
       9, "records = records + excluded.records, messages = messages + excluded.messages"},
      {&SqliteStore::upsert_daily_sources_,
       "daily_sources (day, domain, ip, records, messages, dmarc_pass, spf_aligned,"
       " dkim_aligned)",
       8, kSourceSums},
      {&SqliteStore::upsert_source_totals_,
       "source_totals (domain, ip, records, messages, dmarc_pass, spf_aligned, dkim_aligned)", 7,
       kSourceSums},
      {&SqliteStore::upsert_ip_totals_,
       "ip_totals (ip, records, messages, dmarc_pass, spf_aligned, dkim_aligned)", 6, kSourceSums},
  };
  for (const auto& u : upserts) {
    auto r =
        RowInserter::Prepare(db_, u.table_and_columns, u.columns,
                             fmt::format(" ON CONFLICT DO UPDATE SET {}", u.sums), kRowsPerUpsert);
    if (!r) return MakeError(r.error());
    this->*u.inserter = std::move(r).value();
  }
  // The records: kRecordColumns parameters a row, in StoreRecord's order.
  auto records = RowInserter::Prepare(
      db_,
      "aggregate_records (report, domain, day, interval_begin, interval_end,"
      " normalized_timespan, source_ip, source_country, source_reverse_dns,"
      " source_base_domain, source_name, source_type, source_asn, source_as_name,"
      " source_as_domain, count, spf_aligned, dkim_aligned, dmarc_aligned, disposition,"
      " policy_dkim, policy_spf, header_from, envelope_from, envelope_to, source_enriched_at,"
      " id, dkim, spf, overrides)",
      kRecordColumns, "", kRecordsPerInsert);
  if (!records) return MakeError(records.error());
  insert_records_ = std::move(records).value();
  return true;
}

std::uint64_t SqliteStore::SizeOnDisk() const {
  std::uint64_t total = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_ + suffix, ec);
    if (!ec) total += size;
  }
  return total;
}

}  // namespace sqlite_impl

Result<std::unique_ptr<ReportStore>> OpenSqliteStore(const std::string& path,
                                                     const OpenOptions& options) {
  sqlite::Database db;
  if (auto r = db.Open(path, options.busy_timeout_ms); !r) {
    return MakeError(fmt::format("cannot open SQLite store {}: {}", path, r.error()));
  }
  auto store = std::make_unique<sqlite_impl::SqliteStore>(std::move(db), path, options);
  if (auto r = store->Init(); !r) {
    return MakeError(fmt::format("cannot open SQLite store {}: {}", path, r.error()));
  }
  return std::unique_ptr<ReportStore>(std::move(store));
}

}  // namespace dmarc::store
