// DMARC failure reports (ARF auth-failure, RFC 6591; RFC 7489 §7.3; RFC 9991) → model, from
// values the mail layer already extracted: the feedback fields, the mail's date and the
// reported message. Also reads Exim's plain-text failure reports, which have no ARF part.
// Knows nothing of MIME; dates are read through the function the caller passes.
//
// Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/limits.h"
#include "base/result.h"
#include "model/failure.h"

namespace dmarc::parse {

// What a failure report keeps of the reported message (failure.keep_sample).
enum class KeepSample { kHeaders, kFull, kNone };

// "headers", "full", "none" → the enum; nullopt for anything else.
std::optional<KeepSample> ParseKeepSample(std::string_view s);

struct FailureOptions {
  Limits limits;
  KeepSample keep_sample = KeepSample::kHeaders;
};

using Field = std::pair<std::string, std::string>;  // name as sent, value

struct FailureInput {
  std::vector<Field> fields;              // the message/feedback-report part's fields, in order
  std::optional<std::int64_t> mail_date;  // Date of the report mail
  std::string mail_date_text;             // as sent
  // The reported message as sent (whole, or a header block), and whether the report carried
  // only its headers (text/rfc822-headers).
  std::string sample;
  bool sample_headers_only = false;
  std::optional<model::FailureSample> parsed_sample;  // filled by the caller from the sample
  std::function<std::optional<std::int64_t>(std::string_view)> parse_date;
};

// Builds the report; an error when it is not a DMARC failure report (Feedback-Type other than
// auth-failure: abuse, fraud, ...) or lacks what every failure report has.
Result<model::FailureReport> BuildFailureReport(FailureInput&& input,
                                                const FailureOptions& options);

// The header block of a message (up to the first empty line), line ends kept.
std::string_view HeaderBlockOf(std::string_view message);

// Exim's plain-text failure report ("Sender Domain: ...", "Sender IP Address: ...") as feedback
// fields plus the copy of headers it carries; nullopt when the text is not one.
struct PlainTextFailure {
  std::vector<Field> fields;
  std::string sample;  // the headers copied into the text
};
std::optional<PlainTextFailure> ReadPlainTextFailure(std::string_view text);

}  // namespace dmarc::parse
