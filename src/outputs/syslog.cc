#include "outputs/syslog.h"

#include <unistd.h>

#include <algorithm>
#include <set>
#include <string_view>
#include <utility>

#include "outputs/options.h"
#include "outputs/syslog_transport.h"
#include "sinks/report_json.h"

namespace dmarc::outputs {
namespace {

constexpr int kWarning = 4, kInfo = 6;

struct Params {
  std::vector<std::pair<std::string_view, std::string>> list;
  void Add(std::string_view name, std::string value) { list.emplace_back(name, std::move(value)); }
  void Add(std::string_view name, const model::OptString& value) {
    if (value) list.emplace_back(name, *value);
  }
};

// The first `limit` bytes of `v`, not cutting a UTF-8 sequence.
std::string_view Cut(std::string_view v, std::size_t limit) {
  if (v.size() <= limit) return v;
  std::size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) --n;
  return v.substr(0, n);
}

// A PARAM-VALUE (RFC 5424 §6.3.3): '"', '\' and ']' escaped; control characters as spaces.
void AppendParamValue(std::string& out, std::string_view v) {
  for (const char c : v) {
    if (c == '"' || c == '\\' || c == ']') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
}

std::string StructuredData(const Params& p, const std::string& sd_id, std::size_t value_limit,
                           std::size_t count) {
  if (count == 0) return "-";
  std::string out = "[" + sd_id;
  for (std::size_t i = 0; i < count; ++i) {
    out += ' ';
    out += p.list[i].first;
    out += "=\"";
    AppendParamValue(out, Cut(p.list[i].second, value_limit));
    out += '"';
  }
  out += ']';
  return out;
}

// HEADER SP STRUCTURED-DATA [SP MSG], at most format.max_bytes: long values are cut first, then
// the last parameters left out, and the free text gets what room is left.
std::string Line(int severity, std::int64_t time, std::string_view msgid, const Params& params,
                 std::string_view msg, const SyslogFormat& f) {
  std::string line;
  line.reserve(f.max_bytes);
  line += '<';
  line += std::to_string(f.facility * 8 + severity);
  line += ">1 ";
  line += sinks::FormatRfc3339(time);
  line += ' ';
  line += f.hostname;
  line += ' ';
  line += f.app_name;
  line += " - ";
  line += msgid;
  line += ' ';
  std::string sd;
  std::size_t count = params.list.size();
  for (const std::size_t limit : {256U, 64U, 16U}) {
    sd = StructuredData(params, f.sd_id, limit, count);
    if (line.size() + sd.size() <= f.max_bytes) break;
  }
  while (line.size() + sd.size() > f.max_bytes && count > 0) {
    sd = StructuredData(params, f.sd_id, 16, --count);
  }
  line += sd;
  if (line.size() + 1 < f.max_bytes && !msg.empty()) {
    line += ' ';
    for (const char c : Cut(msg, f.max_bytes - line.size())) {
      line += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  return line;
}

template <class T, class F>
std::string Join(const std::vector<T>& v, F field) {
  std::string out;
  for (const auto& x : v) {
    if (!out.empty()) out += ',';
    out += field(x);
  }
  return out;
}

std::string RecordLine(const Item& item, const model::AggregateReport& r, std::size_t i,
                       const SyslogFormat& f) {
  const model::Record& rec = r.records[i];
  Params p;
  p.Add("report_key", item.key);
  p.Add("record", std::to_string(i));
  p.Add("org_name", r.report_metadata.org_name);
  p.Add("report_id", r.report_metadata.report_id);
  p.Add("domain", r.policy_published.domain);
  p.Add("begin", sinks::FormatRfc3339(rec.interval_begin));
  p.Add("end", sinks::FormatRfc3339(rec.interval_end));
  p.Add("source_ip", rec.source.ip_address);
  p.Add("count", std::to_string(rec.count));
  p.Add("disposition", rec.policy_evaluated.disposition);
  p.Add("dkim", rec.policy_evaluated.dkim);
  p.Add("spf", rec.policy_evaluated.spf);
  p.Add("dmarc", std::string(rec.alignment.dmarc ? "pass" : "fail"));
  p.Add("header_from", rec.identifiers.header_from);
  p.Add("envelope_from", rec.identifiers.envelope_from);
  p.Add("dkim_domains", Join(rec.dkim, [](const auto& d) { return d.domain; }));
  p.Add("dkim_results", Join(rec.dkim, [](const auto& d) { return d.result; }));
  p.Add("spf_domains", Join(rec.spf, [](const auto& s) { return s.domain; }));
  p.Add("spf_results", Join(rec.spf, [](const auto& s) { return s.result; }));
  p.Add("source_reverse_dns", rec.source.reverse_dns);
  p.Add("source_country", rec.source.country);
  const std::string msg = "DMARC " + std::string(rec.alignment.dmarc ? "pass" : "fail") + ": " +
                          std::to_string(rec.count) + " message(s) from " + rec.source.ip_address +
                          " for " + r.policy_published.domain + " reported by " +
                          r.report_metadata.org_name;
  return Line(rec.alignment.dmarc ? kInfo : kWarning, rec.interval_begin, "aggregate", p, msg, f);
}

std::string FailureLine(const Item& item, const model::FailureReport& r, const SyslogFormat& f) {
  Params p;
  p.Add("report_key", item.key);
  p.Add("reported_domain", r.reported_domain);
  p.Add("source_ip", r.source.ip_address);
  p.Add("arrival_date", sinks::FormatRfc3339(r.arrival_ts));
  p.Add("auth_failure", Join(r.auth_failure, [](const std::string& s) { return s; }));
  p.Add("delivery_result", r.delivery_result);
  p.Add("original_mail_from", r.original_mail_from);
  p.Add("original_rcpt_to", r.original_rcpt_to);
  p.Add("dkim_domain", r.dkim_domain);
  if (r.parsed_sample) p.Add("subject", r.parsed_sample->subject);
  const std::string msg =
      "DMARC failure report for " + r.reported_domain + ": a message from " + r.source.ip_address;
  return Line(kWarning, r.arrival_ts, "failure", p, msg, f);
}

std::string PolicyLine(const Item& item, const model::SmtpTlsReport& r, std::size_t i,
                       const SyslogFormat& f) {
  const model::SmtpTlsPolicy& pol = r.policies[i];
  std::set<std::string> types;
  for (const auto& d : pol.failure_details) types.insert(d.result_type);
  Params p;
  p.Add("report_key", item.key);
  p.Add("policy", std::to_string(i));
  p.Add("organization_name", r.organization_name);
  p.Add("report_id", r.report_id);
  p.Add("begin", sinks::FormatRfc3339(r.begin));
  p.Add("end", sinks::FormatRfc3339(r.end));
  p.Add("policy_domain", pol.policy_domain);
  p.Add("policy_type", pol.policy_type);
  p.Add("successful_session_count", std::to_string(pol.successful_session_count));
  p.Add("failed_session_count", std::to_string(pol.failed_session_count));
  p.Add("result_types", Join(std::vector<std::string>(types.begin(), types.end()),
                             [](const std::string& s) { return s; }));
  const std::string msg = "SMTP TLS: " + std::to_string(pol.successful_session_count) +
                          " successful, " + std::to_string(pol.failed_session_count) +
                          " failed session(s) for " + pol.policy_domain + " reported by " +
                          r.organization_name;
  return Line(pol.failed_session_count > 0 ? kWarning : kInfo, r.begin, "smtp_tls", p, msg, f);
}

class SyslogOutput : public Output {
 public:
  SyslogOutput(std::string name, SyslogEndpoint endpoint, SyslogFormat format)
      : name_(std::move(name)), endpoint_(std::move(endpoint)), format_(std::move(format)) {}

  const std::string& Name() const override { return name_; }
  Result<bool> Prepare() override {
    DMARC_TRY(Reconnect());
    return true;
  }
  Status Deliver(std::span<const Item> items) override {
    std::vector<std::string> lines;
    for (const Item& item : items) {
      for (auto& l : SyslogLines(item, format_)) lines.push_back(std::move(l));
    }
    if (lines.empty()) return Ok();
    if (connection_ == nullptr || !connection_->Alive()) DMARC_TRY(Reconnect());
    Status st = connection_->Send(lines);
    if (!st) connection_.reset();  // a new connection for the batch sent again
    return st;
  }

 private:
  Status Reconnect() {
    connection_.reset();
    DMARC_TRY_ASSIGN(connection_, ConnectSyslog(endpoint_));
    return Ok();
  }

  std::string name_;
  SyslogEndpoint endpoint_;
  SyslogFormat format_;
  std::unique_ptr<SyslogConnection> connection_;
};

int FacilityCode(OptionReader& r) {
  static const std::pair<const char*, int> kFacilities[] = {
      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},    {"syslog", 5},
      {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19}, {"local4", 20},
      {"local5", 21}, {"local6", 22}, {"local7", 23}};
  std::vector<std::string> names;
  for (const auto& [n, code] : kFacilities) names.emplace_back(n);
  const std::string name = r.OneOf("facility", "local0", names);
  for (const auto& [n, code] : kFacilities) {
    if (name == n) return code;
  }
  return 16;
}

// PRINTUSASCII (33..126) of at most `max` bytes, and for an SD-ID none of '=', ']', '"'.
bool PrintUsAscii(const std::string& v, std::size_t max, bool sd_name) {
  if (v.empty() || v.size() > max) return false;
  return std::all_of(v.begin(), v.end(), [sd_name](char c) {
    return c >= 33 && c <= 126 && !(sd_name && (c == '=' || c == ']' || c == '"'));
  });
}

std::string LocalHostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "-";
  return buf;
}

void ReadFormat(OptionReader& r, SyslogFormat& f, SyslogTransport transport) {
  f.facility = FacilityCode(r);
  f.hostname = r.String("hostname", LocalHostName());
  if (!PrintUsAscii(f.hostname, 255, false))
    r.Fail("hostname", "1 to 255 printable ASCII characters");
  f.app_name = r.String("app_name", "dmarc-report");
  if (!PrintUsAscii(f.app_name, 48, false))
    r.Fail("app_name", "1 to 48 printable ASCII characters");
  f.sd_id = r.String("sd_id", "dmarc@32473");
  if (!PrintUsAscii(f.sd_id, 32, true) || f.sd_id.find('@') == std::string::npos) {
    r.Fail("sd_id", "NAME@ENTERPRISE-NUMBER, at most 32 characters (RFC 5424 section 6.3.2)");
  }
  const std::int64_t max_udp = 65000;
  f.max_bytes = static_cast<std::size_t>(r.Int(
      "max_message_bytes", 8192, 480, transport == SyslogTransport::kUdp ? max_udp : 1 << 20));
}

Result<std::unique_ptr<Output>> ReadSyslog(const OutputConfig& config) {
  OptionReader r(
      config, {"host", "port", "transport", "facility", "hostname", "app_name", "sd_id",
               "max_message_bytes", "timeout", "ca_file", "server_name", "cert_file", "key_file"});
  SyslogEndpoint e;
  const std::string transport = r.OneOf("transport", "tcp", {"udp", "tcp", "tls"});
  e.transport = transport == "udp"   ? SyslogTransport::kUdp
                : transport == "tls" ? SyslogTransport::kTls
                                     : SyslogTransport::kTcp;
  e.host = r.String("host", "");
  if (e.host.empty()) r.Fail("host", "required");
  e.port =
      static_cast<int>(r.Int("port", e.transport == SyslogTransport::kTls ? 6514 : 514, 1, 65535));
  e.timeout_ms = static_cast<int>(r.Int("timeout", 10, 1, 600) * 1000);
  for (const char* k : {"ca_file", "server_name", "cert_file", "key_file"}) {
    if (r.Has(k) && e.transport != SyslogTransport::kTls) r.Fail(k, "needs transport = \"tls\"");
  }
  e.ca_file = r.ExistingFile("ca_file");
  e.server_name = r.String("server_name", "");
  e.cert_file = r.ExistingFile("cert_file");
  e.key_file = r.ExistingFile("key_file");
  if (e.cert_file.empty() != e.key_file.empty()) {
    r.Fail(e.cert_file.empty() ? "cert_file" : "key_file", "cert_file and key_file go together");
  }
  SyslogFormat f;
  ReadFormat(r, f, e.transport);
  DMARC_TRY(r.Check());
  return std::unique_ptr<Output>(
      std::make_unique<SyslogOutput>(config.name, std::move(e), std::move(f)));
}

}  // namespace

Result<std::unique_ptr<Output>> MakeSyslogOutput(const OutputConfig& config) {
  return ReadSyslog(config);
}

std::vector<std::string> SyslogLines(const Item& item, const SyslogFormat& format) {
  std::vector<std::string> out;
  if (item.aggregate != nullptr) {
    for (std::size_t i = 0; i < item.aggregate->records.size(); ++i) {
      out.push_back(RecordLine(item, *item.aggregate, i, format));
    }
  } else if (item.failure != nullptr) {
    out.push_back(FailureLine(item, *item.failure, format));
  } else if (item.smtp_tls != nullptr) {
    for (std::size_t i = 0; i < item.smtp_tls->policies.size(); ++i) {
      out.push_back(PolicyLine(item, *item.smtp_tls, i, format));
    }
  }
  return out;
}

}  // namespace dmarc::outputs
