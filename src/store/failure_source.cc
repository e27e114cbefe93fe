#include "store/failure_source.h"

#include <nlohmann/json.hpp>

#include "sinks/report_json.h"

namespace dmarc::store {

std::string FailureData(const model::FailureReport& report) {
  return sinks::FailureToJson(report).dump(-1, ' ', false,
                                           nlohmann::ordered_json::error_handler_t::replace);
}

Result<std::string> FailureDataWithSource(
    std::string_view data, const std::unordered_map<std::string, const model::Source*>& sources) {
  auto json = nlohmann::ordered_json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return MakeError(ErrorKind::kInvalid, "stored failure report: not JSON");
  auto report = sinks::FailureFromJson(json);
  if (!report) return MakeError(report.error());
  const auto found = sources.find(report->source.ip_address);
  if (found == sources.end()) return std::string(data);
  report->source = *found->second;
  return FailureData(*report);
}

}  // namespace dmarc::store
