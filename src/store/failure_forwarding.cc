// Forwarded mail in failure reports (forwarders.h, ClassifyFailure).
#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/text.h"
#include "sinks/report_json.h"
#include "store/forwarders.h"

namespace dmarc::store {

namespace {

constexpr std::size_t kMaxResultChars = 32;
// A reported message is bounded by the parser; these bound what this reads of it.
constexpr std::size_t kMaxHeadersRead = 500;
constexpr std::size_t kMaxEvidence = 5;
constexpr std::size_t kMaxEvidenceChars = 200;

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool HeaderIs(std::string_view name, std::string_view wanted) {
  return EqualsIgnoreCase(Trim(name), wanted);
}

// The value of tag `tag` in a tag list ("i=2; a=rsa-sha256; cv=pass; d=x"), trimmed; nullopt when
// the tag is absent.
std::optional<std::string> Tag(std::string_view list, std::string_view tag) {
  while (!list.empty()) {
    const std::size_t semi = list.find(';');
    const std::string_view item = Trim(list.substr(0, semi));
    list.remove_prefix(semi == std::string_view::npos ? list.size() : semi + 1);
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos || !EqualsIgnoreCase(Trim(item.substr(0, eq)), tag)) continue;
    return std::string(Trim(item.substr(eq + 1)));
  }
  return std::nullopt;
}

// The ARC instance (i=) of an ARC header; 0 when absent or not a number from 1 to 50 (RFC 8617
// §4.2.1).
int Instance(std::string_view value) {
  const auto i = Tag(value, "i");
  const auto n = i ? ParseUnsigned(*i) : std::nullopt;
  return n && *n >= 1 && *n <= 50 ? static_cast<int>(*n) : 0;
}

// Printable ASCII of at most kMaxEvidenceChars, for a line of evidence.
std::string Printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (out.size() == kMaxEvidenceChars) break;
    const auto u = static_cast<unsigned char>(c);
    out += u >= 0x20 && u < 0x7f ? c : ' ';
  }
  return out;
}

// The newest ARC set of the headers (the highest i=), in words; empty without one.
std::string ArcEvidence(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::map<int, std::string> seals, results;
  for (std::size_t n = 0; n < headers.size() && n < kMaxHeadersRead; ++n) {
    const auto& [name, value] = headers[n];
    if (HeaderIs(name, "arc-seal")) {
      if (const int i = Instance(value)) seals.emplace(i, value);
    } else if (HeaderIs(name, "arc-authentication-results")) {
      if (const int i = Instance(value)) results.emplace(i, value);
    }
  }
  if (seals.empty()) return {};
  const auto& [i, seal] = *seals.rbegin();
  std::string text =
      fmt::format("ARC i={} sealed by {}: cv={}", i, Printable(Tag(seal, "d").value_or("(no d=)")),
                  Printable(Tag(seal, "cv").value_or("(none)")));
  if (auto r = results.find(i); r != results.end()) {
    for (const char* method : {"dmarc", "dkim", "spf"}) {
      if (auto v = AuthMethodResult(r->second, method); !v.empty()) {
        text += fmt::format(", {}={}", method, v);
      }
    }
  }
  return text;
}

// The known forwarder the report's source is: its PTR name, its base domain, then the envelope
// domain when the receiver says SPF passed.
const KnownForwarder* SourceForwarder(const model::FailureReport& report,
                                      const Forwarders& forwarders) {
  for (const auto* name : {&report.source.reverse_dns, &report.source.base_domain}) {
    if (!*name || (*name)->empty()) continue;
    if (const auto* f = forwarders.Find(**name)) return f;
  }
  if (report.original_mail_from && report.authentication_results &&
      AuthMethodResult(*report.authentication_results, "spf") == "pass") {
    const std::string& from = *report.original_mail_from;
    const std::size_t at = from.rfind('@');
    std::string_view domain =
        at == std::string::npos ? std::string_view(from) : std::string_view(from).substr(at + 1);
    while (!domain.empty() && domain.back() == '>') domain.remove_suffix(1);
    if (!domain.empty()) return forwarders.Find(domain);
  }
  return nullptr;
}

}  // namespace

std::string AuthMethodResult(std::string_view text, std::string_view method) {
  // Method names and results are case-insensitive (RFC 8601 §2.2).
  const std::string lower = ToLowerAscii(text);
  const std::string_view results = lower;
  const std::string key = ToLowerAscii(method) + "=";
  for (std::size_t at = 0; (at = results.find(key, at)) != std::string_view::npos;
       at += key.size()) {
    if (at > 0 && (IsWordChar(results[at - 1]) || results[at - 1] == '.')) continue;
    std::string value;
    for (std::size_t i = at + key.size(); i < results.size() && IsWordChar(results[i]); ++i) {
      if (value.size() == kMaxResultChars) break;
      value += results[i];
    }
    if (!value.empty()) return value;
  }
  return {};
}

FailureForwarding ClassifyFailure(const model::FailureReport& report,
                                  const Forwarders& forwarders) {
  FailureForwarding out;
  if (report.parsed_sample) {
    const auto& headers = report.parsed_sample->headers;
    if (std::string arc = ArcEvidence(headers); !arc.empty()) out.evidence.push_back(arc);
    for (std::size_t n = 0; n < headers.size() && n < kMaxHeadersRead; ++n) {
      if (out.evidence.size() == kMaxEvidence) break;
      if (HeaderIs(headers[n].first, "list-id")) {
        out.evidence.push_back("List-Id: " + Printable(Trim(headers[n].second)));
      }
    }
  }
  if (report.authentication_results &&
      AuthMethodResult(*report.authentication_results, "arc") == "pass") {
    out.kind = "forwarded";
    out.reason = "arc_pass";
    out.detail = "the receiver reports arc=pass";
  } else if (const auto* f = SourceForwarder(report, forwarders)) {
    out.kind = f->kind == "mailing_list" ? "mailing_list" : "forwarded";
    out.reason = "known_forwarder";
    out.detail = fmt::format("{} ({})", f->name, f->key);
  }
  return out;
}

FailureForwarding ClassifyFailureData(std::string_view data, const Forwarders& forwarders) {
  auto json = nlohmann::ordered_json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return {};
  auto report = sinks::FailureFromJson(json);
  return report ? ClassifyFailure(*report, forwarders) : FailureForwarding{};
}

}  // namespace dmarc::store
