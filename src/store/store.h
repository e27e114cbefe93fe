// ReportStore: where reports live long term. One interface, several back ends (SQLite now,
// PostgreSQL later), all held to the same contract tests (store_contract_test.cc).
//
// Contract:
// - A batch is stored atomically: after a crash at any moment, either all of it or none of it is
//   there. Writers in several processes may share one store; each batch waits for the others.
// - An aggregate report is the same report when (org_name, report_id, policy domain, begin, end)
//   match; storing it again counts a duplicate and changes nothing.
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
#include <vector>

#include "base/result.h"
#include "model/aggregate.h"

namespace dmarc::store {

struct RejectedInput {
  std::int64_t received_at = 0;  // Unix seconds
  std::string origin;            // where it came from, e.g. "mail.eml[part 2: x.zip]"
  std::string reason;
  std::string sha256;      // hex digest of the whole input
  std::uint64_t size = 0;  // bytes of the whole input
  std::string raw;         // the first bytes of the input (up to the store's raw limit)
};

struct StoredAggregate {
  std::string origin;
  const model::AggregateReport* report = nullptr;  // not owned
};

struct Batch {
  std::vector<StoredAggregate> aggregates;
  std::vector<RejectedInput> rejections;
};

struct BatchResult {
  std::size_t new_reports = 0;
  std::size_t duplicate_reports = 0;
  std::size_t new_records = 0;
  std::size_t rejections = 0;  // rejections stored (a repeat of a known one is not)
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

// What Purge removed.
struct PurgeResult {
  std::size_t aggregate_reports = 0;
  std::size_t aggregate_records = 0;
  std::size_t failure_reports = 0;
  std::size_t smtp_tls_reports = 0;
  std::size_t rejected_inputs = 0;
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
  virtual Result<std::vector<RejectedInput>> Rejections() = 0;
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
  // Gives the space of removed data back to the file system (SQLite: VACUUM, WAL truncated).
  virtual Result<bool> Compact() { return MakeError(Describe() + ": cannot compact"); }
  // Bytes the store occupies on disk (0 when unknown).
  virtual std::uint64_t SizeOnDisk() const { return 0; }
  // A short description for messages, e.g. "sqlite:data/dmarc-report.db".
  virtual std::string Describe() const = 0;
};

struct OpenOptions {
  std::size_t max_raw_bytes = 1024 * 1024;  // bytes of a rejected input kept in the store
  int busy_timeout_ms = 120'000;            // how long a writer waits for another one
};

// Opens (creating and migrating as needed) the store named by url: "sqlite:PATH", or a plain
// path, which means SQLite too.
Result<std::unique_ptr<ReportStore>> OpenStore(const std::string& url, const OpenOptions& options);

}  // namespace dmarc::store
