// ReportStore: where reports live long term. One interface, several back ends (SQLite now,
// PostgreSQL later), all held to the same contract tests (store_contract_test.cc).
//
// Contract:
// - A batch is stored atomically: after a crash at any moment, either all of it or none of it is
//   there. Writers in several processes may share one store; each batch waits for the others.
// - An aggregate report is the same report when (org_name, report_id, policy domain, begin, end)
//   match; storing it again counts a duplicate and changes nothing.
// - A failure report is the same report when its dedup key (FailureDedupKey: SHA-256 of the
//   report's identifying fields, see docs/store.md) matches; an SMTP TLS report when
//   (organization_name, report_id, begin, end) match. Repeats count as duplicates.
// - A rejected input is kept with its reason, where it came from, its SHA-256 and its first
//   bytes, so nothing that arrived is lost silently; the same rejection stored twice is one row.
// - Queries see only committed batches.
//
// Thread-safety: one ReportStore object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "model/aggregate.h"
#include "model/failure.h"
#include "model/smtp_tls.h"
#include "store/ingest_status.h"

namespace dmarc::store {

struct RejectedInput {
  std::int64_t received_at = 0;  // Unix seconds
  std::string origin;            // where it came from, e.g. "mail.eml[part 2: x.zip]"
  std::string reason;
  std::string sha256;      // hex digest of the whole input
  std::uint64_t size = 0;  // bytes of the whole input
  std::string raw;         // the first bytes of the input (up to the store's raw limit)
};

// The records of an aggregate report too large to hold in memory (parsed as a stream: the
// pipeline's stream_bytes), waiting where the parse left them (pipeline/record_spool.h), and its
// XML, compressed (kRawXmlEncoding), likewise. The store reads them back while it stores the
// report, in the same transaction as the rest of its batch, as often as it needs (a retried
// transaction reads them again from the start).
class RecordStream {
 public:
  virtual ~RecordStream() = default;
  virtual std::uint64_t RecordCount() const = 0;
  // The distinct days (midnight UTC of each record's interval_begin) of its records, ascending:
  // a store that partitions records by time prepares them first.
  virtual std::vector<std::int64_t> Days() const = 0;
  // From the first record (and the first byte of the XML) again.
  virtual Status Rewind() = 0;
  // The next records, at most `max`, in place of what `out` held; none at the end.
  virtual Status NextRecords(std::vector<model::Record>& out, std::size_t max) = 0;
  // When the records' sources were filled from reverse DNS, as Batch::sources_enriched_at.
  virtual std::int64_t SourcesEnrichedAt() const = 0;
  // Bytes of the compressed XML (0: not kept), and the next of them, read in order from the
  // start (after Rewind): up to n bytes into `to`; fewer than n only at the end.
  virtual std::uint64_t RawXmlPackedBytes() const = 0;
  virtual Result<std::size_t> ReadRawXmlPacked(char* to, std::size_t n) = 0;
};

// How the raw XML of a report is compressed when it is stored (the column aggregate_raw.encoding):
// "zstd" (archive::Zstd); reports stored by earlier versions have "gzip". Both read back
// (UnpackRawXml).
inline constexpr std::string_view kRawXmlEncoding = "zstd";

// The stored XML `bytes` in `encoding` ("gzip" or "zstd"), decompressed; `size`, its recorded
// uncompressed length, bounds the output (whatever the ratio).
Result<std::string> UnpackRawXml(std::string_view encoding, std::string_view bytes,
                                 std::int64_t size);

// Records a store reads from a RecordStream at a time.
inline constexpr std::size_t kStreamRecordsPerRead = 4096;

struct StoredAggregate {
  std::string origin;
  // Not owned. With `stream`, the report without its records (report->records is empty): they
  // and the compressed XML come from the stream.
  const model::AggregateReport* report = nullptr;
  // The XML the report was parsed from, compressed (not owned; pipeline::FoundReport compresses
  // it), and its uncompressed size; empty when not kept. Stored with a new report (not with a
  // duplicate), in raw_xml_encoding.
  std::string_view raw_xml_packed;
  std::uint64_t raw_xml_size = 0;
  RecordStream* stream = nullptr;  // not owned
  // The compression of raw_xml_packed, and of a stream's: kRawXmlEncoding, except for copies of
  // reports stored before it was (`migrate`: "gzip").
  std::string_view raw_xml_encoding = kRawXmlEncoding;
  std::uint64_t RecordCount() const {
    return stream ? stream->RecordCount() : report->records.size();
  }
};

struct StoredFailure {
  std::string origin;
  const model::FailureReport* report = nullptr;  // not owned
};

struct StoredSmtpTls {
  std::string origin;
  const model::SmtpTlsReport* report = nullptr;  // not owned
};

struct Batch {
  std::vector<StoredAggregate> aggregates;
  std::vector<StoredFailure> failures;
  std::vector<StoredSmtpTls> smtp_tls;
  std::vector<RejectedInput> rejections;
  // When the records' source fields were filled from reverse DNS (Unix seconds); 0: they were
  // not (offline or no enrichment), so `enrich --db` will find them.
  std::int64_t sources_enriched_at = 0;
};

struct BatchResult {
  std::size_t new_reports = 0;
  std::size_t duplicate_reports = 0;
  std::size_t new_records = 0;
  std::size_t rejections = 0;  // rejections stored (a repeat of a known one is not)
  std::size_t new_failures = 0;
  std::size_t duplicate_failures = 0;
  std::size_t new_smtp_tls = 0;
  std::size_t duplicate_smtp_tls = 0;
};

// Filters shared by stats and export. Dates are UTC days, both inclusive.
struct Filter {
  std::optional<std::string> domain;  // the report's policy domain
  std::optional<std::int64_t> from;   // Unix seconds, midnight UTC
  std::optional<std::int64_t> to;     // Unix seconds, midnight UTC of the last day included
};

// The totals `stats --json` and the dashboard's /api/stats print; see docs/store.md.
struct Stats {
  std::uint64_t reports = 0;
  std::uint64_t records = 0;
  std::uint64_t messages = 0;
  std::uint64_t dmarc_pass = 0;
  std::uint64_t dmarc_fail = 0;
  std::map<std::string, std::uint64_t> by_disposition;
  std::map<std::string, std::uint64_t> by_domain;  // header_from → messages
  std::uint64_t source_ips = 0;
  std::uint64_t failure_reports = 0;
  std::uint64_t smtp_tls_reports = 0;
  std::uint64_t rejected_inputs = 0;
};

// One cached reverse-DNS answer of enrichment (status: "name", "no_name" or "failed").
struct IpInfoRow {
  std::string ip;
  std::string status;
  std::optional<std::string> reverse_dns;
  std::optional<std::string> base_domain;
  std::optional<std::string> country;
  std::optional<std::int64_t> asn;
  std::optional<std::string> as_name;
  std::optional<std::string> as_domain;
  std::int64_t resolved_at = 0;
  std::int64_t expires_at = 0;
};

// What Purge removed.
struct PurgeResult {
  std::size_t aggregate_reports = 0;
  std::size_t aggregate_records = 0;
  std::size_t failure_reports = 0;
  std::size_t smtp_tls_reports = 0;
  std::size_t rejected_inputs = 0;
};

// The status an administrator gave a sender of a policy domain (docs/senders.md). A sender
// without one is "unknown".
struct SenderStatusRow {
  std::string domain;           // the policy domain
  std::string sender;           // the inventory's sender key (store/senders.h)
  std::string status;           // "approved", "unapproved" or "forwarder"
  std::string changed_by;       // who set it (a user name, "cli:USER", "token")
  std::int64_t changed_at = 0;  // Unix seconds
};

// A refresh token of a delegated sign-in (`dmarc-report login`), sealed with AES-256-GCM by
// store/sealed_token.h: the store keeps only these bytes, never the token.
struct SealedTokenRow {
  std::string kind;           // the source kind: "graph", "imap"
  std::string identity;       // whose token: tenant, client and mailbox (sealed_token.h)
  std::string nonce;          // 12 bytes, hex
  std::string ciphertext;     // the sealed token and its 16-byte tag, hex
  std::string saved_by;       // who signed in (the local user running login), or "fetch" (rotated)
  std::int64_t saved_at = 0;  // Unix seconds
};

// ---- Copies of stored items, with what Store keeps beside them (`dmarc-report migrate`) ----

// An aggregate report as stored: where it came from, when, the XML it was parsed from and when
// each record's source fields were enriched.
struct AggregateCopy {
  std::string origin;
  std::int64_t imported_at = 0;  // Unix seconds
  model::AggregateReport report;
  std::string raw_xml_packed;  // empty when not kept
  std::uint64_t raw_xml_size = 0;
  std::string raw_xml_encoding;                   // "gzip" or "zstd" (kRawXmlEncoding)
  std::vector<std::int64_t> sources_enriched_at;  // per record, in order; 0: never from DNS
};

struct FailureCopy {
  std::string origin;
  std::int64_t imported_at = 0;
  model::FailureReport report;
};

struct SmtpTlsCopy {
  std::string origin;
  std::int64_t imported_at = 0;
  model::SmtpTlsReport report;
};

// One row of the per-address table: the cached DNS answer and what enrichment knows beyond it
// (the sending service's name and type, see PutSourceInfo).
struct IpInfoCopy {
  IpInfoRow info;
  std::optional<std::string> name;
  std::optional<std::string> type;
};

// Items of any kinds; ForEachCopy yields one kind per batch.
struct CopyBatch {
  std::vector<AggregateCopy> aggregates;
  std::vector<FailureCopy> failures;
  std::vector<SmtpTlsCopy> smtp_tls;
  std::vector<RejectedInput> rejections;  // with their stored bytes
  std::vector<IpInfoCopy> ip_info;
  std::size_t Size() const {
    return aggregates.size() + failures.size() + smtp_tls.size() + rejections.size() +
           ip_info.size();
  }
};

// ---- The outbox (ReportStore::OutboxNext ...; docs/outputs.md) ----
enum class OutboxKind { kAggregate = 0, kFailure = 1, kSmtpTls = 2 };

// One queued delivery: its place in the output's queue and its report (the field of its kind).
struct OutboxEntry {
  std::int64_t id = 0;
  OutboxKind kind = OutboxKind::kAggregate;
  std::int64_t enqueued_at = 0;
  // Its report is no longer stored (purged by retention before it was delivered): nothing to
  // send; settling the entry removes it.
  bool purged = false;
  model::AggregateReport aggregate;
  model::FailureReport failure;
  model::SmtpTlsReport smtp_tls;
};

// What a delivery attempt came to.
struct OutboxOutcome {
  // The entries the attempt covered (OutboxEntry::id); settled, they leave the outbox.
  std::vector<std::int64_t> ids;
  std::int64_t now = 0;              // Unix seconds
  bool settled = false;              // the entries leave the outbox
  std::size_t delivered = 0;         // settled: how many were accepted ...
  std::size_t dropped = 0;           // ... and how many refused for good (kInvalid)
  std::string error;                 // the last error (empty: none); kept until the next one
  std::int64_t next_attempt_at = 0;  // not settled: when to try again
};

struct OutboxKinds {
  bool aggregate = true, failure = true, smtp_tls = true;
};

// One output as the outbox knows it (`dmarc-report outputs`, /metrics, /api/outputs).
struct OutboxState {
  std::string name;
  std::uint64_t backlog = 0;
  std::int64_t oldest_enqueued_at = 0;  // 0: no backlog
  std::int64_t last_success_at = 0;     // 0: never
  std::int64_t last_error_at = 0;       // 0: never
  std::string last_error;
  std::uint64_t consecutive_failures = 0;  // attempts failed since the last success
  std::int64_t next_attempt_at = 0;
  std::uint64_t delivered = 0;  // totals since the outbox began
  std::uint64_t failures = 0;
  std::uint64_t dropped = 0;
};

class ReportStore {
 public:
  virtual ~ReportStore() = default;

  virtual Result<BatchResult> Store(const Batch& batch) = 0;
  virtual Result<Stats> QueryStats(const Filter& filter) = 0;
  // Calls visit for each stored aggregate report matching the filter, in the order stored.
  // A report matches when its policy domain matches and its begin date is in the range.
  virtual Result<std::size_t> ForEachAggregate(
      const Filter& filter, const std::function<void(model::AggregateReport&&)>& visit) = 0;
  // Failure reports whose arrival date is in the range and reported domain matches, in the
  // order stored.
  virtual Result<std::size_t> ForEachFailure(
      const Filter& filter, const std::function<void(model::FailureReport&&)>& visit) = 0;
  // SMTP TLS reports whose begin date is in the range and that have a policy for the domain,
  // in the order stored.
  virtual Result<std::size_t> ForEachSmtpTls(
      const Filter& filter, const std::function<void(model::SmtpTlsReport&&)>& visit) = 0;
  virtual Result<std::vector<RejectedInput>> Rejections() = 0;

  // Which of these aggregate reports are already stored (same identity as above), in order:
  // lets import skip enriching duplicates.
  virtual Result<std::vector<bool>> AggregatesStored(
      const std::vector<const model::AggregateReport*>& reports);
  // The same question for one report, asked from any thread while this store writes (a
  // connection of its own; it sees what was committed): lets the workers that extract reports
  // skip compressing the XML of a duplicate. Empty when the back end has no such check; a check
  // that fails says "not stored".
  using StoredCheck = std::function<bool(const model::AggregateReport&)>;
  virtual StoredCheck AggregateStoredCheck() { return {}; }

  // Enrichment. The default implementations say the back end has no such support.
  // The cached answers for these addresses that expire after `now`.
  virtual Result<std::vector<IpInfoRow>> GetIpInfo(const std::vector<std::string>& ips,
                                                   std::int64_t now);
  // Adds or replaces cached answers, in one transaction.
  virtual Result<bool> PutIpInfo(const std::vector<IpInfoRow>& rows);
  // Records what enrichment knows of each address beyond DNS (base domain, country, ASN) in
  // the same per-address table, for views that describe addresses without reading every record
  // (the dashboard). The cached DNS answer, if any, is kept; an address without one gets a row
  // that is no DNS answer (already expired). In one transaction.
  virtual Result<bool> PutSourceInfo(const std::vector<model::Source>& sources);
  // The distinct source addresses of records never enriched from DNS or enriched before
  // `enriched_before` (Unix seconds), and of failure reports never enriched (stored before their
  // source's DNS answer: Batch::sources_enriched_at 0).
  virtual Result<std::vector<std::string>> SourceIpsToEnrich(std::int64_t enriched_before);
  // Sets the source fields of those records (as SourceIpsToEnrich selects them) whose address
  // is one of `sources`' ip_address, marking them enriched at `enriched_at` (0: not from DNS,
  // so they stay selected); with enriched_at, failure reports never enriched get their source
  // too. In one transaction. Returns the number of records and failure reports changed.
  virtual Result<std::size_t> UpdateSources(const std::vector<model::Source>& sources,
                                            std::int64_t enriched_at, std::int64_t enriched_before);

  // Retention: removes what is older than `cutoff` (Unix seconds): aggregate reports that ended
  // before it, with their records and their part of the daily totals (stats over what is left
  // are those of a store that never had them); failure reports that arrived before it; SMTP TLS
  // reports that ended before it; rejected inputs received before it, with their bytes unless a
  // newer rejection shares them. Runs in short transactions, so a writer in another process is
  // never held up for long. Stores that cannot purge return an error.
  virtual Result<PurgeResult> Purge(std::int64_t cutoff) {
    (void)cutoff;
    return MakeError(Describe() + ": purging is not supported by this store");
  }
  // What Purge(cutoff) would remove, counted without removing anything (`vacuum --dry-run`).
  virtual Result<PurgeResult> CountPurge(std::int64_t cutoff) {
    (void)cutoff;
    return MakeError(Describe() + ": purging is not supported by this store");
  }
  // Gives the space of removed data back to the file system (SQLite: VACUUM, WAL truncated;
  // PostgreSQL: VACUUM (ANALYZE), which makes the space reusable without shrinking the files).
  virtual Result<bool> Compact() { return MakeError(Describe() + ": cannot compact"); }
  // Bytes the store occupies on disk (0 when unknown).
  virtual std::uint64_t SizeOnDisk() const { return 0; }
  // A trivial query that reads the store: true when it answers.
  virtual Result<bool> Ping() { return MakeError(Describe() + ": cannot be checked"); }
  // For /healthz, and as fast (a few milliseconds whatever the store's size): true when the store
  // answers, has this program's schema and its last integrity check found no damage. The
  // integrity check reads the whole store, so it runs in the background, at most once an hour
  // (SQLite: PRAGMA quick_check); until the first one ends, its verdict is "no damage".
  // The error (kIo) is a short reason fit to show anyone: no SQL, no path; the log has the
  // details.
  virtual Result<bool> Health() { return Ping(); }
  // The full integrity check now, on this connection (SQLite: PRAGMA quick_check): seconds on a
  // large store. The error names the damage found.
  virtual Result<bool> CheckIntegrity() { return MakeError(Describe() + ": cannot be checked"); }
  // ---- Copying a whole store (`dmarc-report migrate`, docs/store.md) ----
  // Calls visit with everything stored, in batches of up to `batch_size` items of one kind, each
  // kind in the order stored: aggregate reports, failure reports, SMTP TLS reports, rejected
  // inputs, the per-address table. visit returns false to stop early. Returns the items read.
  // The default implementation says the back end cannot be copied.
  virtual Result<std::size_t> ForEachCopy(std::size_t batch_size,
                                          const std::function<Result<bool>(CopyBatch&&)>& visit);
  // Stores copies as Store stores new items (the same identities: a repeat is a duplicate and
  // changes nothing), but keeping their imported_at, their records' enrichment times and the
  // whole bytes of rejected inputs; the per-address rows replace those of the same address. In
  // one transaction.
  virtual Result<BatchResult> StoreCopy(const CopyBatch& batch);

  // ---- Ingest status (store/ingest_status.h; `dmarc-report status`, /api/status) ----
  // Inserts or replaces the row of state.name (cut to its bounds: BoundedSourceState) with every
  // field as given except the counts, to which `add` is added (so two writers lose no count).
  virtual Result<bool> RecordSourceState(const SourceState& state, const SourceCounts& add);
  // The sources' rows, the enrichment backlog and the newest `max_rejections` rejected inputs,
  // in one read.
  virtual Result<IngestStatus> QueryIngestStatus(std::size_t max_rejections);

  // ---- The outbox of the outputs (docs/outputs.md) ----
  // The outputs each new report is queued for by Store (and StoreCopy), in the same transaction
  // that stores it: the [output.NAME] names of the configuration. Empty (the default): none.
  void SetOutboxOutputs(std::vector<std::string> names) { outbox_outputs_ = std::move(names); }
  const std::vector<std::string>& OutboxOutputs() const { return outbox_outputs_; }
  // The oldest entries queued for `output`, in the order queued: at most max_items, and fewer
  // once they hold max_records aggregate records (at least one entry). Each with its report read
  // back (an entry whose report was purged meanwhile says so: OutboxEntry::purged).
  virtual Result<std::vector<OutboxEntry>> OutboxNext(const std::string& output,
                                                      std::size_t max_items,
                                                      std::size_t max_records);
  // Records the outcome of a delivery attempt of `output` (one transaction): with settled, the
  // entries outcome.ids leave the outbox (delivered, or dropped when refused for good);
  // otherwise they stay and the attempt counts as a failure with its retry time.
  virtual Result<bool> OutboxSettle(const std::string& output, const OutboxOutcome& outcome);
  // Queues what is stored (matching filter, of the kinds asked) for one output, in the order
  // stored (`export --to`). Returns the entries added.
  virtual Result<std::size_t> OutboxEnqueue(const std::string& output, const Filter& filter,
                                            const OutboxKinds& kinds);
  // Every output with a backlog or a recorded attempt, by name.
  virtual Result<std::vector<OutboxState>> QueryOutbox();
  // Forgets one output (`outputs --clear NAME`): its queued entries and its recorded state go,
  // in one transaction; the reports stay stored. Returns the entries removed.
  virtual Result<std::size_t> OutboxClear(const std::string& output);
  // ---- Sender statuses (store/senders.h, docs/senders.md) ----
  // Sets the status of (row.domain, row.sender): "approved", "unapproved" or "forwarder"
  // replace any earlier one; "unknown" removes it. Other
  // statuses and keys beyond kMaxSenderKeyBytes are refused (kInvalid).
  virtual Result<bool> SetSenderStatus(const SenderStatusRow& row);
  // The statuses set for the domain's senders, by sender key.
  virtual Result<std::vector<SenderStatusRow>> SenderStatuses(const std::string& domain);
  // A number that changes with every commit that changes what ForEachAggregate reads (aggregate
  // reports stored, copied or purged; records' source fields filled in by enrichment) and with no
  // other commit (sender statuses, ingest state, the outbox, tokens). The same for every
  // connection and process of one store, so a cache of computed answers (store/sender_index.h)
  // can be shared and kept until it changes. nullopt: the back end cannot tell (do not cache).
  virtual Result<std::optional<std::int64_t>> AggregateVersion();
  // ---- Sealed refresh tokens (store/sealed_token.h) ----
  // Keeps the row for (kind, identity), replacing any earlier one. Rows beyond
  // kMaxSealedTokenBytes are refused (kInvalid).
  virtual Result<bool> SaveSealedToken(const SealedTokenRow& row);
  // The row for (kind, identity); nullopt when there is none.
  virtual Result<std::optional<SealedTokenRow>> SealedToken(const std::string& kind,
                                                            const std::string& identity);

  // A short description for messages, e.g. "sqlite:data/dmarc-report.db".
  virtual std::string Describe() const = 0;
  // True when a commit is mostly another process's work (a database server), so a writer gains
  // by preparing its next batch while one commits; false for a local file, whose commit is this
  // process's own CPU and disk.
  virtual bool CommitsElsewhere() const { return false; }

 private:
  std::vector<std::string> outbox_outputs_;
};

// The Batch that stores these copies as Store would (pointing into copy): every record gets the
// enrichment time most of them share; StoreCopy sets the others afterwards.
Batch BatchOfCopies(const CopyBatch& copy);

// The key that makes two failure reports the same report (hex SHA-256); see docs/store.md.
std::string FailureDedupKey(const model::FailureReport& report);

struct OpenOptions {
  std::size_t max_raw_bytes = 1024 * 1024;  // bytes of a rejected input kept in the store
  int busy_timeout_ms = 120'000;            // how long a writer waits for another one
  int cache_kib = 64 * 1024;                // page cache of the store's connection
  // PostgreSQL: the password (read from [store] password_file by the caller); empty: libpq
  // finds one in PGPASSFILE or ~/.pgpass, or the server needs none. Never in a URL or a log.
  std::string password;
  // Only reads (a hot standby, `[store] read_url`): the schema is checked, never migrated.
  bool read_only = false;
  // A command that reads (stats, export, report, serve) or updates (enrich, vacuum) a store: a
  // SQLite file that does not exist is refused (kNotFound, "no store at ...") instead of being
  // created empty. A PostgreSQL database must exist anyway; an empty one is given its tables (a
  // dashboard may start before its collector: the database is what an administrator creates).
  bool must_exist = false;
};

// The file path in a store URL ("sqlite:PATH", "sqlite:///abs/path" or a plain path); an error
// (kUnsupported) for a URL of another back end (postgresql://: see store/pg/pg_store.h).
Result<std::string> SqlitePathFromUrl(const std::string& url);

// The filter's days as a half-open range [from, to) of Unix seconds; an open side is far away.
std::pair<std::int64_t, std::int64_t> DayRange(const Filter& filter);

// Opens (creating and migrating as needed) the store named by url: "sqlite:PATH", or a plain
// path, which means SQLite too; or "postgresql://user@host:port/db?sslmode=..." (the database
// must exist; its tables are created and migrated).
Result<std::unique_ptr<ReportStore>> OpenStore(const std::string& url, const OpenOptions& options);

}  // namespace dmarc::store
