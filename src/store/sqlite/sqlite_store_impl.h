// The SQLite ReportStore's class, shared by the files that implement it, one concern each:
// sqlite_schema.cc (opening, pragmas, migrations, prepared statements), sqlite_write.cc (the
// import path: Store), sqlite_read.cc (stats, export, rejections), sqlite_ip_cache.cc (the
// address cache and enrichment of stored records), sqlite_retention.cc (Purge, Compact) and
// sqlite_health.cc (Health, CheckIntegrity).
// Internal to the store module: everyone else uses OpenSqliteStore (sqlite_store.h).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace dmarc::store {

// The schema migrations, in order: entry i migrates version i to i + 1 (the text of
// src/store/sqlite/migrations/000{i+1}_*.sql, compiled in by embed_migrations.cmake). The schema
// version of this program is their number.
std::span<const std::string_view> SchemaMigrations();

namespace sqlite_impl {

using sqlite::Database;
using sqlite::RowInserter;
using sqlite::Statement;

// Sums a batch's records per rollup key before the rollups are written (sqlite_write.cc).
struct BatchRollups;
// The background integrity check of a store file (sqlite_health.cc).
class IntegrityMonitor;

class SqliteStore final : public ReportStore {
 public:
  SqliteStore(Database db, std::string path, OpenOptions options)
      : db_(std::move(db)), path_(std::move(path)), options_(std::move(options)) {}

  // Sets the pragmas, migrates the schema and prepares the write statements.
  Result<bool> Init();

  Result<BatchResult> Store(const Batch& batch) override;
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
  StoredCheck AggregateStoredCheck() override;
  Result<std::vector<IpInfoRow>> GetIpInfo(const std::vector<std::string>& ips,
                                           std::int64_t now) override;
  Result<bool> PutIpInfo(const std::vector<IpInfoRow>& rows) override;
  Result<bool> PutSourceInfo(const std::vector<model::Source>& sources) override;
  Result<std::vector<std::string>> SourceIpsToEnrich(std::int64_t enriched_before) override;
  Result<std::size_t> UpdateSources(const std::vector<model::Source>& sources,
                                    std::int64_t enriched_at,
                                    std::int64_t enriched_before) override;
  Result<PurgeResult> Purge(std::int64_t cutoff) override;
  Result<PurgeResult> CountPurge(std::int64_t cutoff) override;
  Result<bool> Compact() override;
  std::uint64_t SizeOnDisk() const override;
  Result<bool> Ping() override { return db_.Exec("SELECT count(*) FROM sqlite_master"); }
  Result<bool> Health() override;  // sqlite_health.cc
  Result<bool> CheckIntegrity() override;
  std::string Describe() const override { return "sqlite:" + path_; }
  Result<std::size_t> ForEachCopy(std::size_t batch_size,
                                  const std::function<Result<bool>(CopyBatch&&)>& visit) override;
  Result<BatchResult> StoreCopy(const CopyBatch& batch) override;  // sqlite_migrate.cc
  Result<bool> RecordSourceState(const SourceState& state,
                                 const SourceCounts& add) override;  // sqlite_ingest_status.cc
  Result<IngestStatus> QueryIngestStatus(std::size_t max_rejections) override;
  // The outbox (sqlite_outbox.cc).
  Result<std::vector<OutboxEntry>> OutboxNext(const std::string& output, std::size_t max_items,
                                              std::size_t max_records) override;
  Result<bool> OutboxSettle(const std::string& output, const OutboxOutcome& outcome) override;
  Result<std::size_t> OutboxEnqueue(const std::string& output, const Filter& filter,
                                    const OutboxKinds& kinds) override;
  Result<std::vector<OutboxState>> QueryOutbox() override;
  Result<std::size_t> OutboxClear(const std::string& output) override;
  Result<bool> SetSenderStatus(const SenderStatusRow& row) override;  // *_sender_status.cc
  Result<std::vector<SenderStatusRow>> SenderStatuses(const std::string& domain) override;
  Result<bool> SaveSealedToken(const SealedTokenRow& row) override;  // *_sealed_token.cc
  Result<std::optional<SealedTokenRow>> SealedToken(const std::string& kind,
                                                    const std::string& identity) override;
  Result<std::optional<std::int64_t>> AggregateVersion() override;  // sqlite_read.cc

 private:
  // A prepared write statement and its SQL; kWriteStatements (sqlite_schema.cc) lists them all.
  struct StatementSql {
    Statement SqliteStore::*statement;
    std::string_view sql;
  };
  static const StatementSql kWriteStatements[];

 public:
  // An aggregate record's parameters in insert_records_, which takes kRecordsPerInsert records at
  // once (one statement run instead of one per record: docs/benchmarks.md).
  static constexpr int kRecordColumns = 30;
  static constexpr int kRecordsPerInsert = 16;

 private:
  // ---- Schema (sqlite_schema.cc) ----
  Result<bool> Migrate();
  Result<bool> FillReporterKeys();
  Result<std::size_t> UpdateFailureSources(const std::vector<model::Source>& sources,
                                           std::int64_t enriched_at);
  Result<bool> PrepareStatements();

  // ---- The write path (sqlite_write.cc), all inside Store's one transaction ----
  Result<BatchResult> StoreInTransaction(const Batch& batch);
  // One aggregate report with its records and raw XML; a duplicate is only counted.
  Result<bool> StoreAggregate(const Batch& batch, const StoredAggregate& item, std::int64_t now,
                              BatchRollups& rollups, BatchResult& result);
  // The records of a report read from its stream, their rollups stored a read at a time, and its
  // compressed XML written in pieces.
  Result<bool> StoreStreamedRecords(const StoredAggregate& item, std::int64_t report_row,
                                    std::int64_t& messages, std::int64_t& pass);
  Result<bool> StoreStreamedRawXml(const StoredAggregate& item, std::int64_t report_row);
  // Queues one record of the report row report_row (its DKIM, SPF and override results as JSON
  // in its row) for insertion, kRecordsPerInsert at a time (insert_records_.Flush inserts the
  // rest): the record and domain must live until then.
  Result<bool> StoreRecord(std::int64_t enriched_at, const model::Record& rec,
                           std::string_view domain, std::int64_t day, std::int64_t report_row,
                           std::int64_t record_row);
  Result<bool> StoreDailyRollups(const BatchRollups& rollups);
  Result<bool> StoreSourceRollups(const BatchRollups& rollups);
  // The number of a source IP in source_ips, interned on first sight.
  Result<std::int64_t> SourceIpId(std::string_view ip);
  Result<bool> StoreRejections(const Batch& batch, BatchResult& result);
  Result<bool> StoreFailures(const Batch& batch, std::int64_t now, BatchResult& result);
  Result<bool> StoreSmtpTls(const Batch& batch, std::int64_t now, BatchResult& result);
  Result<bool> StoreSmtpTlsPolicy(const model::SmtpTlsPolicy& p, std::int64_t report_row);
  // Inside a write transaction that changed what ForEachAggregate reads: the change counter
  // AggregateVersion reads moves on (migration 13).
  Result<bool> BumpAggregateVersion();

  // ---- The outbox (sqlite_outbox.cc), inside Store's transaction ----
  // The largest row id of each report table: what a batch adds comes after.
  struct ReportRows {
    std::int64_t aggregate = 0, failure = 0, smtp_tls = 0;
  };
  Result<ReportRows> LastReportRows();
  // Queues the reports stored after `before` for each of OutboxOutputs(), in the order stored.
  Result<bool> EnqueueNewReports(const ReportRows& before, std::int64_t now);

  // ---- Copies (sqlite_migrate.cc), inside StoreCopy's transaction ----
  // Sets the copies' import times, and the enrichment times of their records that differ from
  // enriched_at (what Store gave them all).
  Result<bool> FixCopiedTimes(const CopyBatch& copy, std::int64_t enriched_at);
  Result<bool> StoreIpInfoCopies(const std::vector<IpInfoCopy>& rows);

  // ---- Retention (sqlite_retention.cc) ----
  // Purges up to kPurgeBatch aggregate reports ended before cutoff; returns how many.
  Result<std::size_t> PurgeAggregateBatch(std::int64_t cutoff, PurgeResult& result);
  // Runs statements binding ?1 = cutoff inside one write transaction; returns the last one's
  // changes.
  Result<std::size_t> PurgeWith(const std::vector<std::string_view>& sql, std::int64_t cutoff);

  // Runs a query function in one read transaction, so it sees one snapshot.
  template <class F>
  auto InReadTransaction(F&& run) -> decltype(run()) {
    if (auto b = db_.Exec("BEGIN"); !b) return MakeError(b.error());
    auto r = run();
    (void)db_.Exec("COMMIT");
    return r;
  }

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

  Database db_;
  std::string path_;
  OpenOptions options_;
  Statement insert_report_, insert_source_ip_, select_source_ip_, insert_report_totals_,
      select_next_record_, insert_blob_, insert_rejection_, insert_failure_, insert_tls_report_,
      insert_tls_policy_, insert_tls_detail_, insert_raw_, bump_aggregate_version_,
      select_aggregate_version_;
  // The rollups' upserts, kRowsPerUpsert rows a statement (each flushed by the function that
  // fills it).
  static constexpr int kRowsPerUpsert = 16;
  RowInserter upsert_daily_results_, upsert_daily_sources_, upsert_source_totals_,
      upsert_ip_totals_;
  // The aggregate records, kRecordsPerInsert rows a statement (StoreRecord).
  RowInserter insert_records_;
  // Source IPs to their ids, looked up by the records' string_views (no copy of the address for
  // each lookup).
  struct AddressHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using AddressNumbers =
      std::unordered_map<std::string, std::int64_t, AddressHash, std::equal_to<>>;
  // Ids of source IPs known to be committed (ids never change), and those a batch in progress
  // added; merged into the first only once that batch commits.
  AddressNumbers ip_ids_;
  AddressNumbers pending_ip_ids_;
  // What PutSourceInfo last wrote of each address (its details as one string), while no other
  // connection committed (put_sources_version_: PRAGMA data_version) and nothing else of this
  // one wrote the addresses' rows: a batch's addresses already written the same are skipped.
  // At most kMaxPutSources addresses; emptied when full.
  std::unordered_map<std::string, std::string> put_sources_;
  std::int64_t put_sources_version_ = -1;
  // The id the next aggregate record gets: records are numbered by the writer (the largest id
  // plus one, as SQLite would), so a report row is inserted with its record range at once.
  std::int64_t next_record_ = 1;
  // Each queued record's DKIM, SPF and override results as JSON while its insert runs (reused
  // buffers, three for each row of insert_records_).
  std::vector<std::string> auth_json_ = std::vector<std::string>(3 * kRecordsPerInsert);
  std::shared_ptr<IntegrityMonitor> integrity_;  // from the first Health()
};

}  // namespace sqlite_impl
}  // namespace dmarc::store
