// The allow-list of recipients.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "smtp/smtp.h"

namespace dmarc::smtp {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsDomain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  return std::all_of(d.begin(), d.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// A local part without what relays once read as routing ('%', '!', '@') or spaces.
bool IsLocalPart(std::string_view l) {
  if (l.empty() || l.size() > 64) return false;
  return std::all_of(l.begin(), l.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && c != '%' && c != '!' && c != '@' && c != '"' && c != '\\';
  });
}

}  // namespace

Status CheckAcceptEntry(const std::string& entry) {
  const std::size_t at = entry.find('@');
  const bool ok = at == std::string::npos ? IsDomain(entry)
                                          : IsDomain(entry.substr(at + 1)) &&
                                                (at == 0 || IsLocalPart(entry.substr(0, at)));
  if (ok) return Ok();
  return MakeError(fmt::format(
      "\"{}\": must be an address (dmarc@reports.example.com) or a domain (reports.example.com)",
      entry));
}

bool Accepts(const std::vector<std::string>& accept, const std::string& address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string::npos || !IsLocalPart(address.substr(0, at)) ||
      !IsDomain(address.substr(at + 1))) {
    return false;
  }
  const std::string a = Lower(address);
  const std::string domain = a.substr(at + 1);
  return std::any_of(accept.begin(), accept.end(), [&](const std::string& entry) {
    const std::string e = Lower(entry);
    if (e.find('@') == std::string::npos) return e == domain;
    if (e.front() == '@') return e.substr(1) == domain;
    return e == a;
  });
}

}  // namespace dmarc::smtp
