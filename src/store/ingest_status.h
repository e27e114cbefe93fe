// The ingest status a collector (`fetch`, `run`) records of each of its mail sources, and what
// `dmarc-report status` and the dashboard's /api/status read back (docs/store.md, "Ingest
// status"). Plain values, like dashboard_rows.h: times are Unix seconds (UTC).
//
// Every text here (a source's name, an error, a rejected input's origin and reason) may carry
// what strangers wrote (a mailbox name, a server's greeting, a file name): consumers render it as
// text, never as markup.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dmarc::store {

// What a source's polls brought, counted since the source was first recorded.
struct SourceCounts {
  std::uint64_t mails_stored = 0;   // filed as report mails (their reports new or duplicates)
  std::uint64_t mails_invalid = 0;  // filed as Invalid (no report in them)
  std::uint64_t aggregate_new = 0;
  std::uint64_t aggregate_duplicate = 0;
  std::uint64_t failure_new = 0;
  std::uint64_t failure_duplicate = 0;
  std::uint64_t smtp_tls_new = 0;
  std::uint64_t smtp_tls_duplicate = 0;
  std::uint64_t records = 0;     // aggregate records of the new reports
  std::uint64_t rejections = 0;  // rejected inputs stored (a repeat of a known one is not)

  void Add(const SourceCounts& o);
  bool operator==(const SourceCounts&) const = default;
};

// The states of a source.
inline constexpr std::string_view kSourceIdle = "idle";          // between polls
inline constexpr std::string_view kSourcePolling = "polling";    // a poll is running
inline constexpr std::string_view kSourceError = "error";        // the last poll failed
inline constexpr std::string_view kSourceDisabled = "disabled";  // no collector polls it now

// Bounds of what a row keeps (longer texts are cut at a UTF-8 character boundary).
inline constexpr std::size_t kMaxSourceNameBytes = 512;
inline constexpr std::size_t kMaxSourceErrorBytes = 1000;
// Rows IngestStatus returns at most (sources, by name).
inline constexpr std::size_t kMaxStatusSources = 200;

struct SourceState {
  std::string name;   // the source as it describes itself (collect::Source::Describe: no secret)
  std::string kind;   // imap, pop3, maildir, mbox, directory
  std::string state;  // one of the kSource* states
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> poll_started_at;  // the last (or running) poll
  std::optional<std::int64_t> poll_ended_at;    // the last poll that ended
  std::optional<std::int64_t> next_poll_at;     // when the collector polls it again, if it will
  std::optional<std::string> last_error;        // the last error, kept after a recovery
  std::optional<std::int64_t> last_error_at;
  // The running poll's inputs (or the last poll's, once it ended): done of total.
  std::uint64_t inputs_total = 0;
  std::uint64_t inputs_done = 0;
  std::uint64_t mails_left = 0;  // mails the last poll left in the mailbox (not filed)
  SourceCounts counts;           // since the source was first recorded

  bool operator==(const SourceState&) const = default;
};

// A rejected input as the status shows it (its bytes: /api/rejected/raw?id=).
struct RecentRejection {
  std::int64_t id = 0;
  std::int64_t received_at = 0;
  std::string origin;
  std::string reason;
  std::uint64_t size = 0;
};

struct IngestStatus {
  std::vector<SourceState> sources;  // by name, at most kMaxStatusSources
  // Distinct source addresses of stored records never enriched from reverse DNS (offline, the
  // DNS silent, or enrichment not reached them yet), and those records.
  std::uint64_t enrichment_backlog = 0;
  std::uint64_t enrichment_backlog_records = 0;
  bool has_reports = false;                 // any aggregate, failure or SMTP TLS report stored
  std::vector<RecentRejection> rejections;  // newest first
};

// The row as a store keeps it: name and error cut to their bounds (UTF-8 kept valid).
SourceState BoundedSourceState(const SourceState& state);

}  // namespace dmarc::store
