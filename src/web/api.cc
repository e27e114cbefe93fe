#include "web/api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <optional>

#include "base/text.h"
#include "base/time.h"
#include "web/api_advise.h"
#include "web/api_json.h"
#include "web/api_outputs.h"
#include "web/api_senders.h"
#include "web/api_status.h"
#include "web/failure_json.h"

namespace dmarc::web {

namespace {

constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxParamBytes = 1024;
constexpr std::size_t kMaxOffset = std::size_t{1} << 40;
constexpr std::size_t kMaxDomainNames = 1000;

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

// The page of a list a request asks for: offset, limit (at most max_limit) and the search q.
Result<store::ListPage> ToPage(const Params& params, std::size_t max_limit) {
  store::ListPage page;
  DMARC_TRY_ASSIGN(page.limit, Count(params, "limit", kDefaultLimit, max_limit));
  auto offset = Count(params, "offset", 0, SIZE_MAX);
  if (!offset) return std::move(offset).error_value();
  if (*offset > kMaxOffset) return MakeError(fmt::format("offset: at most {}", kMaxOffset));
  page.offset = *offset;
  if (auto* q = Param(params, "q")) {
    if (q->size() > kMaxSearchBytes) {
      return MakeError(fmt::format("q: the search text is longer than {} bytes", kMaxSearchBytes));
    }
    const bool control = std::any_of(q->begin(), q->end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (control || !IsValidUtf8(*q)) {
      return MakeError("q: the search text must be UTF-8 without control characters");
    }
    page.search = *q;
  }
  return page;
}

// Rows [offset, offset + limit) of those whose fields(row) (texts or optional texts) match the
// page's search, and how many match.
template <class Row, class Fields>
store::Page<Row> Slice(const std::vector<Row>& rows, const store::ListPage& page, Fields&& fields) {
  store::Page<Row> out;
  for (const Row& r : rows) {
    bool match = page.search.empty();
    for (const std::optional<std::string>& f : fields(r)) {
      if (match) break;
      match = f && store::SearchMatches(*f, page.search);
    }
    if (!match) continue;
    const auto n = static_cast<std::size_t>(out.total++);
    if (n >= page.offset && n - page.offset < page.limit) out.rows.push_back(r);
  }
  return out;
}

// Adds a list's total, offset and limit to its answer.
nlohmann::json WithPage(nlohmann::json j, std::int64_t total, const store::ListPage& page) {
  j["total"] = total;
  j["offset"] = page.offset;
  j["limit"] = page.limit;
  return j;
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

// The domains answer: both lists searched and paged alike, each with its total.
nlohmann::json DomainsPage(const store::DomainsResult& d, const store::ListPage& page) {
  auto header_from = Slice(d.header_from, page, [](const store::HeaderFromRow& r) {
    return std::array<std::optional<std::string>, 2>{r.header_from, r.policy_domain};
  });
  auto policies = Slice(d.policies, page, [](const store::PolicyRow& r) {
    return std::array<std::optional<std::string>, 2>{r.domain, r.p};
  });
  store::DomainsResult shown{std::move(header_from.rows), std::move(policies.rows)};
  nlohmann::json j = DomainsJson(shown);
  j["header_from_total"] = header_from.total;
  j["policies_total"] = policies.total;
  j["offset"] = page.offset;
  j["limit"] = page.limit;
  return j;
}

// The SMTP TLS answer: the per-day series whole, the policies searched and paged.
nlohmann::json SmtpTlsPage(const store::SmtpTlsResult& t, const store::ListPage& page) {
  auto policies = Slice(t.policies, page, [](const store::SmtpTlsResult::Policy& p) {
    return std::array<std::optional<std::string>, 4>{p.policy_domain, p.policy_type,
                                                     p.mx_host_patterns, p.reporters};
  });
  store::SmtpTlsResult shown{t.daily, t.failure_types, std::move(policies.rows)};
  nlohmann::json j = SmtpTlsJson(shown);
  j["policies_total"] = policies.total;
  j["offset"] = page.offset;
  j["limit"] = page.limit;
  return j;
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

std::optional<ApiAnswer> Api::GetUnfiltered(const std::string& path, const Params& params) {
  if (path == "/api/status") return StatusAnswer(store_);
  if (path == "/api/outputs") return OutputsAnswer(store_);
  if (path == "/api/domain-names") {
    return FromRows(queries_.DomainNames(kMaxDomainNames), [](const auto& names) {
      return nlohmann::json{{"domains", names}, {"limit", kMaxDomainNames}};
    });
  }
  if (path == "/api/enrichment") {
    // Addresses whose records were never looked up in DNS (enriched at 0 or never: before 1):
    // what `enrich` (or run's background enrichment) has left to do. A store that cannot tell
    // answers null.
    auto status = store_.QueryIngestStatus(0);  // the backlog, counted on its own index
    std::optional<std::uint64_t> pending;
    if (status) pending = status->enrichment_backlog;
    return ApiAnswer{
        200, "application/json",
        DumpJson(nlohmann::json{
            {"mode", options_.enrichment.empty() ? nlohmann::json(nullptr)
                                                 : nlohmann::json(options_.enrichment)},
            {"pending_addresses", pending ? nlohmann::json(*pending) : nlohmann::json(nullptr)}}),
        ""};
  }
  if (path == "/api/failure") {
    auto* s = Param(params, "id");
    auto id = s ? ToInt(*s) : std::nullopt;
    if (!id) return Error(400, "id: a failure report number is required");
    return FromRows(queries_.FailureReport(*id), [&](const auto& row) {
      return FailureDetailJson(row, options_.show_failure_samples, Forwarders());
    });
  }
  return std::nullopt;
}

ApiAnswer Api::Get(const std::string& path, const Params& params) {
  if (auto answer = GetUnfiltered(path, params)) return std::move(*answer);
  auto filter = ToFilter(params);
  if (!filter) return Error(400, filter.error());
  const store::DashboardFilter& f = *filter;
  auto paged = ToPage(params, options_.max_limit);
  if (!paged) return Error(400, paged.error());
  const store::ListPage& page = *paged;

  if (path == "/api/stats") {
    auto s = store_.QueryStats(f.range);
    if (!s) return StoreFailed(s.error());
    return {200, "application/json", DumpJson(StatsJson(*s)), ""};
  }
  if (path == "/api/overview") return FromRows(queries_.Overview(f), OverviewJson);
  if (path == "/api/advise") {
    return AdviseAnswer(store_, params, static_cast<std::int64_t>(std::time(nullptr)),
                        options_.forwarders.get(), options_.sender_indexes.get());
  }
  if (path == "/api/senders") {
    return SendersAnswer(store_, f, page, params, static_cast<std::int64_t>(std::time(nullptr)),
                         options_.forwarders.get(), options_.sender_indexes.get());
  }
  if (path == "/api/sources") {
    auto* group = Param(params, "group");
    const std::string g = group ? *group : "service";
    if (!store::IsSourceGroup(g)) return Error(400, fmt::format("group: unknown \"{}\"", g));
    return FromRows(queries_.Sources(f, g, page),
                    [&](const auto& s) { return WithPage(SourcesJson(s), s.total, page); });
  }
  if (path == "/api/records") {
    return FromRows(queries_.Records(f, page), [&](const auto& p) {
      return WithPage(RecordsJson(p.rows, page.limit), p.total, page);
    });
  }
  if (path == "/api/domains")
    return FromRows(queries_.Domains(f), [&](const auto& d) { return DomainsPage(d, page); });
  if (path == "/api/reporters") {
    return FromRows(queries_.Reporters(f), [&](const auto& rows) {
      auto p = Slice(rows, page, [](const store::ReporterRow& r) {
        return std::array<std::optional<std::string>, 2>{r.org_name, r.org_email};
      });
      return WithPage(ReportersJson(p.rows), p.total, page);
    });
  }
  if (path == "/api/reports") {
    return FromRows(queries_.Reports(f, page),
                    [&](const auto& p) { return ReportsJson(p, page.limit, page.offset); });
  }
  if (path == "/api/report" || path == "/api/report/raw" || path == "/api/rejected/raw") {
    return GetById(path, params);
  }
  if (path == "/api/rejected") {
    return FromRows(queries_.Rejections(f, page),
                    [&](const auto& p) { return WithPage(RejectionsJson(p.rows), p.total, page); });
  }
  if (path == "/api/failures") {
    return FromRows(queries_.FailureReports(f, page), [&](const auto& p) {
      return WithPage(FailuresJson(p.rows, options_.show_failure_samples, Forwarders()), p.total,
                      page);
    });
  }
  if (path == "/api/smtp-tls") {
    return FromRows(queries_.SmtpTls(f), [&](const auto& t) { return SmtpTlsPage(t, page); });
  }
  return Error(404, "no such API path");
}

ApiAnswer Api::PostSenderStatus(const std::string& body, const std::string& who) {
  return SenderStatusAnswer(store_, body, who, static_cast<std::int64_t>(std::time(nullptr)));
}

ApiAnswer Api::GetById(const std::string& path, const Params& params) {
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

}  // namespace dmarc::web
