#include "web/api_json.h"

#include <optional>
#include <string>

#include "base/time.h"
#include "web/failure_json.h"

namespace dmarc::web {

namespace {

using nlohmann::json;

template <class T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

std::string Day(std::int64_t t) { return FormatUtcDate(t); }

json SourceRowJson(const store::SourceRow& row) {
  json j = {{"key", Opt(row.key)},
            {"ips", row.ips},
            {"messages", row.sums.messages},
            {"dmarc_pass", row.sums.dmarc_pass},
            {"spf_aligned", row.sums.spf_aligned},
            {"dkim_aligned", row.sums.dkim_aligned},
            {"records", row.records}};
  if (const auto& d = row.details) {
    j["name"] = Opt(d->name);
    j["type"] = Opt(d->type);
    j["reverse_dns"] = Opt(d->reverse_dns);
    j["country"] = Opt(d->country);
    j["asn"] = Opt(d->asn);
    j["as_name"] = Opt(d->as_name);
    j["base_domain"] = Opt(d->base_domain);
  }
  return j;
}

json SourceRowsJson(const std::vector<store::SourceRow>& rows) {
  json out = json::array();
  for (const auto& r : rows) out.push_back(SourceRowJson(r));
  return out;
}

json TotalsJson(const store::Totals& t) {
  return {{"records", t.records},
          {"messages", t.sums.messages},
          {"dmarc_pass", t.sums.dmarc_pass},
          {"dmarc_fail", t.sums.messages - t.sums.dmarc_pass},
          {"spf_aligned", t.sums.spf_aligned},
          {"dkim_aligned", t.sums.dkim_aligned},
          {"sources", t.sources},
          {"reports", t.reports},
          {"reporters", t.reporters}};
}

// with_report: the report's org name and id too (a list of records from several reports).
json RecordJson(const store::RecordRow& r, bool with_report) {
  json j = {{"id", r.id},
            {"report", r.report},
            {"interval_begin", FormatUtc(r.interval_begin)},
            {"interval_end", FormatUtc(r.interval_end)},
            {"source_ip", r.source_ip},
            {"reverse_dns", Opt(r.reverse_dns)},
            {"country", Opt(r.country)},
            {"name", Opt(r.name)},
            {"base_domain", Opt(r.base_domain)},
            {"asn", Opt(r.asn)},
            {"count", r.count},
            {"disposition", r.disposition},
            {"policy_dkim", r.policy_dkim},
            {"policy_spf", r.policy_spf},
            {"dmarc_aligned", r.dmarc_aligned},
            {"spf_aligned", r.spf_aligned},
            {"dkim_aligned", r.dkim_aligned},
            {"header_from", r.header_from},
            {"envelope_from", Opt(r.envelope_from)},
            {"envelope_to", Opt(r.envelope_to)},
            {"policy_domain", r.policy_domain}};
  if (with_report) {
    j["org_name"] = r.org_name;
    j["report_id"] = r.report_id;
  }
  json dkim = json::array(), spf = json::array(), overrides = json::array();
  for (const auto& d : r.dkim) {
    dkim.push_back({{"domain", d.domain},
                    {"selector", d.selector},
                    {"result", d.result},
                    {"human_result", Opt(d.human_result)}});
  }
  for (const auto& s : r.spf) {
    spf.push_back({{"domain", s.domain},
                   {"scope", s.scope},
                   {"result", s.result},
                   {"human_result", Opt(s.human_result)}});
  }
  for (const auto& o : r.policy_override_reasons) {
    overrides.push_back({{"type", Opt(o.type)}, {"comment", Opt(o.comment)}});
  }
  j["dkim"] = std::move(dkim);
  j["spf"] = std::move(spf);
  j["policy_override_reasons"] = std::move(overrides);
  return j;
}

json PolicyPublishedJson(const model::PolicyPublished& p) {
  return {{"domain", p.domain},
          {"adkim", p.adkim},
          {"aspf", p.aspf},
          {"p", p.p},
          {"sp", p.sp},
          {"pct", Opt(p.pct)},
          {"fo", Opt(p.fo)},
          {"np", Opt(p.np)},
          {"testing", Opt(p.testing)},
          {"discovery_method", Opt(p.discovery_method)}};
}

}  // namespace

json OverviewJson(const store::OverviewResult& o) {
  json daily = json::array(), dispositions = json::object();
  for (const auto& d : o.daily) {
    daily.push_back({{"day", Day(d.day)},
                     {"messages", d.messages},
                     {"dmarc_pass", d.dmarc_pass},
                     {"dmarc_fail", d.messages - d.dmarc_pass}});
  }
  for (const auto& [name, messages] : o.by_disposition) dispositions[name] = messages;
  json previous = nullptr;
  if (o.previous) {
    previous = TotalsJson(o.previous->totals);
    previous["from"] = Day(o.previous->from);
    previous["to"] = Day(o.previous->to);
  }
  return {{"totals", TotalsJson(o.totals)},
          {"daily", std::move(daily)},
          {"by_disposition", std::move(dispositions)},
          {"top_sources", SourceRowsJson(o.top_sources)},
          {"countries", SourceRowsJson(o.countries)},
          {"previous", std::move(previous)}};
}

json SourcesJson(const store::SourcesResult& s) {
  return {{"group", s.group}, {"rows", SourceRowsJson(s.rows)}};
}

json RecordsJson(const std::vector<store::RecordRow>& rows, std::size_t limit) {
  json out = json::array();
  for (const auto& r : rows) out.push_back(RecordJson(r, true));
  return {{"rows", std::move(out)}, {"limit", limit}};
}

json DomainsJson(const store::DomainsResult& d) {
  json header_from = json::array(), policies = json::array();
  for (const auto& h : d.header_from) {
    header_from.push_back({{"header_from", h.header_from},
                           {"messages", h.sums.messages},
                           {"dmarc_pass", h.sums.dmarc_pass},
                           {"spf_aligned", h.sums.spf_aligned},
                           {"dkim_aligned", h.sums.dkim_aligned},
                           {"policy_domain", h.policy_domain}});
  }
  for (const auto& p : d.policies) {
    policies.push_back({{"domain", p.domain},
                        {"p", p.p},
                        {"sp", p.sp},
                        {"pct", Opt(p.pct)},
                        {"adkim", p.adkim},
                        {"aspf", p.aspf},
                        {"np", Opt(p.np)},
                        {"fo", Opt(p.fo)},
                        {"first_seen", Day(p.first_seen)},
                        {"last_seen", Day(p.last_seen)},
                        {"reports", p.reports}});
  }
  return {{"header_from", std::move(header_from)}, {"policies", std::move(policies)}};
}

json ReportersJson(const std::vector<store::ReporterRow>& rows) {
  json out = json::array();
  for (const auto& r : rows) {
    out.push_back({{"org_name", r.org_name},
                   {"org_email", r.org_email},
                   {"reports", r.reports},
                   {"records", r.records},
                   {"first_seen", Day(r.first_seen)},
                   {"last_seen", Day(r.last_seen)},
                   {"domains", r.domains},
                   {"messages", r.messages},
                   {"dmarc_pass", r.dmarc_pass}});
  }
  return {{"rows", std::move(out)}};
}

json ReportsJson(const store::ReportsPage& page, std::size_t limit, std::size_t offset) {
  json rows = json::array();
  for (const auto& r : page.rows) {
    rows.push_back({{"id", r.id},
                    {"org_name", r.org_name},
                    {"report_id", r.report_id},
                    {"domain", r.domain},
                    {"begin", FormatUtc(r.begin)},
                    {"end", FormatUtc(r.end)},
                    {"records", r.records},
                    {"messages", r.messages},
                    {"dmarc_pass", r.dmarc_pass},
                    {"p", r.p}});
  }
  return {{"total", page.total}, {"offset", offset}, {"limit", limit}, {"rows", std::move(rows)}};
}

json ReportJson(const store::ReportDetail& r) {
  json errors = json::parse(r.errors_json, nullptr, false);
  json records = json::array();
  for (const auto& rec : r.records) records.push_back(RecordJson(rec, false));
  return {{"id", r.id},
          {"org_name", r.org_name},
          {"org_email", r.org_email},
          {"org_extra_contact_info", Opt(r.org_extra_contact_info)},
          {"report_id", r.report_id},
          {"begin", FormatUtc(r.begin)},
          {"end", FormatUtc(r.end)},
          {"xml_schema", r.xml_schema},
          {"generator", Opt(r.generator)},
          {"errors", errors.is_discarded() ? json::array() : std::move(errors)},
          {"policy_published", PolicyPublishedJson(r.policy_published)},
          {"origin", r.origin},
          {"imported_at", FormatUtc(r.imported_at)},
          {"raw_xml",
           r.raw_xml ? json{{"size", r.raw_xml->size}, {"stored_bytes", r.raw_xml->stored_bytes}}
                     : json(nullptr)},
          {"records", std::move(records)}};
}

json RejectionsJson(const std::vector<store::RejectionRow>& rows) {
  json out = json::array();
  for (const auto& r : rows) {
    out.push_back({{"id", r.id},
                   {"received_at", FormatUtc(r.received_at)},
                   {"origin", r.origin},
                   {"reason", r.reason},
                   {"sha256", r.sha256},
                   {"size", r.size},
                   {"stored_bytes", r.stored_bytes}});
  }
  return {{"rows", std::move(out)}};
}

json FailuresJson(const std::vector<store::FailureRow>& rows, bool with_samples,
                  const store::Forwarders& forwarders) {
  json out = json::array();
  for (const auto& r : rows) out.push_back(FailureListRow(r, forwarders));
  return {{"rows", std::move(out)}, {"samples_shown", with_samples}};
}

json SmtpTlsJson(const store::SmtpTlsResult& t) {
  json daily = json::array(), types = json::array(), policies = json::array();
  for (const auto& d : t.daily) {
    daily.push_back({{"day", Day(d.day)}, {"successful", d.successful}, {"failed", d.failed}});
  }
  for (const auto& f : t.failure_types) {
    types.push_back({{"day", Day(f.day)}, {"result_type", f.result_type}, {"failed", f.failed}});
  }
  for (const auto& p : t.policies) {
    policies.push_back({{"policy_domain", p.policy_domain},
                        {"policy_type", p.policy_type},
                        {"mx_host_patterns", Opt(p.mx_host_patterns)},
                        {"successful", p.successful},
                        {"failed", p.failed},
                        {"reports", p.reports},
                        {"reporters", Opt(p.reporters)}});
  }
  return {{"daily", std::move(daily)},
          {"failure_types", std::move(types)},
          {"policies", std::move(policies)}};
}

}  // namespace dmarc::web
