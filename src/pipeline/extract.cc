#include "pipeline/extract.h"

#include <fmt/format.h>

#include "archive/archive.h"
#include "mime/mime.h"

namespace dmarc::pipeline {

namespace {

using archive::Kind;

class Extractor {
 public:
  Extractor(const ExtractOptions& options, Extracted& out) : options_(options), out_(out) {}

  // Returns the number of reports found in (or rejections charged to) these bytes.
  std::size_t Unpack(std::string_view bytes, const std::string& origin, int depth,
                     bool inside_mail) {
    if (depth > options_.limits().max_nesting) {
      return Reject(origin, fmt::format("containers nested more than {} deep",
                                        options_.limits().max_nesting));
    }
    switch (archive::Sniff(bytes)) {
      case Kind::kGzip: {
        auto data = archive::Gunzip(bytes, options_.limits());
        if (!data) return Reject(origin, data.error());
        return Unpack(data->data, origin, depth + 1, inside_mail);
      }
      case Kind::kZip:
        return UnpackZip(bytes, origin, depth);
      case Kind::kXml:
        return ParseXml(bytes, origin, inside_mail);
      case Kind::kJson:
        if (inside_mail) return 0;
        return Reject(origin, "JSON input: SMTP TLS reports are not supported yet");
      case Kind::kMail:
        return UnpackMail(bytes, origin, depth, inside_mail);
      case Kind::kMbox:
        if (inside_mail) return 0;
        return UnpackMbox(bytes, origin, depth);
      case Kind::kEmpty:
        if (inside_mail) return 0;
        return Reject(origin, "empty input");
      case Kind::kUnknown:
        break;
    }
    if (inside_mail) return 0;
    return Reject(origin,
                  "not a recognized report format (not XML, JSON, gzip, zip, a mail or an mbox)");
  }

 private:
  std::size_t Reject(const std::string& origin, std::string reason) {
    out_.rejections.push_back({origin, std::move(reason)});
    return 1;
  }

  std::size_t ParseXml(std::string_view bytes, const std::string& origin, bool inside_mail) {
    if (!parse::LooksLikeAggregateXml(bytes)) {
      // An HTML body or other XML part of a mail is not a report and not an error.
      if (inside_mail) return 0;
      return Reject(origin, "XML but not a DMARC aggregate report (no <feedback> element)");
    }
    auto report = parse::ParseAggregateXml(bytes, options_.aggregate);
    if (!report) return Reject(origin, report.error());
    out_.reports.push_back({origin, std::move(report).value()});
    return 1;
  }

  std::size_t UnpackZip(std::string_view bytes, const std::string& origin, int depth) {
    std::size_t found = 0;
    auto n = archive::ForEachZipEntry(
        bytes, options_.limits(),
        [&](archive::ZipEntry&& entry) {
          // Entries are parsed from memory; a name is only a label, never a path we open.
          found += Unpack(entry.data, fmt::format("{}[{}]", origin, entry.name), depth + 1,
                          /*inside_mail=*/true);
        },
        [&](const std::string& name, const std::string& reason) {
          found += Reject(fmt::format("{}[{}]", origin, name), reason);
        });
    if (!n) return Reject(origin, n.error());
    if (found == 0) return Reject(origin, "zip archive contains no report");
    return found;
  }

  // A mail that is itself an input (or an mbox message) must hold a report; a mail attached
  // inside another one (a forwarded message, an ARF sample) need not.
  std::size_t UnpackParts(mime::Mail& mail, const std::string& origin, int depth, bool nested) {
    std::size_t found = 0;
    for (auto& part : mail.parts) {
      if (part.is_message) continue;  // its own parts follow in the list
      const std::string label =
          part.filename.empty() ? fmt::format("{}[part {}]", origin, part.path)
                                : fmt::format("{}[part {}: {}]", origin, part.path, part.filename);
      found += Unpack(part.data, label, depth + 1, /*inside_mail=*/true);
      part.data.clear();
      part.data.shrink_to_fit();
    }
    if (found == 0 && !nested) {
      for (const auto& part : mail.parts) {
        if (part.content_type == "message/feedback-report") {
          return Reject(origin,
                        "a failure (ARF) report: this version reads aggregate reports only");
        }
        if (part.content_type.starts_with("application/tlsrpt")) {
          return Reject(origin, "an SMTP TLS report: this version reads aggregate reports only");
        }
      }
      return Reject(origin, mail.subject.empty()
                                ? std::string("mail contains no DMARC report")
                                : fmt::format("mail contains no DMARC report (subject \"{}\")",
                                              mail.subject));
    }
    return found;
  }

  std::size_t UnpackMail(std::string_view bytes, const std::string& origin, int depth,
                         bool nested) {
    auto mail = mime::ParseMail(bytes, options_.limits());
    if (!mail) return nested ? 0 : Reject(origin, mail.error());
    return UnpackParts(*mail, origin, depth, nested);
  }

  std::size_t UnpackMbox(std::string_view bytes, const std::string& origin, int depth) {
    std::size_t found = 0;
    auto n = mime::ForEachMboxMail(
        bytes, options_.limits(), [&](std::size_t index, Result<mime::Mail>&& mail) {
          const std::string label = fmt::format("{}[message {}]", origin, index);
          if (!mail) {
            found += Reject(label, mail.error());
          } else {
            found += UnpackParts(*mail, label, depth + 1, /*nested=*/false);
          }
        });
    if (!n) found += Reject(origin, n.error());
    return found;
  }

  const ExtractOptions& options_;
  Extracted& out_;
};

}  // namespace

Extracted ExtractReports(std::string_view bytes, const std::string& origin,
                         const ExtractOptions& options) {
  Extracted out;
  Extractor(options, out).Unpack(bytes, origin, 0, /*inside_mail=*/false);
  return out;
}

}  // namespace dmarc::pipeline
