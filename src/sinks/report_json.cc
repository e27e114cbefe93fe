#include "sinks/report_json.h"

#include <fmt/format.h>

#include "base/time.h"
#include "sinks/csv_text.h"

namespace dmarc::sinks {

namespace {

using OJson = nlohmann::ordered_json;
using Json = nlohmann::ordered_json;  // keys keep their order when read back

OJson Opt(const model::OptString& v) { return v ? OJson(*v) : OJson(nullptr); }

model::OptString GetOpt(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::string GetStr(const Json& j, const char* key) { return GetOpt(j, key).value_or(""); }

std::vector<std::string> GetStrings(const Json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::uint64_t GetCount(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

OJson AddressJson(const model::EmailAddress& a) {
  OJson j;
  j["display_name"] = Opt(a.display_name);
  j["address"] = a.address;
  j["local"] = Opt(a.local);
  j["domain"] = Opt(a.domain);
  return j;
}

model::EmailAddress AddressFromJson(const Json& j) {
  model::EmailAddress a;
  a.display_name = GetOpt(j, "display_name");
  a.address = GetStr(j, "address");
  a.local = GetOpt(j, "local");
  a.domain = GetOpt(j, "domain");
  return a;
}

OJson SourceJson(const model::Source& s) {
  OJson j;
  j["ip_address"] = s.ip_address;
  j["country"] = Opt(s.country);
  j["reverse_dns"] = Opt(s.reverse_dns);
  j["base_domain"] = Opt(s.base_domain);
  j["name"] = Opt(s.name);
  j["type"] = Opt(s.type);
  j["asn"] = s.asn ? OJson(*s.asn) : OJson(nullptr);
  j["as_name"] = Opt(s.as_name);
  j["as_domain"] = Opt(s.as_domain);
  return j;
}

model::Source SourceFromJson(const Json& j) {
  model::Source s;
  s.ip_address = GetStr(j, "ip_address");
  s.country = GetOpt(j, "country");
  s.reverse_dns = GetOpt(j, "reverse_dns");
  s.base_domain = GetOpt(j, "base_domain");
  s.name = GetOpt(j, "name");
  s.type = GetOpt(j, "type");
  if (auto it = j.find("asn"); it != j.end() && it->is_number_integer()) {
    s.asn = it->get<std::int64_t>();
  }
  s.as_name = GetOpt(j, "as_name");
  s.as_domain = GetOpt(j, "as_domain");
  return s;
}

// Headers as parsedmarc has them: an object; a header sent more than once is an array of its
// values in order.
OJson HeadersJson(const std::vector<std::pair<std::string, std::string>>& headers) {
  OJson j = OJson::object();
  for (const auto& [name, value] : headers) {
    auto it = j.find(name);
    if (it == j.end()) {
      j[name] = value;
    } else if (it->is_array()) {
      it->push_back(value);
    } else {
      *it = OJson::array({*it, value});
    }
  }
  return j;
}

// Appends a value dumped by nlohmann, indented as an element of a top-level array.
void AppendIndented(const OJson& j, std::string& out, bool separator) {
  if (separator) out += ',';
  out += "\n    ";
  const std::string text = j.dump(2, ' ', false, OJson::error_handler_t::replace);
  out.reserve(out.size() + text.size() + text.size() / 8);
  for (char c : text) {
    out += c;
    if (c == '\n') out += "    ";
  }
}

std::string Joined(const std::vector<std::string>& items, std::string_view sep) {
  std::string s;
  for (const auto& i : items) {
    if (!s.empty()) s += sep;
    s += i;
  }
  return s;
}

}  // namespace

std::string FormatRfc3339(std::int64_t t) {
  std::string s = FormatUtc(t);  // "YYYY-MM-DD HH:MM:SS"
  s[10] = 'T';
  s += 'Z';
  return s;
}

OJson FailureToJson(const model::FailureReport& r) {
  OJson j;
  j["feedback_type"] = Opt(r.feedback_type);
  j["user_agent"] = Opt(r.user_agent);
  j["version"] = Opt(r.version);
  j["original_envelope_id"] = Opt(r.original_envelope_id);
  j["original_mail_from"] = Opt(r.original_mail_from);
  j["original_rcpt_to"] = Opt(r.original_rcpt_to);
  j["arrival_date"] = r.arrival_date;
  j["arrival_date_utc"] = FormatUtc(r.arrival_ts);
  j["authentication_results"] = Opt(r.authentication_results);
  j["delivery_result"] = Opt(r.delivery_result);
  j["auth_failure"] = r.auth_failure;
  j["authentication_mechanisms"] = r.authentication_mechanisms;
  j["dkim_domain"] = Opt(r.dkim_domain);
  j["reported_domain"] = r.reported_domain;
  j["sample_headers_only"] = r.sample_headers_only;
  j["source"] = SourceJson(r.source);
  j["sample"] = r.sample;
  if (r.parsed_sample) {
    const auto& p = *r.parsed_sample;
    OJson ps;
    ps["headers"] = HeadersJson(p.headers);
    ps["subject"] = Opt(p.subject);
    ps["date"] = Opt(p.date);
    ps["message_id"] = Opt(p.message_id);
    ps["from"] = p.from ? AddressJson(*p.from) : OJson(nullptr);
    ps["to"] = OJson::array();
    for (const auto& a : p.to) ps["to"].push_back(AddressJson(a));
    ps["cc"] = OJson::array();
    for (const auto& a : p.cc) ps["cc"].push_back(AddressJson(a));
    ps["body"] = Opt(p.body);
    ps["has_defects"] = p.has_defects;
    j["parsed_sample"] = std::move(ps);
  } else {
    j["parsed_sample"] = nullptr;
  }
  // Beyond parsedmarc's fields: RFC 6591's DKIM and SPF details, the delivery result as sent
  // when it was mapped, every other field, and the recoveries made while parsing.
  j["dkim_selector"] = Opt(r.dkim_selector);
  j["dkim_identity"] = Opt(r.dkim_identity);
  j["spf_dns"] = Opt(r.spf_dns);
  j["original_delivery_result"] = Opt(r.delivery_result_raw);
  j["other_fields"] = HeadersJson(r.other_fields);
  j["errors"] = r.errors;
  return j;
}

Result<model::FailureReport> FailureFromJson(const Json& j) {
  if (!j.is_object()) return MakeError("failure report JSON is not an object");
  model::FailureReport r;
  r.feedback_type = GetOpt(j, "feedback_type");
  r.user_agent = GetOpt(j, "user_agent");
  r.version = GetOpt(j, "version");
  r.original_envelope_id = GetOpt(j, "original_envelope_id");
  r.original_mail_from = GetOpt(j, "original_mail_from");
  r.original_rcpt_to = GetOpt(j, "original_rcpt_to");
  r.arrival_date = GetStr(j, "arrival_date");
  r.authentication_results = GetOpt(j, "authentication_results");
  r.delivery_result = GetOpt(j, "delivery_result");
  r.auth_failure = GetStrings(j, "auth_failure");
  r.authentication_mechanisms = GetStrings(j, "authentication_mechanisms");
  r.dkim_domain = GetOpt(j, "dkim_domain");
  r.reported_domain = GetStr(j, "reported_domain");
  if (auto it = j.find("sample_headers_only"); it != j.end() && it->is_boolean()) {
    r.sample_headers_only = it->get<bool>();
  }
  if (auto it = j.find("source"); it != j.end() && it->is_object()) r.source = SourceFromJson(*it);
  r.sample = GetStr(j, "sample");
  auto headers_of = [](const Json& obj) {
    std::vector<std::pair<std::string, std::string>> out;
    if (!obj.is_object()) return out;
    for (const auto& [k, v] : obj.items()) {
      if (v.is_string()) out.emplace_back(k, v.get<std::string>());
      if (v.is_array()) {
        for (const auto& x : v) {
          if (x.is_string()) out.emplace_back(k, x.get<std::string>());
        }
      }
    }
    return out;
  };
  if (auto it = j.find("parsed_sample"); it != j.end() && it->is_object()) {
    const Json& ps = *it;
    model::FailureSample p;
    if (auto h = ps.find("headers"); h != ps.end()) p.headers = headers_of(*h);
    p.subject = GetOpt(ps, "subject");
    p.date = GetOpt(ps, "date");
    p.message_id = GetOpt(ps, "message_id");
    if (auto f = ps.find("from"); f != ps.end() && f->is_object()) p.from = AddressFromJson(*f);
    for (const char* key : {"to", "cc"}) {
      auto& list = std::string_view(key) == "to" ? p.to : p.cc;
      if (auto a = ps.find(key); a != ps.end() && a->is_array()) {
        for (const auto& x : *a) {
          if (x.is_object()) list.push_back(AddressFromJson(x));
        }
      }
    }
    p.body = GetOpt(ps, "body");
    if (auto d = ps.find("has_defects"); d != ps.end() && d->is_boolean()) {
      p.has_defects = d->get<bool>();
    }
    r.parsed_sample = std::move(p);
  }
  r.dkim_selector = GetOpt(j, "dkim_selector");
  r.dkim_identity = GetOpt(j, "dkim_identity");
  r.spf_dns = GetOpt(j, "spf_dns");
  r.delivery_result_raw = GetOpt(j, "original_delivery_result");
  if (auto it = j.find("other_fields"); it != j.end()) r.other_fields = headers_of(*it);
  r.errors = GetStrings(j, "errors");
  // arrival_date_utc is derived; read it back for the timestamp.
  r.arrival_ts = ParseDateTime(GetStr(j, "arrival_date_utc")).value_or(0);
  return r;
}

OJson SmtpTlsToJson(const model::SmtpTlsReport& r) {
  OJson j;
  j["organization_name"] = r.organization_name;
  j["begin_date"] = FormatRfc3339(r.begin);
  j["end_date"] = FormatRfc3339(r.end);
  j["contact_info"] = Opt(r.contact_info);
  j["report_id"] = r.report_id;
  j["policies"] = OJson::array();
  for (const auto& p : r.policies) {
    OJson pj;
    pj["policy_domain"] = p.policy_domain;
    pj["policy_type"] = p.policy_type;
    if (!p.policy_strings.empty()) pj["policy_strings"] = p.policy_strings;
    if (!p.mx_host_patterns.empty()) pj["mx_host_patterns"] = p.mx_host_patterns;
    pj["successful_session_count"] = p.successful_session_count;
    pj["failed_session_count"] = p.failed_session_count;
    if (!p.failure_details.empty()) {
      pj["failure_details"] = OJson::array();
      for (const auto& d : p.failure_details) {
        OJson dj;
        dj["result_type"] = d.result_type;
        dj["failed_session_count"] = d.failed_session_count;
        auto opt = [&](const char* key, const model::OptString& v) {
          if (v) dj[key] = *v;
        };
        opt("sending_mta_ip", d.sending_mta_ip);
        opt("receiving_ip", d.receiving_ip);
        opt("receiving_mx_hostname", d.receiving_mx_hostname);
        opt("receiving_mx_helo", d.receiving_mx_helo);
        opt("additional_info_uri", d.additional_info_uri);
        opt("failure_reason_code", d.failure_reason_code);
        pj["failure_details"].push_back(std::move(dj));
      }
    }
    j["policies"].push_back(std::move(pj));
  }
  j["errors"] = r.errors;
  return j;
}

Result<model::SmtpTlsReport> SmtpTlsFromJson(const Json& j) {
  if (!j.is_object()) return MakeError("SMTP TLS report JSON is not an object");
  model::SmtpTlsReport r;
  r.organization_name = GetStr(j, "organization_name");
  r.report_id = GetStr(j, "report_id");
  r.contact_info = GetOpt(j, "contact_info");
  r.begin = ParseDateTime(GetStr(j, "begin_date")).value_or(0);
  r.end = ParseDateTime(GetStr(j, "end_date")).value_or(0);
  if (auto it = j.find("policies"); it != j.end() && it->is_array()) {
    for (const auto& pj : *it) {
      model::SmtpTlsPolicy p;
      p.policy_domain = GetStr(pj, "policy_domain");
      p.policy_type = GetStr(pj, "policy_type");
      p.policy_strings = GetStrings(pj, "policy_strings");
      p.mx_host_patterns = GetStrings(pj, "mx_host_patterns");
      p.successful_session_count = GetCount(pj, "successful_session_count");
      p.failed_session_count = GetCount(pj, "failed_session_count");
      if (auto fd = pj.find("failure_details"); fd != pj.end() && fd->is_array()) {
        for (const auto& dj : *fd) {
          model::SmtpTlsFailureDetails d;
          d.result_type = GetStr(dj, "result_type");
          d.failed_session_count = GetCount(dj, "failed_session_count");
          d.sending_mta_ip = GetOpt(dj, "sending_mta_ip");
          d.receiving_ip = GetOpt(dj, "receiving_ip");
          d.receiving_mx_hostname = GetOpt(dj, "receiving_mx_hostname");
          d.receiving_mx_helo = GetOpt(dj, "receiving_mx_helo");
          d.additional_info_uri = GetOpt(dj, "additional_info_uri");
          d.failure_reason_code = GetOpt(dj, "failure_reason_code");
          p.failure_details.push_back(std::move(d));
        }
      }
      r.policies.push_back(std::move(p));
    }
  }
  r.errors = GetStrings(j, "errors");
  return r;
}

void AppendFailureJson(const model::FailureReport& report, std::string& out, bool separator) {
  AppendIndented(FailureToJson(report), out, separator);
}

void AppendSmtpTlsJson(const model::SmtpTlsReport& report, std::string& out, bool separator) {
  AppendIndented(SmtpTlsToJson(report), out, separator);
}

std::string FailureCsvHeader() {
  return "feedback_type,user_agent,version,original_envelope_id,original_mail_from,"
         "original_rcpt_to,arrival_date,arrival_date_utc,subject,message_id,"
         "authentication_results,dkim_domain,source_ip_address,source_country,"
         "source_reverse_dns,source_base_domain,delivery_result,auth_failure,reported_domain,"
         "authentication_mechanisms,sample_headers_only\r\n";
}

void AppendFailureCsvRow(const model::FailureReport& r, std::string& out) {
  const model::FailureSample* ps = r.parsed_sample ? &*r.parsed_sample : nullptr;
  const model::OptString fields[] = {
      r.feedback_type,
      r.user_agent,
      r.version,
      r.original_envelope_id,
      r.original_mail_from,
      r.original_rcpt_to,
      r.arrival_date,
      FormatUtc(r.arrival_ts),
      ps ? ps->subject : std::nullopt,
      ps ? ps->message_id : std::nullopt,
      r.authentication_results,
      r.dkim_domain,
      r.source.ip_address,
      r.source.country,
      r.source.reverse_dns,
      r.source.base_domain,
      r.delivery_result,
      Joined(r.auth_failure, ","),
      r.reported_domain,
      Joined(r.authentication_mechanisms, ","),
  };
  for (const auto& f : fields) {
    AppendCsvField(out, f);
    out += ',';
  }
  out += PyBool(r.sample_headers_only);
  out += "\r\n";
}

std::string SmtpTlsCsvHeader() {
  return "organization_name,begin_date,end_date,report_id,result_type,"
         "successful_session_count,failed_session_count,policy_domain,policy_type,"
         "policy_strings,mx_host_patterns,sending_mta_ip,receiving_ip,receiving_mx_hostname,"
         "receiving_mx_helo,additional_info_uri,failure_reason_code\r\n";
}

void AppendSmtpTlsCsvRows(const model::SmtpTlsReport& r, std::string& out) {
  std::string head;
  AppendCsvField(head, r.organization_name);
  head += ',';
  head += FormatRfc3339(r.begin);
  head += ',';
  head += FormatRfc3339(r.end);
  head += ',';
  AppendCsvField(head, r.report_id);
  head += ',';
  for (const auto& p : r.policies) {
    std::string policy;
    AppendCsvField(policy, p.policy_domain);
    policy += ',';
    AppendCsvField(policy, p.policy_type);
    policy += ',';
    AppendCsvField(policy, Joined(p.policy_strings, "|"));
    policy += ',';
    AppendCsvField(policy, Joined(p.mx_host_patterns, "|"));
    // One row for the policy's totals, one per failure detail.
    out += head;
    fmt::format_to(std::back_inserter(out), ",{},{},", p.successful_session_count,
                   p.failed_session_count);
    out += policy;
    out += ",,,,,,\r\n";
    for (const auto& d : p.failure_details) {
      out += head;
      AppendCsvField(out, d.result_type);
      fmt::format_to(std::back_inserter(out), ",,{},", d.failed_session_count);
      out += policy;
      for (const auto& v : {d.sending_mta_ip, d.receiving_ip, d.receiving_mx_hostname,
                            d.receiving_mx_helo, d.additional_info_uri, d.failure_reason_code}) {
        out += ',';
        AppendCsvField(out, v);
      }
      out += "\r\n";
    }
  }
}

}  // namespace dmarc::sinks
