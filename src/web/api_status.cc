#include "web/api_status.h"

#include <spdlog/spdlog.h>

#include <ctime>
#include <optional>
#include <string>

#include "base/time.h"

namespace dmarc::web {

namespace {

using json = nlohmann::ordered_json;

json Time(const std::optional<std::int64_t>& t) {
  if (!t) return nullptr;
  return FormatUtc(*t);
}

json Text(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return *s;
}

json SourceJson(const store::SourceState& s) {
  const store::SourceCounts& c = s.counts;
  json j;
  j["name"] = s.name;
  j["kind"] = s.kind;
  j["state"] = s.state;
  j["updated_at"] = FormatUtc(s.updated_at);
  j["poll_started_at"] = Time(s.poll_started_at);
  j["poll_ended_at"] = Time(s.poll_ended_at);
  j["next_poll_at"] = Time(s.next_poll_at);
  j["last_error"] = Text(s.last_error);
  j["last_error_at"] = Time(s.last_error_at);
  j["inputs"] = {{"done", s.inputs_done}, {"total", s.inputs_total}};
  j["mails"] = {{"stored", c.mails_stored}, {"invalid", c.mails_invalid}, {"left", s.mails_left}};
  j["reports"] = {{"aggregate", {{"new", c.aggregate_new}, {"duplicate", c.aggregate_duplicate}}},
                  {"failure", {{"new", c.failure_new}, {"duplicate", c.failure_duplicate}}},
                  {"smtp_tls", {{"new", c.smtp_tls_new}, {"duplicate", c.smtp_tls_duplicate}}}};
  j["records"] = c.records;
  j["rejections"] = c.rejections;
  return j;
}

}  // namespace

json IngestStatusJson(const store::IngestStatus& status, std::int64_t now) {
  json sources = json::array();
  std::uint64_t polling = 0, done = 0, total = 0;
  for (const auto& s : status.sources) {
    sources.push_back(SourceJson(s));
    if (s.state == store::kSourcePolling) {
      ++polling;
      done += s.inputs_done;
      total += s.inputs_total;
    }
  }
  json rejections = json::array();
  for (const auto& r : status.rejections) {
    rejections.push_back({{"id", r.id},
                          {"received_at", FormatUtc(r.received_at)},
                          {"origin", r.origin},
                          {"reason", r.reason},
                          {"size", r.size}});
  }
  json j;
  j["now"] = FormatUtc(now);
  j["has_reports"] = status.has_reports;
  // The sources being polled now, and their inputs: done of total.
  j["in_progress"] = {{"sources", polling}, {"done", done}, {"total", total}};
  j["sources"] = std::move(sources);
  j["enrichment_backlog"] = {{"addresses", status.enrichment_backlog},
                             {"records", status.enrichment_backlog_records}};
  j["rejections"] = std::move(rejections);
  return j;
}

ApiAnswer StatusAnswer(store::ReportStore& store) {
  auto status = store.QueryIngestStatus(kStatusRejections);
  if (!status) {
    spdlog::error("dashboard API: the store failed: {}", status.error());
    return {
        500, "application/json",
        DumpJson(nlohmann::json{{"error", "the report store failed; the details are in the log"}}),
        ""};
  }
  return {200, "application/json",
          DumpJson(IngestStatusJson(*status, static_cast<std::int64_t>(std::time(nullptr)))), ""};
}

}  // namespace dmarc::web
