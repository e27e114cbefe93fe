#include "web/api_outputs.h"

#include <spdlog/spdlog.h>

#include <ctime>

namespace dmarc::web {

namespace {

// A time as JSON: null for never (0).
nlohmann::ordered_json Time(std::int64_t t) { return t > 0 ? nlohmann::ordered_json(t) : nullptr; }

}  // namespace

nlohmann::ordered_json OutputStateJson(const store::OutboxState& s) {
  nlohmann::ordered_json j;
  j["name"] = s.name;
  j["failing"] = OutputFailing(s);
  j["backlog"] = s.backlog;
  j["oldest_queued_at"] = Time(s.oldest_enqueued_at);
  j["last_success_at"] = Time(s.last_success_at);
  j["last_error"] =
      s.last_error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(s.last_error);
  j["last_error_at"] = Time(s.last_error_at);
  j["consecutive_failures"] = s.consecutive_failures;
  j["next_attempt_at"] = Time(s.next_attempt_at);
  j["delivered"] = s.delivered;
  j["failures"] = s.failures;
  j["dropped"] = s.dropped;
  return j;
}

nlohmann::ordered_json OutputsJson(const std::vector<store::OutboxState>& states,
                                   std::int64_t now) {
  nlohmann::ordered_json j;
  j["now"] = now;
  std::size_t failing = 0;
  auto list = nlohmann::ordered_json::array();
  for (const auto& s : states) {
    if (OutputFailing(s)) ++failing;
    list.push_back(OutputStateJson(s));
  }
  j["failing"] = failing;
  j["outputs"] = std::move(list);
  return j;
}

ApiAnswer OutputsAnswer(store::ReportStore& store) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto states = store.QueryOutbox();
  if (!states && states.error_kind() == ErrorKind::kUnsupported) {
    return {200, "application/json", DumpJson(OutputsJson({}, now)), ""};
  }
  if (!states) {
    spdlog::error("dashboard API: the store failed: {}", states.error());
    return {
        500, "application/json",
        DumpJson(nlohmann::json{{"error", "the report store failed; the details are in the log"}}),
        ""};
  }
  return {200, "application/json", DumpJson(OutputsJson(*states, now)), ""};
}

}  // namespace dmarc::web
