// Mail parsing: the only module that includes GMime. It turns a mail (or every mail of an mbox)
// into plain values: a few headers and the decoded content of every leaf part, walking nested
// multiparts and attached messages (message/rfc822).
//
// Thread-safety: functions are reentrant; GMime is initialised once, on first use.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/result.h"

namespace dmarc::mime {

struct Part {
  std::string path;          // position in the tree: "1", "2.1", ...
  std::string content_type;  // lower-case "type/subtype" as declared (never trusted for format)
  std::string filename;      // from Content-Disposition or Content-Type name, may be empty
  std::string data;          // content with the transfer encoding removed
  // A message/rfc822 part: data holds the whole attached message, and its own parts follow as
  // separate entries. Consumers looking for report attachments skip these.
  bool is_message = false;
};

struct Mail {
  std::string subject;
  std::string from;
  std::string to;
  std::string message_id;
  std::optional<std::int64_t> date;  // Unix time of the Date header
  std::vector<Part> parts;
  std::vector<std::string> warnings;  // e.g. parts skipped over a limit
  // More than limits.max_mime_parts parts: the first ones are in `parts`, the rest were skipped.
  bool too_many_parts = false;
};

Result<Mail> ParseMail(std::string_view bytes, const Limits& limits);

struct Header {
  std::string name;   // as sent
  std::string value;  // unfolded, RFC 2047 words decoded, valid UTF-8
};

struct Address {
  std::string name;     // display name, may be empty
  std::string address;  // addr-spec, may be empty for a malformed one
};

// The message a failure report is about (its "sample"): every header in order (up to
// limits.max_headers), the addresses and dates read from them, and optionally the text of its
// text parts converted to UTF-8.
struct Sample {
  std::vector<Header> headers;
  std::string subject;
  std::string message_id;
  std::optional<std::int64_t> date;
  std::vector<Address> from, to, cc;
  std::optional<std::string> body;  // only when asked for
  std::vector<std::string> warnings;
};

// Parses a whole message or a bare header block (text/rfc822-headers).
Result<Sample> ParseSample(std::string_view bytes, const Limits& limits, bool with_body);

// The fields of a header-like block (a message/feedback-report part): unfolded, in order, at
// most limits.max_headers of them (*truncated, when given, tells whether there were more).
std::vector<Header> ParseHeaderBlock(std::string_view bytes, const Limits& limits,
                                     bool* truncated = nullptr);

// An RFC 5322 date ("Mon, 01 Oct 2018 11:20:27 +0200", and the variants GMime tolerates) →
// Unix seconds.
std::optional<std::int64_t> ParseMailDate(std::string_view text);

// Calls visit(index, mail, raw) for each message of an mbox, index from 1; raw is that message's
// own bytes (from its "From " line), a view into `bytes`. A message GMime cannot construct ends
// the walk with an error naming it; messages before it were already visited.
using MailVisitor =
    std::function<void(std::size_t index, Result<Mail>&& mail, std::string_view raw)>;
Result<std::size_t> ForEachMboxMail(std::string_view bytes, const Limits& limits,
                                    const MailVisitor& visit);

}  // namespace dmarc::mime
