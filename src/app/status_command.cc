// `dmarc-report status`: the ingest status `fetch` and `run` record in the store (each source's
// state, last and next poll, what its polls brought, its last error), the enrichment backlog and
// the latest rejected inputs; as text or as JSON (the object of GET /api/status).
#include <fmt/format.h>

#include <ctime>
#include <string>
#include <string_view>

#include "app/cli.h"
#include "app/store_target.h"
#include "base/text.h"
#include "base/time.h"
#include "store/store.h"
#include "web/api_status.h"

namespace dmarc::app {

namespace {

struct StatusCommandOptions {
  StoreArgs store;
  bool json = false;
};

// Texts from the sources and the inputs (a file name, a server's error) on a terminal: controls
// escaped, so that none moves the cursor or starts a line of its own.
std::string Safe(std::string_view s) { return EscapeControls(s); }

std::string When(const std::optional<std::int64_t>& t, std::int64_t now) {
  if (!t) return "-";
  const std::int64_t d = *t - now;
  const std::int64_t a = d < 0 ? -d : d;
  if (a == 0) return fmt::format("{} UTC (now)", FormatUtc(*t));
  const std::string span = a < 120    ? fmt::format("{} s", a)
                           : a < 7200 ? fmt::format("{} min", a / 60)
                                      : fmt::format("{} h", a / 3600);
  return fmt::format("{} UTC ({})", FormatUtc(*t), d < 0 ? span + " ago" : "in " + span);
}

void PrintSource(const store::SourceState& s, std::int64_t now) {
  const store::SourceCounts& c = s.counts;
  fmt::print("  {} [{}]\n", Safe(s.name), Safe(s.state));
  if (s.state == store::kSourcePolling) {
    if (s.inputs_total == 0) {
      fmt::print("    in progress:  listing what waits\n");
    } else {
      fmt::print("    in progress:  {} of {} inputs\n", s.inputs_done, s.inputs_total);
    }
  }
  fmt::print("    last poll:    {}", When(s.poll_started_at, now));
  if (s.poll_ended_at && s.poll_started_at && *s.poll_ended_at >= *s.poll_started_at) {
    fmt::print(", took {} s", *s.poll_ended_at - *s.poll_started_at);
  }
  fmt::print("\n    next poll:    {}\n", When(s.next_poll_at, now));
  fmt::print("    mails:        {} stored, {} invalid, {} left in the mailbox\n", c.mails_stored,
             c.mails_invalid, s.mails_left);
  fmt::print(
      "    reports:      aggregate {} new, {} duplicate; failure {} new, {} duplicate; SMTP TLS "
      "{} new, {} duplicate; {} records; {} rejected\n",
      c.aggregate_new, c.aggregate_duplicate, c.failure_new, c.failure_duplicate, c.smtp_tls_new,
      c.smtp_tls_duplicate, c.records, c.rejections);
  if (s.last_error) {
    fmt::print("    last error:   {}: {}\n", When(s.last_error_at, now), Safe(*s.last_error));
  }
  fmt::print("    updated:      {}\n", When(s.updated_at, now));
}

void PrintText(const std::string& store_name, const store::IngestStatus& st, std::int64_t now) {
  fmt::print("Store: {}\n\n", Safe(store_name));
  if (st.sources.empty()) {
    fmt::print("Sources: none recorded yet (fetch and run record theirs as they poll)\n");
  } else {
    fmt::print("Sources ({}):\n", st.sources.size());
    for (const auto& s : st.sources) PrintSource(s, now);
  }
  fmt::print("\nEnrichment backlog: ");
  if (st.enrichment_backlog == 0) {
    fmt::print("none (every stored address has had its reverse DNS lookup)\n");
  } else {
    fmt::print(
        "{} address(es) in {} record(s) without a reverse DNS answer yet (`dmarc-report enrich` "
        "looks them up)\n",
        st.enrichment_backlog, st.enrichment_backlog_records);
  }
  if (st.rejections.empty()) {
    fmt::print("\nRejected inputs: none\n");
    return;
  }
  fmt::print("\nLatest rejected inputs ({}, newest first):\n", st.rejections.size());
  for (const auto& r : st.rejections) {
    fmt::print("  {} UTC  {}\n      {}\n", FormatUtc(r.received_at), Safe(r.origin),
               Safe(r.reason));
  }
}

}  // namespace

namespace {

StatusCommandOptions& StatusState() {
  static StatusCommandOptions state;
  return state;
}

}  // namespace

void AddStatusOptions(CLI::App& cmd) {
  StatusCommandOptions& status = StatusState();
  AddStoreOptions(cmd, status.store, true);
  cmd.add_flag("--json", status.json, "Print the status as JSON (the object of GET /api/status)");
}

// Exit status: 0, or 1 when a source's last poll failed (state error); 2 when the store cannot
// be read.
int RunStatusCommand() {
  const StatusCommandOptions& options = StatusState();
  auto st = OpenStoreOrSay(options.store, Access::kRead);
  if (!st) return 2;
  auto status = st->QueryIngestStatus(web::kStatusRejections);
  if (!status) {
    fmt::print(stderr, "{}: {}\n", st->Describe(), status.error());
    return 2;
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (options.json) {
    fmt::print("{}\n", web::IngestStatusJson(*status, now)
                           .dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  } else {
    PrintText(st->Describe(), *status, now);
  }
  for (const auto& s : status->sources) {
    if (s.state == store::kSourceError) return 1;
  }
  return 0;
}

}  // namespace dmarc::app
