#include "archive/archive.h"
#include "base/text.h"

namespace dmarc::archive {

namespace {

bool IsHeaderNameChar(char c) {
  // RFC 5322 ftext: printable US-ASCII except ':'.
  return c >= 33 && c <= 126 && c != ':';
}

// True when the bytes open with "Name: value" lines, as a mail does.
bool LooksLikeMail(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && IsHeaderNameChar(s[i])) ++i;
  return i > 0 && i < s.size() && i <= 76 && s[i] == ':';
}

}  // namespace

Kind Sniff(std::string_view s) {
  if (s.size() >= 2 && static_cast<unsigned char>(s[0]) == 0x1F &&
      static_cast<unsigned char>(s[1]) == 0x8B) {
    return Kind::kGzip;
  }
  if (s.size() >= 4 && s[0] == 'P' && s[1] == 'K' &&
      ((s[2] == 3 && s[3] == 4) || (s[2] == 5 && s[3] == 6))) {
    return Kind::kZip;
  }
  if (s.substr(0, 5) == "From ") return Kind::kMbox;
  std::string_view t = s;
  if (t.substr(0, 3) == "\xEF\xBB\xBF") t.remove_prefix(3);
  std::size_t i = 0;
  while (i < t.size() && IsSpace(t[i])) ++i;
  if (i == t.size()) return Kind::kEmpty;
  if (t[i] == '<') return Kind::kXml;
  if (t[i] == '{' || t[i] == '[') return Kind::kJson;
  if (LooksLikeMail(s)) return Kind::kMail;
  return Kind::kUnknown;
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kEmpty:
      return "empty";
    case Kind::kGzip:
      return "gzip";
    case Kind::kZip:
      return "zip";
    case Kind::kXml:
      return "xml";
    case Kind::kJson:
      return "json";
    case Kind::kMbox:
      return "mbox";
    case Kind::kMail:
      return "mail";
    case Kind::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace dmarc::archive
