#include "parse/smtp_tls.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/text.h"
#include "base/time.h"

namespace dmarc::parse {

namespace {

using Json = nlohmann::json;

constexpr int kMaxJsonDepth = 32;

// nlohmann's parser keeps its own stack, but destroying a deeply nested value recurses: refuse
// nesting deeper than any report needs before parsing.
bool NestingWithin(std::string_view s, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

class Reader {
 public:
  Reader(const Limits& limits, model::SmtpTlsReport& out) : limits_(limits), out_(out) {}

  void Warn(std::string message) {
    if (out_.errors.size() < 100) out_.errors.push_back(std::move(message));
  }

  // A text value: strings as they are, numbers as their text; anything else is absent.
  std::optional<std::string> Text(const Json& obj, const char* key, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    std::string v;
    if (it->is_string()) {
      v = it->get<std::string>();
    } else if (it->is_number()) {
      v = it->dump();
      Warn(fmt::format("{}{}: a number where text belongs, read as \"{}\"", where, key, v));
    } else {
      Warn(fmt::format("{}{}: not text, ignored", where, key));
      return std::nullopt;
    }
    return Clean(std::move(v));
  }

  std::string Clean(std::string v) {
    if (RepairUtf8(v) > 0) Warn("invalid UTF-8 replaced by U+FFFD");
    if (v.size() > limits_.max_field_bytes) {
      v.resize(limits_.max_field_bytes);
      RepairUtf8(v);
      Warn(fmt::format("a text value longer than {} bytes was truncated", limits_.max_field_bytes));
    }
    return v;
  }

  // A count: a non-negative integer, or a string holding one (with a warning).
  static bool Has(const Json& obj, const char* key) {
    auto it = obj.find(key);
    return it != obj.end() && !it->is_null();
  }

  Result<std::uint64_t> Count(const Json& obj, const char* key, const std::string& where) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      return MakeError(fmt::format("{}{} is missing", where, key));
    }
    if (it->is_number_unsigned()) return Clamp(it->get<std::uint64_t>(), where, key);
    if (it->is_number_integer()) {
      return MakeError(fmt::format("{}{} is negative", where, key));
    }
    if (it->is_string()) {
      const auto n = ParseUnsigned(Trim(it->get_ref<const std::string&>()));
      if (!n)
        return MakeError(fmt::format("{}{}: \"{}\" is not a count", where, key,
                                     it->get_ref<const std::string&>().substr(0, 40)));
      Warn(fmt::format("{}{}: a count given as a string", where, key));
      return Clamp(*n, where, key);
    }
    return MakeError(fmt::format("{}{} is not a number", where, key));
  }

  std::uint64_t Clamp(std::uint64_t n, const std::string& where, const char* key) {
    if (n <= limits_.max_count) return n;
    Warn(fmt::format("{}{}: {} is more than {}, clamped", where, key, n, limits_.max_count));
    return limits_.max_count;
  }

  // Strings, or one string, under the first of keys present.
  std::vector<std::string> Strings(const Json& obj, std::initializer_list<const char*> keys,
                                   const std::string& where) {
    std::vector<std::string> out;
    for (const char* key : keys) {
      auto it = obj.find(key);
      if (it == obj.end() || it->is_null()) continue;
      if (it->is_string()) {
        Warn(fmt::format("{}{}: a string where an array belongs", where, key));
        out.push_back(Clean(it->get<std::string>()));
      } else if (it->is_array()) {
        for (const auto& v : *it) {
          if (!Budget()) break;
          if (v.is_string()) out.push_back(Clean(v.get<std::string>()));
        }
      }
      break;
    }
    return out;
  }

  bool Budget() {
    if (entries_ < limits_.max_tls_entries) {
      ++entries_;
      return true;
    }
    if (!over_) {
      over_ = true;
      Warn(fmt::format("more than {} policies, failure details and strings: the rest were skipped",
                       limits_.max_tls_entries));
    }
    return false;
  }

  Result<std::int64_t> Time(const Json& range, const char* key) {
    auto text = Text(range, key, "date-range.");
    if (!text) return MakeError(fmt::format("date-range.{} is missing", key));
    bool had_zone = true;
    auto t = ParseDateTime(Trim(*text), &had_zone);
    if (!t) return MakeError(fmt::format("date-range.{}: \"{}\" is not a date-time", key, *text));
    if (!had_zone) Warn(fmt::format("date-range.{}: no time zone, read as UTC", key));
    return *t;
  }

  Result<model::SmtpTlsFailureDetails> Details(const Json& j, const std::string& where) {
    if (!j.is_object()) return MakeError(where + " is not an object");
    model::SmtpTlsFailureDetails d;
    auto type = Text(j, "result-type", where);
    if (!type) return MakeError(where + "result-type is missing");
    d.result_type = ToLowerAscii(*type);
    static constexpr std::string_view kKnown[] = {
        "starttls-not-supported", "certificate-host-mismatch",
        "certificate-expired",    "certificate-not-trusted",
        "validation-failure",     "tlsa-invalid",
        "dnssec-invalid",         "dane-required",
        "sts-policy-fetch-error", "sts-policy-invalid",
        "sts-webpki-invalid"};
    if (std::find(std::begin(kKnown), std::end(kKnown), d.result_type) == std::end(kKnown)) {
      Warn(fmt::format("{}result-type \"{}\" is not one of RFC 8460's, kept", where,
                       d.result_type.substr(0, 64)));
    }
    auto n = Count(j, "failed-session-count", where);
    if (!n) return MakeError(n.error());
    d.failed_session_count = *n;
    d.sending_mta_ip = Text(j, "sending-mta-ip", where);
    d.receiving_ip = Text(j, "receiving-ip", where);
    d.receiving_mx_hostname = Text(j, "receiving-mx-hostname", where);
    d.receiving_mx_helo = Text(j, "receiving-mx-helo", where);
    d.additional_info_uri = Text(j, "additional-info-uri", where);
    if (!d.additional_info_uri) d.additional_info_uri = Text(j, "additional-information", where);
    d.failure_reason_code = Text(j, "failure-reason-code", where);
    return d;
  }

  Result<model::SmtpTlsPolicy> Policy(const Json& j, const std::string& where) {
    if (!j.is_object()) return MakeError(where + " is not an object");
    auto pol = j.find("policy");
    if (pol == j.end() || !pol->is_object()) return MakeError(where + "policy is missing");
    const std::string pw = where + "policy.";
    model::SmtpTlsPolicy p;
    auto type = Text(*pol, "policy-type", pw);
    if (!type) return MakeError(pw + "policy-type is missing");
    p.policy_type = ToLowerAscii(*type);
    if (p.policy_type != *type)
      Warn(fmt::format("{}policy-type \"{}\" read as \"{}\"", pw, *type, p.policy_type));
    if (p.policy_type != "sts" && p.policy_type != "tlsa" && p.policy_type != "no-policy-found") {
      Warn(fmt::format("{}policy-type \"{}\" is not one of RFC 8460's, kept", pw, p.policy_type));
    }
    auto domain = Text(*pol, "policy-domain", pw);
    if (!domain) {
      if (p.policy_type != "no-policy-found") return MakeError(pw + "policy-domain is missing");
      Warn(pw + "policy-domain is missing (no-policy-found): left empty");
    }
    p.policy_domain = ToLowerAscii(domain.value_or(""));
    p.policy_strings = Strings(*pol, {"policy-string"}, pw);
    p.mx_host_patterns = Strings(*pol, {"mx-host-pattern", "mx-host"}, pw);
    auto summary = j.find("summary");
    if (summary == j.end() || !summary->is_object()) return MakeError(where + "summary is missing");
    const std::string sw = where + "summary.";
    // One count missing is repaired and said (as aggregate reports' repairs are): the failures
    // as the sum of the failure details', the successes as 0. Both missing: no summary at all.
    const bool has_ok = Has(*summary, "total-successful-session-count");
    const bool has_failed = Has(*summary, "total-failure-session-count");
    if (!has_ok && !has_failed) {
      return MakeError(sw +
                       "total-successful-session-count and total-failure-session-count are "
                       "missing");
    }
    if (has_ok) {
      auto ok = Count(*summary, "total-successful-session-count", sw);
      if (!ok) return MakeError(ok.error());
      p.successful_session_count = *ok;
    } else {
      Warn(sw + "total-successful-session-count is missing: read as 0");
    }
    if (has_failed) {
      auto failed = Count(*summary, "total-failure-session-count", sw);
      if (!failed) return MakeError(failed.error());
      p.failed_session_count = *failed;
    }
    if (auto fd = j.find("failure-details"); fd != j.end() && !fd->is_null()) {
      if (!fd->is_array()) return MakeError(where + "failure-details is not an array");
      std::size_t i = 0;
      for (const auto& item : *fd) {
        if (!Budget()) break;
        auto d = Details(item, fmt::format("{}failure-details[{}].", where, i++));
        if (!d) return MakeError(d.error());
        p.failure_details.push_back(std::move(d).value());
      }
    }
    if (!has_failed) {
      std::uint64_t sum = 0;
      for (const auto& d : p.failure_details) sum += d.failed_session_count;
      p.failed_session_count = sum;
      Warn(
          fmt::format("{}total-failure-session-count is missing: read as {}, the sum of the "
                      "failure details",
                      sw, sum));
    }
    return p;
  }

  Result<bool> Read(const Json& root) {
    if (!root.is_object()) return MakeError("not a JSON object");
    auto org = Text(root, "organization-name", "");
    if (!org) return MakeError("organization-name is missing");
    out_.organization_name = std::string(Trim(*org));
    auto id = Text(root, "report-id", "");
    if (!id) return MakeError("report-id is missing");
    out_.report_id = std::string(Trim(*id));
    auto range = root.find("date-range");
    if (range == root.end() || !range->is_object()) return MakeError("date-range is missing");
    auto begin = Time(*range, "start-datetime");
    if (!begin) return MakeError(begin.error());
    auto end = Time(*range, "end-datetime");
    if (!end) return MakeError(end.error());
    out_.begin = *begin;
    out_.end = *end;
    if (auto c = root.find("contact-info"); c == root.end() || c->is_null()) {
      Warn("contact-info is missing");
    } else if (c->is_array()) {
      std::string joined;
      for (const auto& v : *c) {
        if (!v.is_string()) continue;
        if (!joined.empty()) joined += ", ";
        joined += v.get<std::string>();
      }
      Warn("contact-info: an array, joined");
      out_.contact_info = Clean(std::move(joined));
    } else {
      out_.contact_info = Text(root, "contact-info", "");
    }
    auto pols = root.find("policies");
    if (pols == root.end() || !pols->is_array())
      return MakeError("policies is missing or not an array");
    std::size_t i = 0;
    for (const auto& item : *pols) {
      if (!Budget()) break;
      auto p = Policy(item, fmt::format("policies[{}].", i++));
      if (!p) return MakeError(p.error());
      out_.policies.push_back(std::move(p).value());
    }
    return true;
  }

 private:
  const Limits& limits_;
  model::SmtpTlsReport& out_;
  std::size_t entries_ = 0;
  bool over_ = false;
};

}  // namespace

bool LooksLikeSmtpTlsJson(std::string_view bytes) {
  const std::size_t n = std::min<std::size_t>(bytes.size(), 64 * 1024);
  const std::string_view head = bytes.substr(0, n);
  return head.find("\"policies\"") != std::string_view::npos ||
         head.find("\"organization-name\"") != std::string_view::npos;
}

Result<model::SmtpTlsReport> ParseSmtpTlsJson(std::string_view bytes, const Limits& limits) {
  if (bytes.size() > limits.max_decompressed_bytes) {
    return MakeError(
        fmt::format("SMTP TLS report larger than {} bytes", limits.max_decompressed_bytes));
  }
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  if (!NestingWithin(bytes, kMaxJsonDepth)) {
    return MakeError(fmt::format("JSON nested more than {} deep", kMaxJsonDepth));
  }
  // JSON must be UTF-8; a sender's stray Latin-1 byte costs a replacement character, not the
  // report.
  std::string repaired;
  bool had_invalid_utf8 = false;
  if (!IsValidUtf8(bytes)) {
    repaired.assign(bytes);
    RepairUtf8(repaired);
    bytes = repaired;
    had_invalid_utf8 = true;
  }
  Json root = Json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return MakeError("not valid JSON");
  model::SmtpTlsReport report;
  if (had_invalid_utf8) report.errors.push_back("invalid UTF-8 replaced by U+FFFD");
  Reader reader(limits, report);
  if (auto r = reader.Read(root); !r) return MakeError("SMTP TLS report: " + r.error());
  return report;
}

}  // namespace dmarc::parse
