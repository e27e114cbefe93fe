#include "parse/failure.h"

#include <fmt/format.h>

#include <array>

#include "base/text.h"
#include "base/time.h"

namespace dmarc::parse {

namespace {

// "Original-Mail-From" → "original_mail_from"; spaces too (Exim's "Sender IP Address").
std::string Key(std::string_view name) {
  std::string k = ToLowerAscii(Trim(name));
  for (char& c : k) {
    if (c == '-' || c == ' ') c = '_';
  }
  return k;
}

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const std::size_t comma = s.find(',');
    const std::string_view item = Trim(s.substr(0, comma));
    if (!item.empty()) out.push_back(ToLowerAscii(item));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

bool LooksLikeIp(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF.:") == std::string_view::npos &&
         (s.find('.') != std::string_view::npos || s.find(':') != std::string_view::npos);
}

// "10.1.2.3", "10.1.2.3 (mail.example.net)", "[2001:db8::1] host", "mail.example.net
// [10.1.2.3]" → the address alone; the first token when none looks like an address.
std::string SourceIp(std::string_view v) {
  v = Trim(v);
  std::string_view first;
  while (!v.empty()) {
    std::size_t end = 0;
    while (end < v.size() && !IsSpace(v[end])) ++end;
    std::string_view token = v.substr(0, end);
    v = Trim(v.substr(end));
    while (!token.empty() && (token.front() == '[' || token.front() == '(')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ']' || token.back() == ')' || token.back() == ',' ||
                              token.back() == ';')) {
      token.remove_suffix(1);
    }
    if (first.empty()) first = token;
    if (LooksLikeIp(token)) return std::string(token);
  }
  return std::string(first);
}

std::string DomainOf(std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view d = address.substr(at + 1);
  while (!d.empty() && (d.back() == '>' || IsSpace(d.back()))) d.remove_suffix(1);
  return ToLowerAscii(d);
}

}  // namespace

std::optional<KeepSample> ParseKeepSample(std::string_view s) {
  if (s == "headers") return KeepSample::kHeaders;
  if (s == "full") return KeepSample::kFull;
  if (s == "none") return KeepSample::kNone;
  return std::nullopt;
}

std::string_view HeaderBlockOf(std::string_view message) {
  std::size_t pos = 0;
  while (pos < message.size()) {
    const std::size_t nl = message.find('\n', pos);
    if (nl == std::string_view::npos) return message;
    const std::string_view line = message.substr(pos, nl - pos);
    if (line.empty() || line == "\r") return message.substr(0, pos);
    pos = nl + 1;
  }
  return message;
}

namespace {

// The feedback fields read after all of them are seen: the first of each, as sent.
struct PendingFields {
  std::optional<std::string> arrival, source_ip, auth_failure, identity_alignment, delivery;
};

// Fields kept as sent in a report member; a repeat goes to other_fields (but for
// Original-Rcpt-To, whose repeats are joined).
using ReportField = model::OptString model::FailureReport::*;
constexpr std::array<std::pair<std::string_view, ReportField>, 11> kReportFields = {{
    {"feedback_type", &model::FailureReport::feedback_type},
    {"user_agent", &model::FailureReport::user_agent},
    {"version", &model::FailureReport::version},
    {"original_envelope_id", &model::FailureReport::original_envelope_id},
    {"original_mail_from", &model::FailureReport::original_mail_from},
    {"original_rcpt_to", &model::FailureReport::original_rcpt_to},
    {"authentication_results", &model::FailureReport::authentication_results},
    {"dkim_domain", &model::FailureReport::dkim_domain},
    {"dkim_selector", &model::FailureReport::dkim_selector},
    {"dkim_identity", &model::FailureReport::dkim_identity},
    {"spf_dns", &model::FailureReport::spf_dns},
}};

// Fields read once all are seen; a repeat is dropped.
using PendingField = std::optional<std::string> PendingFields::*;
constexpr std::array<std::pair<std::string_view, PendingField>, 6> kPendingFields = {{
    {"arrival_date", &PendingFields::arrival},
    {"received_date", &PendingFields::arrival},
    {"source_ip", &PendingFields::source_ip},
    {"auth_failure", &PendingFields::auth_failure},
    {"identity_alignment", &PendingFields::identity_alignment},
    {"delivery_result", &PendingFields::delivery},
}};

// A field's value trimmed, cut to max_field bytes and made valid UTF-8, each repair noted.
std::string CleanField(std::string_view v, std::size_t max_field,
                       std::vector<std::string>& errors) {
  std::string s(Trim(v));
  if (s.size() > max_field) {
    s.resize(max_field);
    errors.push_back(fmt::format("a feedback field longer than {} bytes was truncated", max_field));
  }
  if (RepairUtf8(s) > 0) errors.push_back("invalid UTF-8 replaced by U+FFFD");
  return s;
}

// One non-empty field (`key` normalised by Key) into the report or the pending fields.
void StoreField(const std::string& key, std::string&& value, model::FailureReport& r,
                PendingFields& pending) {
  for (const auto& [name, member] : kReportFields) {
    if (key != name) continue;
    model::OptString& field = r.*member;
    if (!field) {
      field = std::move(value);
    } else if (key == "original_rcpt_to") {
      *field += ", " + value;
    } else {
      r.other_fields.emplace_back(key, std::move(value));
    }
    return;
  }
  for (const auto& [name, member] : kPendingFields) {
    if (key != name) continue;
    std::optional<std::string>& field = pending.*member;
    if (!field) field = std::move(value);
    return;
  }
  if (key == "reported_domain" && r.reported_domain.empty()) {
    r.reported_domain = ToLowerAscii(value);
  } else {
    r.other_fields.emplace_back(key, std::move(value));
  }
}

void ReadFields(const FailureInput& in, const FailureOptions& options, model::FailureReport& r,
                PendingFields& pending) {
  std::size_t count = 0;
  for (const auto& [name, raw] : in.fields) {
    if (++count > options.limits.max_headers) {
      r.errors.push_back(fmt::format("more than {} feedback fields: the rest were skipped",
                                     options.limits.max_headers));
      break;
    }
    const std::string key = Key(name);
    std::string value = CleanField(raw, options.limits.max_field_bytes, r.errors);
    if (value.empty()) continue;  // "Original-Mail-From:" with nothing after it
    StoreField(key, std::move(value), r, pending);
  }
}

Status CheckFeedbackType(model::FailureReport& r) {
  if (!r.feedback_type) {
    r.errors.push_back("no Feedback-Type: read as auth-failure");
    r.feedback_type = "auth-failure";
  }
  *r.feedback_type = ToLowerAscii(*r.feedback_type);
  if (*r.feedback_type != "auth-failure") {
    return MakeError(fmt::format(
        "an ARF report of Feedback-Type \"{}\", not a DMARC failure report (auth-failure)",
        r.feedback_type->substr(0, 64)));
  }
  return Ok();
}

// Arrival-Date, or the report mail's Date when it is missing or not a date.
Status ReadArrival(const FailureInput& in, std::optional<std::string>& arrival,
                   model::FailureReport& r) {
  std::optional<std::int64_t> ts;
  if (arrival) {
    ts = in.parse_date ? in.parse_date(*arrival) : std::nullopt;
    if (!ts) {
      r.errors.push_back(
          fmt::format("Arrival-Date \"{}\" is not a date: the mail's Date used", *arrival));
    }
  } else {
    r.errors.push_back("no Arrival-Date: the mail's Date used");
  }
  if (!ts) {
    if (!in.mail_date) return MakeError("failure report without a usable Arrival-Date or Date");
    ts = in.mail_date;
    if (!arrival) arrival = in.mail_date_text;
  }
  r.arrival_ts = *ts;
  r.arrival_date = arrival.value_or("");
  return Ok();
}

Status ReadSourceIp(const std::optional<std::string>& source_ip, model::FailureReport& r) {
  if (!source_ip || SourceIp(*source_ip).empty()) {
    return MakeError("failure report without a Source-IP");
  }
  r.source.ip_address = SourceIp(*source_ip);
  if (r.source.ip_address != Trim(*source_ip)) {
    r.other_fields.emplace_back("source_ip", *source_ip);
  }
  return Ok();
}

// Auth-Failure, Identity-Alignment and Delivery-Result.
void ReadAuthAndDelivery(const PendingFields& pending, model::FailureReport& r) {
  if (pending.auth_failure) {
    r.auth_failure = SplitList(*pending.auth_failure);
  } else {
    r.errors.push_back("no Auth-Failure: read as dmarc");
    r.auth_failure = {"dmarc"};
  }
  if (pending.identity_alignment && ToLowerAscii(*pending.identity_alignment) != "none") {
    r.authentication_mechanisms = SplitList(*pending.identity_alignment);
  }
  if (const auto& delivery = pending.delivery) {
    const std::string lower = ToLowerAscii(*delivery);
    static constexpr std::array<std::string_view, 4> kKnown = {"delivered", "spam", "policy",
                                                               "reject"};
    r.delivery_result = "other";
    for (std::string_view k : kKnown) {
      if (lower.find(k) != std::string::npos) {
        r.delivery_result = std::string(k);
        break;
      }
    }
    if (*r.delivery_result != *delivery) r.delivery_result_raw = *delivery;
  }
}

Status ReadReportedDomain(const FailureInput& in, model::FailureReport& r) {
  if (r.reported_domain.empty() && in.parsed_sample && in.parsed_sample->from) {
    r.reported_domain = DomainOf(in.parsed_sample->from->address);
    if (!r.reported_domain.empty()) {
      r.errors.push_back("no Reported-Domain: the reported message's From domain used");
    }
  }
  if (r.reported_domain.empty()) return MakeError("failure report without a Reported-Domain");
  return Ok();
}

// The reported message, as much of it as keep_sample says, bounded in size.
void KeepSampleOf(FailureInput& in, KeepSample keep, model::FailureReport& r) {
  r.sample_headers_only = in.sample_headers_only;
  switch (keep) {
    case KeepSample::kNone:
      break;
    case KeepSample::kHeaders:
      r.sample = std::string(HeaderBlockOf(in.sample));
      r.parsed_sample = std::move(in.parsed_sample);
      if (r.parsed_sample) r.parsed_sample->body.reset();
      break;
    case KeepSample::kFull:
      r.sample = std::move(in.sample);
      r.parsed_sample = std::move(in.parsed_sample);
      break;
  }
  // A failure report is about one message; a sample bigger than this is cut, and says so.
  constexpr std::size_t kMaxSampleBytes = 4u << 20;
  auto cap = [&](std::string& text, const char* what) {
    if (text.size() <= kMaxSampleBytes) return;
    text.resize(kMaxSampleBytes);
    RepairUtf8(text);  // the cut may split a character
    r.errors.push_back(fmt::format("{} longer than {} bytes was truncated", what, kMaxSampleBytes));
  };
  cap(r.sample, "the reported message");
  if (r.parsed_sample && r.parsed_sample->body) cap(*r.parsed_sample->body, "its body");
  RepairUtf8(r.sample);
}

}  // namespace

Result<model::FailureReport> BuildFailureReport(FailureInput&& in, const FailureOptions& options) {
  model::FailureReport r;
  PendingFields pending;
  ReadFields(in, options, r, pending);
  DMARC_TRY(CheckFeedbackType(r));
  DMARC_TRY(ReadArrival(in, pending.arrival, r));
  DMARC_TRY(ReadSourceIp(pending.source_ip, r));
  ReadAuthAndDelivery(pending, r);
  DMARC_TRY(ReadReportedDomain(in, r));
  KeepSampleOf(in, options.keep_sample, r);
  return r;
}

std::optional<PlainTextFailure> ReadPlainTextFailure(std::string_view text) {
  PlainTextFailure out;
  bool domain = false, ip = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.starts_with("------ This is a copy of")) {
      std::string_view rest = pos < text.size() ? text.substr(pos) : std::string_view();
      while (rest.starts_with("\n") || rest.starts_with("\r\n")) {
        rest.remove_prefix(rest.starts_with("\n") ? 1 : 2);
      }
      out.sample = std::string(rest);
      break;
    }
    const std::size_t colon = line.find(": ");
    if (colon == std::string_view::npos || Trim(line.substr(0, colon)).empty()) continue;
    const std::string_view name = Trim(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 2));
    if (name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz -") !=
        std::string_view::npos) {
      continue;
    }
    if (EqualsIgnoreCase(name, "Sender Domain")) {
      out.fields.emplace_back("Reported-Domain", std::string(value));
      domain = true;
    } else if (EqualsIgnoreCase(name, "Sender IP Address")) {
      out.fields.emplace_back("Source-IP", std::string(value));
      ip = true;
    } else if (EqualsIgnoreCase(name, "Received date")) {
      out.fields.emplace_back("Arrival-Date", std::string(value));
    } else {
      out.fields.emplace_back(std::string(name), std::string(value));
    }
    if (out.fields.size() > 100) return std::nullopt;
  }
  if (!domain || !ip) return std::nullopt;
  out.fields.emplace_back("Feedback-Type", "auth-failure");
  out.fields.emplace_back("Auth-Failure", "dmarc");
  return out;
}

}  // namespace dmarc::parse
