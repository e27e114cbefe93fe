// The PostgreSQL ReportStore's class, shared by the files that implement it, one concern each:
// pg_schema.cc (connecting, migrations, retries), pg_write.cc (Store, AggregatesStored, the
// monthly partitions), pg_read.cc (stats, export, rejections), pg_ip_cache.cc (the address
// cache and enrichment of stored records), pg_retention.cc (Purge, Compact, SizeOnDisk) and
// pg_health.cc (Ping, Health, CheckIntegrity). The dashboard's queries: pg_dashboard*.cc.
// Internal to the store module: everyone else uses OpenPgStore (pg_store.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/pg/pg_db.h"
#include "store/store.h"

namespace dmarc::store {

// PostgreSQL's schema migrations, in order: entry i migrates version i to i + 1 (the text of
// src/store/pg/migrations/000{i+1}_*.sql). The schema version of this program is their number.
std::span<const std::string_view> PgSchemaMigrations();

namespace pg_impl {

using pg::Connection;
using pg::Params;
using pg::Rows;

class PgIntegrityMonitor;  // pg_health.cc

// Connects to url (a postgresql:// URL without a password) with options.password, if any;
// `label` names the server in messages.
Result<Connection> Connect(const std::string& url, const OpenOptions& options);

// Sums a batch's new records per rollup key before the rollups are written (pg_write_impl.h).
struct PgRollups;

class PgStore final : public ReportStore {
 public:
  PgStore(Connection conn, std::string url, std::string label, OpenOptions options)
      : conn_(std::move(conn)),
        url_(std::move(url)),
        label_(std::move(label)),
        options_(std::move(options)) {}

  // Migrates the schema (under an advisory lock, so concurrent openers wait for one another).
  Result<bool> Init();
  Result<bool> FillReporterKeys();
  Result<std::size_t> UpdateFailureSources(const std::vector<model::Source>& sources,
                                           const std::vector<std::string>& ips,
                                           std::int64_t enriched_at);

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
  Result<bool> Ping() override;
  Result<bool> Health() override;
  Result<bool> CheckIntegrity() override;
  std::string Describe() const override { return label_; }
  Result<std::size_t> ForEachCopy(std::size_t batch_size,
                                  const std::function<Result<bool>(CopyBatch&&)>& visit) override;
  Result<BatchResult> StoreCopy(const CopyBatch& batch) override;  // pg_migrate.cc
  Result<bool> RecordSourceState(const SourceState& state,
                                 const SourceCounts& add) override;  // pg_ingest_status.cc
  Result<IngestStatus> QueryIngestStatus(std::size_t max_rejections) override;
  // The outbox (pg_outbox.cc).
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
  Result<std::optional<std::int64_t>> AggregateVersion() override;  // pg_read.cc
  bool CommitsElsewhere() const override { return true; }

  Connection& connection() { return conn_; }

 private:
  // ---- Transactions (pg_schema.cc) ----
  // Runs body in one transaction (BEGIN ... COMMIT), again from the start when it fails with a
  // retryable error (serialization failure, deadlock, lost connection: the connection is
  // re-established with backoff), for up to options_.busy_timeout_ms. A body must be safe to
  // run again: everything it did before the failure was rolled back.
  template <class T>
  Result<T> InTransaction(const std::function<Result<T>()>& body, bool read_only = false);
  // Waits before attempt `attempt` (1, 2, ...) and reconnects if the connection is down;
  // false when the time allowed is spent.
  bool BackOff(int attempt, std::int64_t deadline_ms);
  static std::int64_t NowMs();

  // ---- The write path (pg_write*.cc), inside Store's transaction ----
  Result<BatchResult> StoreOnce(const Batch& batch);
  // The last statement of a transaction that changed what ForEachAggregate reads: the change
  // counter AggregateVersion reads moves on (migration 7). Last, so that a transaction holding
  // the counter's row lock waits for nothing else and writers never wait in a cycle on it.
  Result<bool> BumpAggregateVersion();
  // Makes the monthly partitions of the batch's record days, each in a short transaction of
  // its own, before the batch's transaction.
  Result<bool> EnsurePartitions(const Batch& batch);
  Result<bool> CreatePartition(std::int64_t month_start, std::int64_t month_end);
  // The daily and per-address rollups of a batch's new records (summed per key in C++).
  Result<bool> StoreRollups(const PgRollups& rollups);
  // Numbers the source addresses in source_ips (interned on first sight).
  Result<bool> InternSourceIps(const std::vector<std::string>& ips);

  // ---- The outbox (pg_outbox.cc), inside Store's transaction ----
  struct NewReportIds {
    std::vector<std::int64_t> aggregate, failure, smtp_tls;
  };
  // Queues the new reports for each of OutboxOutputs(), in the order stored (ids ascending),
  // under a transaction lock: entries are numbered in the order their transactions commit.
  Result<bool> EnqueueNewReports(NewReportIds& fresh, std::int64_t now);

  // ---- Reports read back with what Store keeps beside them (pg_migrate.cc) ----
  // `where` selects the rows by id with parameters `params`: a page ("id > $1 ORDER BY id LIMIT
  // $2") or a list ("id = ANY($1::bigint[]) ORDER BY id"). Appends each report to out and its id
  // to ids; the raw XML of aggregate reports only when with_raw.
  Result<bool> ReadAggregateCopies(std::string_view where, const Params& params, bool with_raw,
                                   CopyBatch& out, std::vector<std::int64_t>& ids);
  Result<bool> ReadFailureCopies(std::string_view where, const Params& params, CopyBatch& out,
                                 std::vector<std::int64_t>& ids);
  Result<bool> ReadSmtpTlsCopies(std::string_view where, const Params& params, CopyBatch& out,
                                 std::vector<std::int64_t>& ids);

  // ---- Copies (pg_migrate.cc) ----
  // One page of items after `after` (an id, or an address) into out, moving `after` on; false
  // when there are none.
  Result<bool> CopyAggregatePage(std::int64_t& after, std::size_t limit, CopyBatch& out);
  Result<bool> CopyFailurePage(std::int64_t& after, std::size_t limit, CopyBatch& out);
  Result<bool> CopySmtpTlsPage(std::int64_t& after, std::size_t limit, CopyBatch& out);
  Result<bool> CopyRejectionPage(std::int64_t& after, std::size_t limit, CopyBatch& out);
  Result<bool> CopyIpInfoPage(std::string& after, std::size_t limit, CopyBatch& out);
  // Inside StoreCopy's transaction: the copies' import times, and the enrichment times of their
  // records that differ from enriched_at (what StoreOnce gave them all).
  Result<bool> FixCopiedTimes(const CopyBatch& copy, std::int64_t enriched_at);
  Result<bool> StoreIpInfoCopies(const std::vector<IpInfoCopy>& rows);

  // ---- Retention (pg_retention.cc): Purge's steps, adding what they purged to result ----
  // Drops the monthly partitions whose every record belongs to a report that ended before the
  // cutoff.
  Result<bool> PurgeMonths(std::int64_t cutoff, PurgeResult& result);
  // Drops the partition `name` ([lo, hi)) when every record in it belongs to a report that
  // ended before the cutoff; the number of records dropped (0 when it was kept).
  Result<std::size_t> DropMonth(const std::string& name, std::int64_t lo, std::int64_t hi,
                                std::int64_t cutoff);
  // The aggregate reports that ended before the cutoff, with the records they still have.
  Result<bool> PurgeAggregateReports(std::int64_t cutoff, PurgeResult& result);
  // Inside a transaction: the reports `ids`, their records, totals and raw XML, and their part
  // of the rollups; the number of records deleted.
  Result<std::size_t> DeleteReports(const std::vector<std::int64_t>& ids);
  // Failure and SMTP TLS reports, each kind in a transaction of its own.
  Result<bool> PurgeOtherKinds(std::int64_t cutoff, PurgeResult& result);
  // Rejected inputs and the bytes no other rejection shares; the number of rejections purged.
  Result<std::size_t> PurgeRejectedInputs(std::int64_t cutoff);

  Connection conn_;
  std::string url_;
  std::string label_;
  OpenOptions options_;
  // Monthly partitions of aggregate_records known to exist (their first day, Unix seconds).
  std::vector<std::int64_t> partitions_;
  // Ids of source IPs known to be committed (ids never change), and those the batch in progress
  // added: merged into the first only once that batch commits.
  std::unordered_map<std::string, std::int64_t> ip_ids_;
  std::unordered_map<std::string, std::int64_t> pending_ip_ids_;
  // The background integrity check Health reports (pg_health.cc), shared by the stores of this
  // process on the same database.
  std::shared_ptr<PgIntegrityMonitor> integrity_;
};

template <class T>
Result<T> PgStore::InTransaction(const std::function<Result<T>()>& body, bool read_only) {
  const std::int64_t deadline = NowMs() + options_.busy_timeout_ms;
  for (int attempt = 1;; ++attempt) {
    conn_.ClearError();
    Result<T> r = [&]() -> Result<T> {
      if (auto b =
              conn_.Exec(read_only ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
          !b) {
        return std::move(b).error_value();
      }
      Result<T> out = body();
      if (!out) {
        (void)conn_.Exec("ROLLBACK");
        return out;
      }
      if (auto c = conn_.Exec("COMMIT"); !c) {
        (void)conn_.Exec("ROLLBACK");
        return std::move(c).error_value();
      }
      return out;
    }();
    if (r || !conn_.LastError().Retryable() || !BackOff(attempt, deadline)) return r;
  }
}

}  // namespace pg_impl
}  // namespace dmarc::store
