#include "sinks/parsedmarc_format.h"

#include <fmt/format.h>

#include "base/text.h"
#include "base/time.h"
#include "sinks/json_text.h"

namespace dmarc::sinks {

namespace {

void WriteTime(JsonText& j, std::string_view key, std::int64_t t) {
  char buf[19];
  FormatUtc(t, buf);
  j.String(key, std::string_view(buf, sizeof buf));
}

void WriteRecord(JsonText& j, const model::Record& r) {
  j.BeginObject();
  j.BeginObject("source");
  const auto& s = r.source;
  j.String("ip_address", s.ip_address)
      .String("country", s.country)
      .String("reverse_dns", s.reverse_dns)
      .String("base_domain", s.base_domain)
      .String("name", s.name)
      .String("type", s.type);
  if (s.asn) {
    j.Int("asn", *s.asn);
  } else {
    j.Null("asn");
  }
  j.String("as_name", s.as_name).String("as_domain", s.as_domain);
  j.EndObject();
  j.Uint("count", r.count);
  j.BeginObject("alignment")
      .Bool("spf", r.alignment.spf)
      .Bool("dkim", r.alignment.dkim)
      .Bool("dmarc", r.alignment.dmarc)
      .EndObject();
  const auto& ev = r.policy_evaluated;
  j.BeginObject("policy_evaluated")
      .String("disposition", ev.disposition)
      .String("dkim", ev.dkim)
      .String("spf", ev.spf);
  j.BeginArray("policy_override_reasons");
  for (const auto& o : ev.policy_override_reasons) {
    j.BeginObject().String("type", o.type).String("comment", o.comment).EndObject();
  }
  j.EndArray().EndObject();
  j.BeginObject("identifiers")
      .String("header_from", r.identifiers.header_from)
      .String("envelope_from", r.identifiers.envelope_from)
      .String("envelope_to", r.identifiers.envelope_to)
      .EndObject();
  j.BeginObject("auth_results");
  j.BeginArray("dkim");
  for (const auto& d : r.dkim) {
    j.BeginObject()
        .String("domain", d.domain)
        .String("selector", d.selector)
        .String("result", d.result)
        .String("human_result", d.human_result)
        .EndObject();
  }
  j.EndArray();
  j.BeginArray("spf");
  for (const auto& sp : r.spf) {
    j.BeginObject()
        .String("domain", sp.domain)
        .String("scope", sp.scope)
        .String("result", sp.result)
        .String("human_result", sp.human_result)
        .EndObject();
  }
  j.EndArray().EndObject();
  j.Bool("normalized_timespan", r.normalized_timespan);
  WriteTime(j, "interval_begin", r.interval_begin);
  WriteTime(j, "interval_end", r.interval_end);
  j.EndObject();
}

// RFC 4180 field: quoted when it holds a comma, quote, CR or LF (as Python's csv module does).
void AppendCsvField(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void AppendCsvField(std::string& out, const std::string& v) {
  AppendCsvField(out, std::string_view(v));
}

void AppendCsvField(std::string& out, const model::OptString& v) {
  if (v) AppendCsvField(out, *v);
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

const char* PyBool(bool b) { return b ? "True" : "False"; }

}  // namespace

std::string JsonDocumentBegin() { return "{\n  \"aggregate_reports\": ["; }

std::string JsonDocumentEnd(bool any_report) {
  return fmt::format("{}],\n  \"failure_reports\": [],\n  \"smtp_tls_reports\": []\n}}\n",
                     any_report ? "\n  " : "");
}

void AppendAggregateJson(const model::AggregateReport& report, std::string& out, bool separator) {
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
  j.BeginArray("records");
  for (const auto& r : report.records) WriteRecord(j, r);
  j.EndArray();
  j.EndObject();
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

void AppendAggregateCsvRows(const model::AggregateReport& report, std::string& out) {
  const auto& m = report.report_metadata;
  const auto& p = report.policy_published;
  // The columns before the per-record ones, but for begin_date/end_date (per record).
  std::string head1;
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
  std::string head2 = ",";
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
  char begin[19], end[19];
  for (const auto& r : report.records) {
    out += head1;
    FormatUtc(r.interval_begin, begin);
    FormatUtc(r.interval_end, end);
    out.append(begin, sizeof begin);
    out += ',';
    out.append(end, sizeof end);
    out += head2;
    const auto& s = r.source;
    for (const model::OptString& v : {model::OptString(s.ip_address), s.country, s.reverse_dns,
                                      s.base_domain, s.name, s.type}) {
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
}

}  // namespace dmarc::sinks
