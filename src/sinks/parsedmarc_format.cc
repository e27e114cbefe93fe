#include "sinks/parsedmarc_format.h"

#include <fmt/format.h>

#include "base/text.h"
#include "base/time.h"
#include "sinks/csv_text.h"
#include "sinks/json_text.h"

namespace dmarc::sinks {

namespace {

void WriteTime(JsonText& j, std::string_view key, std::int64_t t) {
  char buf[19];
  FormatUtc(t, buf);
  j.String(key, std::string_view(buf, sizeof buf));
}

// Records are most of the output, and their layout is fixed: each key with its indentation is
// one constant fragment, so a field costs one append plus its value (the generic JsonText
// writer spends four or five appends per key). The bytes are the same as JsonText's; the golden
// files check that.
// Appends a string literal with its length known at compile time (operator+= would strlen it).
template <std::size_t N>
void Raw(std::string& out, const char (&literal)[N]) {
  out.append(literal, N - 1);
}

void Value(std::string& out, const std::string& v) { AppendJsonString(out, v); }
void Value(std::string& out, const model::OptString& v) {
  if (v) {
    AppendJsonString(out, *v);
  } else {
    out += "null";
  }
}
void Value(std::string& out, bool v) { out += v ? "true" : "false"; }
void Value(std::string& out, std::uint64_t v) {
  const fmt::format_int digits(v);
  out.append(digits.data(), digits.size());
}
void Value(std::string& out, const std::optional<std::int64_t>& v) {
  if (v) {
    const fmt::format_int digits(*v);
    out.append(digits.data(), digits.size());
  } else {
    out += "null";
  }
}

// One DKIM or SPF result of a record: the two differ only in their second key (`selector`,
// `scope`), given with the text before its value.
void AuthResult(std::string& out, bool first, const std::string& domain,
                std::string_view second_key, const std::string& second, const std::string& result,
                const model::OptString& human_result) {
  if (!first) Raw(out, ",");
  Raw(out, "\n              {\n                \"domain\": ");
  Value(out, domain);
  out.append(second_key);
  Value(out, second);
  Raw(out, ",\n                \"result\": ");
  Value(out, result);
  Raw(out, ",\n                \"human_result\": ");
  Value(out, human_result);
  Raw(out, "\n              }");
}
void TimeValue(std::string& out, std::int64_t t) {
  char buf[21];
  buf[0] = '"';
  FormatUtc(t, buf + 1);
  buf[20] = '"';
  out.append(buf, sizeof buf);
}

// The sections of a record, in output order; each starts with the fragment that closes the one
// before it, so the bytes are those of one straight run of appends.
void AppendSource(std::string& out, const model::Source& s, bool first) {
  if (first) {
    Raw(out, "\n        {\n          \"source\": {\n            \"ip_address\": ");
  } else {
    Raw(out, ",\n        {\n          \"source\": {\n            \"ip_address\": ");
  }
  Value(out, s.ip_address);
  if (!s.country && !s.reverse_dns && !s.base_domain && !s.name && !s.type && !s.asn &&
      !s.as_name && !s.as_domain) {
    Raw(out,
        ",\n            \"country\": null,\n            \"reverse_dns\": null,"
        "\n            \"base_domain\": null,\n            \"name\": null,"
        "\n            \"type\": null,\n            \"asn\": null,"
        "\n            \"as_name\": null,\n            \"as_domain\": null");
  } else {
    Raw(out, ",\n            \"country\": ");
    Value(out, s.country);
    Raw(out, ",\n            \"reverse_dns\": ");
    Value(out, s.reverse_dns);
    Raw(out, ",\n            \"base_domain\": ");
    Value(out, s.base_domain);
    Raw(out, ",\n            \"name\": ");
    Value(out, s.name);
    Raw(out, ",\n            \"type\": ");
    Value(out, s.type);
    Raw(out, ",\n            \"asn\": ");
    Value(out, s.asn);
    Raw(out, ",\n            \"as_name\": ");
    Value(out, s.as_name);
    Raw(out, ",\n            \"as_domain\": ");
    Value(out, s.as_domain);
  }
}

void AppendCountAndAlignment(std::string& out, const model::Record& r) {
  Raw(out, "\n          },\n          \"count\": ");
  Value(out, r.count);
  Raw(out, ",\n          \"alignment\": {\n            \"spf\": ");
  Value(out, r.alignment.spf);
  Raw(out, ",\n            \"dkim\": ");
  Value(out, r.alignment.dkim);
  Raw(out, ",\n            \"dmarc\": ");
  Value(out, r.alignment.dmarc);
}

void AppendPolicyEvaluated(std::string& out, const model::PolicyEvaluated& ev) {
  Raw(out, "\n          },\n          \"policy_evaluated\": {\n            \"disposition\": ");
  Value(out, ev.disposition);
  Raw(out, ",\n            \"dkim\": ");
  Value(out, ev.dkim);
  Raw(out, ",\n            \"spf\": ");
  Value(out, ev.spf);
  if (ev.policy_override_reasons.empty()) {
    Raw(out, ",\n            \"policy_override_reasons\": []");
    return;
  }
  Raw(out, ",\n            \"policy_override_reasons\": [");
  bool first_reason = true;
  for (const auto& o : ev.policy_override_reasons) {
    if (first_reason) {
      Raw(out, "\n              {\n                \"type\": ");
    } else {
      Raw(out, ",\n              {\n                \"type\": ");
    }
    first_reason = false;
    Value(out, o.type);
    Raw(out, ",\n                \"comment\": ");
    Value(out, o.comment);
    Raw(out, "\n              }");
  }
  Raw(out, "\n            ]");
}

void AppendIdentifiers(std::string& out, const model::Identifiers& ids) {
  Raw(out, "\n          },\n          \"identifiers\": {\n            \"header_from\": ");
  Value(out, ids.header_from);
  Raw(out, ",\n            \"envelope_from\": ");
  Value(out, ids.envelope_from);
  Raw(out, ",\n            \"envelope_to\": ");
  Value(out, ids.envelope_to);
}

void AppendAuthResults(std::string& out, const model::Record& r) {
  Raw(out, "\n          },\n          \"auth_results\": {\n            \"dkim\": [");
  for (std::size_t i = 0; i < r.dkim.size(); ++i) {
    const auto& d = r.dkim[i];
    AuthResult(out, i == 0, d.domain, ",\n                \"selector\": ", d.selector, d.result,
               d.human_result);
  }
  if (r.dkim.empty()) {
    Raw(out, "],\n            \"spf\": [");
  } else {
    Raw(out, "\n            ],\n            \"spf\": [");
  }
  for (std::size_t i = 0; i < r.spf.size(); ++i) {
    const auto& x = r.spf[i];
    AuthResult(out, i == 0, x.domain, ",\n                \"scope\": ", x.scope, x.result,
               x.human_result);
  }
}

void AppendRecord(std::string& out, const model::Record& r, bool first) {
  AppendSource(out, r.source, first);
  AppendCountAndAlignment(out, r);
  AppendPolicyEvaluated(out, r.policy_evaluated);
  AppendIdentifiers(out, r.identifiers);
  AppendAuthResults(out, r);
  if (r.spf.empty()) {
    Raw(out, "]\n          },\n          \"normalized_timespan\": ");
  } else {
    Raw(out, "\n            ]\n          },\n          \"normalized_timespan\": ");
  }
  Value(out, r.normalized_timespan);
  Raw(out, ",\n          \"interval_begin\": ");
  TimeValue(out, r.interval_begin);
  Raw(out, ",\n          \"interval_end\": ");
  TimeValue(out, r.interval_end);
  Raw(out, "\n        }");
}

template <class Items, class Get>
std::string Join(const Items& items, std::string_view sep, Get get) {
  std::string s;
  bool first = true;
  for (const auto& item : items) {
    if (!first) s += sep;
    first = false;
    s += get(item);
  }
  return s;
}

}  // namespace

std::string JsonDocumentBegin() { return "{\n  \"aggregate_reports\": ["; }

std::string JsonDocumentEnd(bool any_report) {
  return fmt::format("{}],\n  \"failure_reports\": [],\n  \"smtp_tls_reports\": []\n}}\n",
                     any_report ? "\n  " : "");
}

std::string JsonAggregatesEnd(bool any_report) { return any_report ? "\n  ]," : "],"; }
std::string JsonFailuresBegin() { return "\n  \"failure_reports\": ["; }
std::string JsonFailuresEnd(bool any_report) {
  return fmt::format("{}],\n  \"smtp_tls_reports\": [", any_report ? "\n  " : "");
}
std::string JsonSmtpTlsEnd(bool any_report) { return any_report ? "\n  ]\n}\n" : "]\n}\n"; }

void AppendAggregateJsonHead(const model::AggregateReport& report, std::string& out,
                             bool separator) {
  if (separator) out += ',';
  JsonText j(out, 2);
  j.BeginObject();
  j.String("xml_schema", report.xml_schema);
  j.String("xml_namespace", report.xml_namespace);
  const auto& m = report.report_metadata;
  j.BeginObject("report_metadata")
      .String("org_name", m.org_name)
      .String("org_email", m.org_email)
      .String("org_extra_contact_info", m.org_extra_contact_info)
      .String("report_id", m.report_id);
  WriteTime(j, "begin_date", m.begin);
  WriteTime(j, "end_date", m.end);
  j.Bool("timespan_requires_normalization", m.timespan_requires_normalization)
      .Int("original_timespan_seconds", m.original_timespan_seconds);
  j.BeginArray("errors");
  for (const auto& e : m.errors) j.String(e);
  j.EndArray();
  j.String("generator", m.generator);
  j.EndObject();
  const auto& p = report.policy_published;
  j.BeginObject("policy_published")
      .String("domain", p.domain)
      .String("adkim", p.adkim)
      .String("aspf", p.aspf)
      .String("p", p.p)
      .String("sp", p.sp)
      .String("pct", p.pct)
      .String("fo", p.fo)
      .String("np", p.np)
      .String("testing", p.testing)
      .String("discovery_method", p.discovery_method)
      .EndObject();
}

// The records array is written with fixed fragments (see AppendRecord), and so is the closing
// brace of the report (what JsonText writes at that depth).
void AppendAggregateJsonRecordsBegin(bool any_record, std::string& out) {
  if (any_record) {
    Raw(out, ",\n      \"records\": [");
  } else {
    Raw(out, ",\n      \"records\": []");
  }
}

void AppendAggregateJsonRecord(const model::Record& record, std::string& out, bool first) {
  AppendRecord(out, record, first);
}

void AppendAggregateJsonEnd(bool any_record, std::string& out) {
  if (any_record) Raw(out, "\n      ]");
  Raw(out, "\n    }");
}

void AppendAggregateJson(const model::AggregateReport& report, std::string& out, bool separator) {
  AppendAggregateJsonHead(report, out, separator);
  AppendAggregateJsonRecordsBegin(!report.records.empty(), out);
  bool first = true;
  for (const auto& r : report.records) {
    AppendRecord(out, r, first);
    first = false;
  }
  AppendAggregateJsonEnd(!report.records.empty(), out);
}

std::string AggregateCsvHeader() {
  return "xml_schema,org_name,org_email,org_extra_contact_info,report_id,begin_date,end_date,"
         "normalized_timespan,errors,domain,adkim,aspf,p,sp,np,pct,fo,testing,discovery_method,"
         "source_ip_address,source_country,source_reverse_dns,source_base_domain,source_name,"
         "source_type,source_asn,source_as_name,source_as_domain,count,spf_aligned,dkim_aligned,"
         "dmarc_aligned,disposition,policy_override_reasons,policy_override_comments,"
         "envelope_from,header_from,envelope_to,dkim_domains,dkim_selectors,dkim_results,"
         "spf_domains,spf_scopes,spf_results\r\n";
}

AggregateCsvReportColumns AggregateCsvReportPart(const model::AggregateReport& report) {
  const auto& m = report.report_metadata;
  const auto& p = report.policy_published;
  AggregateCsvReportColumns c;
  // The columns before the per-record ones, but for begin_date/end_date (per record).
  std::string& head1 = c.before_dates;
  AppendCsvField(head1, report.xml_schema);
  head1 += ',';
  AppendCsvField(head1, m.org_name);
  head1 += ',';
  AppendCsvField(head1, m.org_email);
  head1 += ',';
  AppendCsvField(head1, m.org_extra_contact_info);
  head1 += ',';
  AppendCsvField(head1, m.report_id);
  head1 += ',';
  std::string& head2 = c.after_dates;
  head2 += ",";
  head2 += PyBool(m.timespan_requires_normalization);
  head2 += ',';
  AppendCsvField(head2, Join(m.errors, "|", [](const std::string& e) { return e; }));
  for (const model::OptString& v :
       {model::OptString(p.domain), model::OptString(p.adkim), model::OptString(p.aspf),
        model::OptString(p.p), model::OptString(p.sp), p.np, p.pct, p.fo, p.testing,
        p.discovery_method}) {
    head2 += ',';
    AppendCsvField(head2, v);
  }
  return c;
}

void AppendAggregateCsvDates(const model::Record& r, std::string& out) {
  char begin[19], end[19];
  FormatUtc(r.interval_begin, begin);
  FormatUtc(r.interval_end, end);
  out.append(begin, sizeof begin);
  out += ',';
  out.append(end, sizeof end);
}

void AppendAggregateCsvRecordColumns(const model::Record& r, std::string& out) {
  const auto& s = r.source;
  for (const model::OptString& v :
       {model::OptString(s.ip_address), s.country, s.reverse_dns, s.base_domain, s.name, s.type}) {
    out += ',';
    AppendCsvField(out, v);
  }
  out += ',';
  if (s.asn) out += std::to_string(*s.asn);
  out += ',';
  AppendCsvField(out, s.as_name);
  out += ',';
  AppendCsvField(out, s.as_domain);
  fmt::format_to(std::back_inserter(out), ",{},{},{},{},", r.count, PyBool(r.alignment.spf),
                 PyBool(r.alignment.dkim), PyBool(r.alignment.dmarc));
  const auto& ev = r.policy_evaluated;
  AppendCsvField(out, ev.disposition);
  out += ',';
  AppendCsvField(out, Join(ev.policy_override_reasons, ",",
                           [](const auto& o) { return o.type.value_or("none"); }));
  out += ',';
  AppendCsvField(out, Join(ev.policy_override_reasons, "|",
                           [](const auto& o) { return o.comment.value_or("none"); }));
  out += ',';
  AppendCsvField(out, r.identifiers.envelope_from);
  out += ',';
  AppendCsvField(out, r.identifiers.header_from);
  out += ',';
  AppendCsvField(out, r.identifiers.envelope_to);
  out += ',';
  AppendCsvField(out, Join(r.dkim, ",", [](const auto& d) { return ToLowerAscii(d.domain); }));
  out += ',';
  AppendCsvField(out, Join(r.dkim, ",", [](const auto& d) { return ToLowerAscii(d.selector); }));
  out += ',';
  AppendCsvField(out, Join(r.dkim, ",", [](const auto& d) { return ToLowerAscii(d.result); }));
  out += ',';
  AppendCsvField(out, Join(r.spf, ",", [](const auto& x) { return ToLowerAscii(x.domain); }));
  out += ',';
  AppendCsvField(out, Join(r.spf, ",", [](const auto& x) { return ToLowerAscii(x.scope); }));
  out += ',';
  AppendCsvField(out, Join(r.spf, ",", [](const auto& x) { return ToLowerAscii(x.result); }));
  out += "\r\n";
}

void AppendAggregateCsvRows(const model::AggregateReport& report, std::string& out) {
  const AggregateCsvReportColumns c = AggregateCsvReportPart(report);
  for (const auto& r : report.records) {
    out += c.before_dates;
    AppendAggregateCsvDates(r, out);
    out += c.after_dates;
    AppendAggregateCsvRecordColumns(r, out);
  }
}

}  // namespace dmarc::sinks
