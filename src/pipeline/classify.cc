#include "pipeline/classify.h"

#include <algorithm>
#include <array>

#include "archive/archive.h"
#include "parse/failure.h"

namespace dmarc::pipeline {

using collect::MailClass;

MailClass Classify(const Extracted& extracted) {
  // A mail holding several kinds is filed under the first: aggregate, failure, SMTP TLS.
  if (!extracted.reports.empty() || extracted.streamed_reports > 0) return MailClass::kAggregate;
  if (!extracted.failures.empty()) return MailClass::kForensic;
  if (!extracted.smtp_tls.empty()) return MailClass::kSmtpTls;
  return MailClass::kInvalid;
}

namespace {

bool ContainsIgnoreCase(std::string_view text, std::string_view word) {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  return std::search(text.begin(), text.end(), word.begin(), word.end(),
                     [&](char a, char b) { return lower(a) == lower(b); }) != text.end();
}

// Mails (or an mbox of them) that carry another message or its headers: ARF failure reports
// (message/feedback-report, with message/rfc822 or text/rfc822-headers), forwarded mails, and
// Exim's plain-text failure reports ("------ This is a copy of the message's headers.").
bool LooksLikeAFailureReport(std::string_view input) {
  const archive::Kind kind = archive::Sniff(input);
  if (kind != archive::Kind::kMail && kind != archive::Kind::kMbox) return false;
  static constexpr std::array<std::string_view, 4> kSigns = {"feedback-report", "message/rfc822",
                                                             "rfc822-headers", "this is a copy of"};
  return std::any_of(kSigns.begin(), kSigns.end(),
                     [&](std::string_view sign) { return ContainsIgnoreCase(input, sign); });
}

}  // namespace

std::string RejectedBytesToKeep(std::string_view input, std::size_t raw_bytes,
                                parse::KeepSample keep) {
  std::string_view kept = input.substr(0, raw_bytes);
  if (keep != parse::KeepSample::kFull && LooksLikeAFailureReport(input)) {
    kept = keep == parse::KeepSample::kNone ? std::string_view() : parse::HeaderBlockOf(kept);
  }
  return std::string(kept);
}

}  // namespace dmarc::pipeline
