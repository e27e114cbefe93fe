// The documents themselves (declared in elastic_docs.h): parsedmarc's Elasticsearch fields.
#include <charconv>
#include <unordered_map>

#include "outputs/elastic_docs.h"
#include "outputs/http_json.h"

namespace dmarc::outputs::elastic {

void SourceFields(JsonWriter& w, const model::Source& s) {
  w.Field("source_ip_address", s.ip_address);
  w.Field("source_country", s.country);
  w.Field("source_reverse_dns", s.reverse_dns);
  w.Field("source_base_domain", s.base_domain);
  w.Field("source_type", s.type);
  w.Field("source_name", s.name);
  w.Key("source_asn");
  if (s.asn) {
    w.Int(*s.asn);
  } else {
    w.Null();
  }
  w.Field("source_as_name", s.as_name);
  w.Field("source_as_domain", s.as_domain);
}

namespace {

using model::OptString;

// parsedmarc maps pct as an integer; a value that is not one is left out (null).
void Pct(JsonWriter& w, const OptString& pct) {
  w.Key("pct");
  std::int64_t n = 0;
  if (pct) {
    const auto [end, ec] = std::from_chars(pct->data(), pct->data() + pct->size(), n);
    if (ec == std::errc() && end == pct->data() + pct->size()) {
      w.Int(n);
      return;
    }
  }
  w.Null();
}

void PublishedPolicy(JsonWriter& w, const model::PolicyPublished& p) {
  w.Key("published_policy");
  w.BeginObject();
  w.Field("domain", p.domain);
  w.Field("adkim", p.adkim);
  w.Field("aspf", p.aspf);
  w.Field("p", p.p);
  w.Field("sp", p.sp);
  Pct(w, p.pct);
  w.Field("fo", p.fo);
  w.Field("np", p.np);
  w.Field("testing", p.testing);
  w.Field("discovery_method", p.discovery_method);
  w.EndObject();
}

void DateRange(JsonWriter& w, std::int64_t begin, std::int64_t end) {
  w.Key("date_range");
  w.BeginArray();
  w.String(IsoTime(begin));
  w.String(IsoTime(end));
  w.EndArray();
  w.Field("date_begin", IsoTime(begin));
  w.Field("date_end", IsoTime(end));
}

template <class Result, class Second>
void AuthResults(JsonWriter& w, const char* name, const std::vector<Result>& results,
                 const char* second, Second second_of) {
  w.Key(name);
  w.BeginArray();
  for (const auto& r : results) {
    w.BeginObject();
    w.Field("domain", r.domain);
    w.Field(second, second_of(r));
    w.Field("result", r.result);
    w.Field("human_result", r.human_result);
    w.EndObject();
  }
  w.EndArray();
}

// "selector / domain / result" (DKIM), "scope / domain / result" (SPF).
template <class Result, class First>
void Combined(JsonWriter& w, const char* name, const std::vector<Result>& results, First first_of) {
  w.Key(name);
  w.BeginArray();
  for (const auto& r : results) w.String(first_of(r) + " / " + r.domain + " / " + r.result);
  w.EndArray();
}

void RecordAuth(JsonWriter& w, const model::Record& r) {
  w.Key("policy_overrides");
  w.BeginArray();
  for (const auto& o : r.policy_evaluated.policy_override_reasons) {
    w.BeginObject();
    w.Field("type", o.type);
    w.Field("comment", o.comment);
    w.EndObject();
  }
  w.EndArray();
  const auto selector = [](const model::DkimAuthResult& d) { return d.selector; };
  const auto scope = [](const model::SpfAuthResult& s) { return s.scope; };
  AuthResults(w, "dkim_results", r.dkim, "selector", selector);
  AuthResults(w, "spf_results", r.spf, "scope", scope);
  Combined(w, "dkim_results_combined", r.dkim, selector);
  Combined(w, "spf_results_combined", r.spf, scope);
}

void AggregateDocument(const model::AggregateReport& a, std::size_t n, bool timestamp,
                       std::string& out) {
  const model::Record& r = a.records[n];
  const auto& m = a.report_metadata;
  const auto& p = a.policy_published;
  JsonWriter w(out);
  w.BeginObject();
  if (timestamp) w.Field("@timestamp", IsoTime(r.interval_begin));
  w.Field("xml_schema", a.xml_schema);
  w.Field("xml_namespace", a.xml_namespace);
  w.Field("org_name", m.org_name);
  w.Field("org_email", m.org_email);
  w.Field("org_extra_contact_info", m.org_extra_contact_info);
  w.Field("report_id", m.report_id);
  DateRange(w, r.interval_begin, r.interval_end);
  w.Field("normalized_timespan", r.normalized_timespan);
  w.Field("original_timespan_seconds", m.original_timespan_seconds);
  w.Field("errors", m.errors);
  PublishedPolicy(w, p);
  SourceFields(w, r.source);
  w.Field("message_count", r.count);
  w.Field("disposition", r.policy_evaluated.disposition);
  w.Field("dkim_aligned", r.alignment.dkim);
  w.Field("spf_aligned", r.alignment.spf);
  w.Field("passed_dmarc", r.alignment.dmarc);
  w.Field("header_from", r.identifiers.header_from);
  w.Field("envelope_from", r.identifiers.envelope_from);
  w.Field("envelope_to", r.identifiers.envelope_to);
  RecordAuth(w, r);
  w.Field("np", p.np);
  w.Field("testing", p.testing);
  w.Field("discovery_method", p.discovery_method);
  w.Field("generator", m.generator);
  w.EndObject();
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// parsedmarc's sample.headers: lower-cased names; a name sent more than once keeps its values
// as a list.
void SampleHeaders(JsonWriter& w, const model::FailureSample& s) {
  w.Key("headers");
  w.BeginObject();
  std::vector<std::pair<std::string, std::vector<const std::string*>>> headers;
  std::unordered_map<std::string, std::size_t> position;  // name -> index in headers
  for (const auto& [name, value] : s.headers) {
    std::string key = Lower(name);
    const auto [it, added] = position.try_emplace(key, headers.size());
    if (added) {
      headers.emplace_back(std::move(key), std::vector<const std::string*>{&value});
    } else {
      headers[it->second].second.push_back(&value);
    }
  }
  for (const auto& [name, values] : headers) {
    w.Key(name);
    if (values.size() == 1) {
      w.String(*values[0]);
      continue;
    }
    w.BeginArray();
    for (const auto* v : values) w.String(*v);
    w.EndArray();
  }
  w.EndObject();
}

void Addresses(JsonWriter& w, const char* name, const std::vector<Address>& list) {
  w.Key(name);
  w.BeginArray();
  for (const auto& a : list) {
    w.BeginObject();
    w.Field("display_name", a.display_name);
    w.Field("address", a.address);
    w.EndObject();
  }
  w.EndArray();
}

void Addresses(JsonWriter& w, const char* name, const std::vector<model::EmailAddress>& list) {
  w.Key(name);
  w.BeginArray();
  for (const auto& a : list) {
    w.BeginObject();
    w.Field("display_name", a.display_name);
    w.Field("address", a.address);
    w.EndObject();
  }
  w.EndArray();
}

// The subject without the characters a file name cannot hold (parsedmarc's
// filename_safe_subject).
std::string FilenameSafe(const std::string& subject) {
  std::string out;
  for (char c : subject) {
    if (std::string_view("\\/:*?\"<>|\r\n\t").find(c) == std::string_view::npos) out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// "YYYY-MM-DD HH:MM:SS" (UTC) as ISO 8601.
OptString IsoFromUtc(const OptString& utc) {
  if (!utc || utc->size() != 19 || (*utc)[10] != ' ') return utc;
  std::string s = *utc;
  s[10] = 'T';
  return s + "Z";
}

void Sample(JsonWriter& w, const model::FailureReport& f) {
  w.Key("sample");
  w.BeginObject();
  w.Field("raw", f.sample);
  w.Field("headers_only", f.sample_headers_only);
  static const model::FailureSample kNone;
  const model::FailureSample& s = f.parsed_sample ? *f.parsed_sample : kNone;
  SampleHeaders(w, s);
  Addresses(w, "to", s.to);
  Addresses(w, "reply_to", HeaderAddresses(s, "reply-to"));
  Addresses(w, "cc", s.cc);
  Addresses(w, "bcc", HeaderAddresses(s, "bcc"));
  w.Field("subject", s.subject);
  w.Field("filename_safe_subject", s.subject ? OptString(FilenameSafe(*s.subject)) : OptString());
  w.Field("date", IsoFromUtc(s.date));
  w.Field("body", s.body);
  w.Key("attachments");
  w.BeginArray();
  w.EndArray();
  w.EndObject();
}

void FailureDocument(const model::FailureReport& f, bool timestamp, std::string& out) {
  JsonWriter w(out);
  w.BeginObject();
  if (timestamp) w.Field("@timestamp", IsoTime(f.arrival_ts));
  w.Field("feedback_type", f.feedback_type);
  w.Field("user_agent", f.user_agent);
  w.Field("version", f.version);
  w.Field("original_mail_from", f.original_mail_from);
  w.Field("arrival_date", f.arrival_ts * 1000);  // epoch milliseconds, as parsedmarc
  w.Field("arrival_date_utc", IsoTime(f.arrival_ts));
  w.Field("domain", f.reported_domain);
  w.Field("original_envelope_id", f.original_envelope_id);
  w.Field("authentication_results", f.authentication_results);
  w.Field("delivery_results", f.delivery_result);
  SourceFields(w, f.source);
  w.Field("authentication_mechanisms", f.authentication_mechanisms);
  w.Field("auth_failure", f.auth_failure);
  w.Field("dkim_domain", f.dkim_domain);
  w.Field("original_rcpt_to", f.original_rcpt_to);
  Sample(w, f);
  w.EndObject();
}

void FailureDetail(JsonWriter& w, const model::SmtpTlsFailureDetails& d) {
  w.BeginObject();
  w.Field("result_type", d.result_type);
  w.Field("ip_address", OptString());  // parsedmarc's field; RFC 8460 has no such value
  w.Field("sending_mta_ip", d.sending_mta_ip);
  w.Field("receiving_mx_helo", d.receiving_mx_helo);
  w.Field("receiving_mx_hostname", d.receiving_mx_hostname);
  w.Field("receiving_ip", d.receiving_ip);
  w.Field("failed_session_count", d.failed_session_count);
  w.Field("additional_information_uri", d.additional_info_uri);
  w.Field("failure_reason_code", d.failure_reason_code);
  w.EndObject();
}

std::string Combine(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto part : parts) {
    if (!out.empty()) out += " / ";
    out += part;
  }
  return out;
}

void Policies(JsonWriter& w, const model::SmtpTlsReport& t) {
  w.Key("policies");
  w.BeginArray();
  for (const auto& p : t.policies) {
    w.BeginObject();
    w.Field("policy_domain", p.policy_domain);
    w.Field("policy_type", p.policy_type);
    w.Field("policy_strings", p.policy_strings);
    w.Field("policy_string", p.policy_strings);  // the name parsedmarc's index pattern lists
    w.Field("mx_host_patterns", p.mx_host_patterns);
    w.Field("successful_session_count", p.successful_session_count);
    w.Field("failed_session_count", p.failed_session_count);
    w.Key("failure_details");
    w.BeginArray();
    for (const auto& d : p.failure_details) FailureDetail(w, d);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
}

void SmtpTlsDocument(const model::SmtpTlsReport& t, bool timestamp, std::string& out) {
  JsonWriter w(out);
  w.BeginObject();
  if (timestamp) w.Field("@timestamp", IsoTime(t.begin));
  w.Field("org_name", t.organization_name);
  DateRange(w, t.begin, t.end);
  w.Field("contact_info", t.contact_info);
  w.Field("report_id", t.report_id);
  Policies(w, t);
  w.Key("policies_combined");
  w.BeginArray();
  for (const auto& p : t.policies) w.String(Combine({p.policy_domain, p.policy_type}));
  w.EndArray();
  w.Key("failure_details_combined");
  w.BeginArray();
  for (const auto& p : t.policies) {
    for (const auto& d : p.failure_details) {
      w.String(
          Combine({p.policy_domain, p.policy_type, d.result_type, d.sending_mta_ip.value_or(""),
                   d.receiving_ip.value_or(""), d.receiving_mx_hostname.value_or("")}));
    }
  }
  w.EndArray();
  w.EndObject();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '"')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '"')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::vector<Address> HeaderAddresses(const model::FailureSample& sample, std::string_view name) {
  std::vector<Address> out;
  for (const auto& [field, value] : sample.headers) {
    if (Lower(field) != name) continue;
    std::string_view rest = value;
    while (!rest.empty() && out.size() < 100) {
      const std::size_t comma = rest.find(',');
      const std::string_view part = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const std::size_t open = part.find('<');
      const std::size_t close = part.find('>', open);
      Address a;
      if (open != std::string_view::npos && close != std::string_view::npos) {
        a.address = Trim(part.substr(open + 1, close - open - 1));
        const std::string_view display = Trim(part.substr(0, open));
        if (!display.empty()) a.display_name = std::string(display);
      } else {
        a.address = Trim(part);
      }
      if (!a.address.empty()) out.push_back(std::move(a));
    }
  }
  return out;
}

void AppendDocument(const Item& item, std::size_t n, bool timestamp, std::string& out) {
  switch (item.kind) {
    case ReportKind::kAggregate:
      AggregateDocument(*item.aggregate, n, timestamp, out);
      break;
    case ReportKind::kFailure:
      FailureDocument(*item.failure, timestamp, out);
      break;
    case ReportKind::kSmtpTls:
      SmtpTlsDocument(*item.smtp_tls, timestamp, out);
      break;
  }
}

}  // namespace dmarc::outputs::elastic
