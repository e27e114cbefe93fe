#include "enrich/services.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/text.h"

namespace dmarc::enrich {

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr std::size_t kMaxEntries = 100'000;
constexpr std::size_t kMaxFieldBytes = 200;

bool ValidText(std::string_view s) {
  if (s.empty() || s.size() > kMaxFieldBytes) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Services> Services::BuiltIn() {
  auto s = std::make_unique<Services>();
  // The built-in file is checked by the tests; an error here is a programmer error.
  (void)s->Add(BuiltInServicesText(), "services.tsv (built in)");
  return s;
}

Result<bool> Services::Add(std::string_view text, const std::string& origin) {
  if (text.size() > kMaxFileBytes) {
    return MakeError(fmt::format("{}: larger than {} bytes", origin, kMaxFileBytes));
  }
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty() || line.front() == '#') continue;
    const std::size_t t1 = line.find('\t');
    const std::size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos || line.find('\t', t2 + 1) != std::string_view::npos) {
      return MakeError(fmt::format("{}:{}: expected KEY<TAB>NAME<TAB>TYPE", origin, line_no));
    }
    const std::string key = ToLowerAscii(Trim(line.substr(0, t1)));
    const std::string_view name = Trim(line.substr(t1 + 1, t2 - t1 - 1));
    const std::string_view type = Trim(line.substr(t2 + 1));
    if (!ValidText(key) || !ValidText(name) || !ValidText(type)) {
      return MakeError(
          fmt::format("{}:{}: empty, too long or control characters", origin, line_no));
    }
    if (size() >= kMaxEntries) {
      return MakeError(fmt::format("{}:{}: more than {} services", origin, line_no, kMaxEntries));
    }
    Service service{std::string(name), std::string(type)};
    if (key.size() > 2 && key[0] == 'a' && key[1] == 's' &&
        key.find_first_not_of("0123456789", 2) == std::string::npos && key.size() <= 12) {
      by_asn_[std::stoll(key.substr(2))] = std::move(service);
    } else if (key.find('.') != std::string::npos) {
      by_domain_[key] = std::move(service);
    } else {
      return MakeError(
          fmt::format("{}:{}: \"{}\" is neither a domain nor AS<number>", origin, line_no, key));
    }
  }
  return true;
}

Result<bool> Services::AddFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return Add(text, path);
}

const Service* Services::Find(const std::optional<std::string>& base_domain,
                              const std::optional<std::int64_t>& asn) const {
  if (base_domain) {
    if (auto it = by_domain_.find(*base_domain); it != by_domain_.end()) return &it->second;
  }
  if (asn) {
    if (auto it = by_asn_.find(*asn); it != by_asn_.end()) return &it->second;
  }
  return nullptr;
}

}  // namespace dmarc::enrich
