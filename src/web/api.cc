#include "web/api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <optional>

#include "base/time.h"
#include "web/api_json.h"
#include "web/api_status.h"

namespace dmarc::web {

namespace {

constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;
constexpr std::size_t kMaxParamBytes = 1024;

ApiAnswer Error(int status, const std::string& message) {
  return {status, "application/json", DumpJson(nlohmann::json{{"error", message}}), ""};
}

const std::string* Param(const Params& params, const std::string& name) {
  auto it = params.find(name);
  if (it == params.end() || it->second.empty()) return nullptr;
  return &it->second;
}

std::optional<std::int64_t> ToInt(const std::string& s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// The filter in a request; an error names the bad parameter.
Result<store::DashboardFilter> ToFilter(const Params& params) {
  for (const auto& [k, v] : params) {
    if (v.size() > kMaxParamBytes) return MakeError(fmt::format("parameter {} is too long", k));
  }
  store::DashboardFilter f;
  if (auto* d = Param(params, "domain")) f.range.domain = *d;
  for (auto [name, target] : {std::pair{"from", &f.range.from}, std::pair{"to", &f.range.to}}) {
    if (auto* s = Param(params, name)) {
      *target = ParseDate(*s);
      if (!*target) return MakeError(fmt::format("{}: \"{}\" is not a date YYYY-MM-DD", name, *s));
    }
  }
  if (f.range.from && f.range.to && *f.range.to < *f.range.from) {
    return MakeError("to is before from");
  }
  if (auto* s = Param(params, "failing")) f.only_failing = *s == "1" || *s == "true";
  if (auto* s = Param(params, "header_from")) f.header_from = *s;
  if (auto* s = Param(params, "org")) f.org_name = *s;
  if (auto* g = Param(params, "source_group")) {
    if (!store::IsSourceGroup(*g)) {
      return MakeError(fmt::format("source_group: unknown group \"{}\"", *g));
    }
    f.source_group = *g;
    auto it = params.find("source_value");
    f.source_value = it == params.end() ? std::string() : it->second;
  }
  return f;
}

Result<std::size_t> Count(const Params& params, const char* name, std::size_t fallback,
                          std::size_t max) {
  auto* s = Param(params, name);
  if (!s) return fallback;
  auto v = ToInt(*s);
  if (!v) return MakeError(fmt::format("{}: \"{}\" is not a number", name, *s));
  return std::min<std::size_t>(static_cast<std::size_t>(*v), max);
}

// A store that failed: the answer says only that. Store errors carry SQLite's messages, SQL
// statements and file paths, which are no one's business outside; the log gets the detail.
ApiAnswer StoreFailed(const std::string& detail) {
  spdlog::error("dashboard API: the store failed: {}", detail);
  return Error(500, "the report store failed; the details are in the log");
}

// A store error: 404 when what was asked for does not exist (the message names only the id),
// 500 otherwise.
template <class T>
ApiAnswer StoreError(const Result<T>& r) {
  if (r.error_kind() == ErrorKind::kNotFound) return Error(404, r.error());
  return StoreFailed(r.error());
}

// The JSON that build makes of a store's answer, or a store error.
template <class T, class Build>
ApiAnswer FromRows(const Result<T>& r, Build&& build) {
  if (!r) return StoreError(r);
  return {200, "application/json", DumpJson(build(*r)), ""};
}

}  // namespace

nlohmann::ordered_json StatsJson(const store::Stats& s) {
  nlohmann::ordered_json j;
  j["reports"] = s.reports;
  j["records"] = s.records;
  j["messages"] = s.messages;
  j["dmarc_pass"] = s.dmarc_pass;
  j["dmarc_fail"] = s.dmarc_fail;
  j["by_disposition"] = s.by_disposition;
  j["by_domain"] = s.by_domain;
  j["source_ips"] = s.source_ips;
  j["failure_reports"] = s.failure_reports;
  j["smtp_tls_reports"] = s.smtp_tls_reports;
  j["rejected_inputs"] = s.rejected_inputs;
  return j;
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
std::string DumpJson(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

ApiAnswer Api::Get(const std::string& path, const Params& params) {
  auto filter = ToFilter(params);
  if (!filter) return Error(400, filter.error());
  const store::DashboardFilter& f = *filter;
  auto limit = Count(params, "limit", kDefaultLimit, kMaxLimit);
  if (!limit) return Error(400, limit.error());

  if (path == "/api/stats") {
    auto s = store_.QueryStats(f.range);
    if (!s) return StoreFailed(s.error());
    return {200, "application/json", DumpJson(StatsJson(*s)), ""};
  }
  if (path == "/api/overview") return FromRows(queries_.Overview(f), OverviewJson);
  if (path == "/api/sources") {
    auto* group = Param(params, "group");
    const std::string g = group ? *group : "service";
    if (!store::IsSourceGroup(g)) return Error(400, fmt::format("group: unknown \"{}\"", g));
    return FromRows(queries_.Sources(f, g, *limit), SourcesJson);
  }
  if (path == "/api/records") {
    return FromRows(queries_.Records(f, *limit),
                    [&](const auto& rows) { return RecordsJson(rows, *limit); });
  }
  if (path == "/api/domains") return FromRows(queries_.Domains(f), DomainsJson);
  if (path == "/api/reporters") return FromRows(queries_.Reporters(f), ReportersJson);
  if (path == "/api/reports") {
    auto offset = Count(params, "offset", 0, SIZE_MAX / 2);
    if (!offset) return Error(400, offset.error());
    return FromRows(queries_.Reports(f, *limit, *offset),
                    [&](const auto& page) { return ReportsJson(page, *limit, *offset); });
  }
  if (path == "/api/report" || path == "/api/report/raw" || path == "/api/rejected/raw") {
    auto* s = Param(params, "id");
    auto id = s ? ToInt(*s) : std::nullopt;
    if (!id) return Error(400, "id: a report number is required");
    if (path == "/api/report") {
      return FromRows(queries_.Report(*id), ReportJson);
    }
    if (path == "/api/report/raw") {
      auto xml = queries_.ReportRaw(*id);
      if (!xml) return StoreError(xml);
      return {200, "application/xml", std::move(xml->first), std::move(xml->second)};
    }
    auto raw = queries_.RejectedRaw(*id);
    if (!raw) return StoreError(raw);
    return {200, "application/octet-stream", std::move(raw->first),
            fmt::format("rejected-{}-{}.bin", *id, raw->second.substr(0, 16))};
  }
  if (path == "/api/rejected") return FromRows(queries_.Rejections(f, *limit), RejectionsJson);
  if (path == "/api/failures") {
    return FromRows(queries_.FailureReports(f, *limit), [&](const auto& rows) {
      return FailuresJson(rows, options_.show_failure_samples);
    });
  }
  if (path == "/api/smtp-tls") return FromRows(queries_.SmtpTls(f), SmtpTlsJson);
  if (path == "/api/status") return StatusAnswer(store_);
  return Error(404, "no such API path");
}

}  // namespace dmarc::web
