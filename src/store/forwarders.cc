// Known forwarders (forwarders.h): the bundled list, the user's files, matching.
#include "store/forwarders.h"

#include <fmt/format.h>

#include <array>
#include <optional>

#include "base/files.h"
#include "base/text.h"

namespace dmarc::store {

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;
constexpr std::size_t kMaxEntries = 100'000;
constexpr std::size_t kMaxField = 200;

// The three TAB-separated fields of a line, trimmed; nullopt unless there are exactly three.
std::optional<std::array<std::string_view, 3>> Fields(std::string_view line) {
  std::array<std::string_view, 3> out;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t tab = line.find('\t');
    if ((tab == std::string_view::npos) != (i + 1 == out.size())) return std::nullopt;
    out[i] = Trim(line.substr(0, tab));
    line.remove_prefix(tab == std::string_view::npos ? line.size() : tab + 1);
  }
  return out;
}

bool PlainText(std::string_view s) {
  if (s.empty() || s.size() > kMaxField) return false;
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

// A domain, or "LABEL.*".
bool ValidKey(std::string_view key) {
  if (!PlainText(key) || key.find(' ') != std::string_view::npos) return false;
  if (key.size() > 2 && key.substr(key.size() - 2) == ".*") key.remove_suffix(2);
  return !key.empty() && key.find('*') == std::string_view::npos && key.front() != '.' &&
         key.back() != '.';
}

// Why a line is not an entry ("" when it is one).
std::string LineError(const std::array<std::string_view, 3>& f) {
  if (!ValidKey(f[0])) return fmt::format("\"{}\" is neither a domain nor LABEL.*", f[0]);
  if (!PlainText(f[1])) return "the name is empty, too long or has control characters";
  if (f[2] != "forwarder" && f[2] != "mailing_list" && f[2] != "none") {
    return fmt::format("the kind \"{}\" is not forwarder, mailing_list or none", f[2]);
  }
  return "";
}

}  // namespace

const Forwarders& Forwarders::BuiltIn() {
  static const Forwarders* const built_in = [] {
    auto* f = new Forwarders();
    // The bundled file is checked by the tests; an error here is a programmer error.
    (void)f->Add(BuiltInForwardersText(), "forwarders.tsv (built in)");
    return f;
  }();
  return *built_in;
}

Result<std::shared_ptr<const Forwarders>> Forwarders::WithFiles(
    const std::vector<std::string>& paths) {
  auto f = std::make_shared<Forwarders>(BuiltIn());
  for (const auto& path : paths) {
    if (auto added = f->AddFile(path); !added) return MakeError(added.error());
  }
  return std::shared_ptr<const Forwarders>(std::move(f));
}

Result<bool> Forwarders::Add(std::string_view text, const std::string& origin) {
  if (text.size() > kMaxFileBytes) {
    return MakeError(fmt::format("{}: larger than {} bytes", origin, kMaxFileBytes));
  }
  for (std::size_t line_no = 1; !text.empty(); ++line_no) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (Trim(line).empty() || line.front() == '#') continue;
    if (line.back() == '\r') line.remove_suffix(1);
    const auto fields = Fields(line);
    if (!fields)
      return MakeError(fmt::format("{}:{}: expected KEY<TAB>NAME<TAB>KIND", origin, line_no));
    if (std::string error = LineError(*fields); !error.empty()) {
      return MakeError(fmt::format("{}:{}: {}", origin, line_no, error));
    }
    std::string key = ToLowerAscii((*fields)[0]);
    if ((*fields)[2] == "none") {
      entries_.erase(key);
      continue;
    }
    if (entries_.size() >= kMaxEntries) {
      return MakeError(fmt::format("{}:{}: more than {} entries", origin, line_no, kMaxEntries));
    }
    KnownForwarder entry{key, std::string((*fields)[1]), std::string((*fields)[2])};
    entries_[std::move(key)] = std::move(entry);
  }
  return true;
}

Result<bool> Forwarders::AddFile(const std::string& path) {
  Limits limits;
  limits.max_input_bytes = kMaxFileBytes;
  auto text = ReadInput(path, limits, PathOrigin::kNamedByUser);
  if (!text) return MakeError(fmt::format("{}: {}", path, text.error()));
  return Add(*text, path);
}

const KnownForwarder* Forwarders::Find(std::string_view name) const {
  const std::string lower = ToLowerAscii(name);
  std::string_view rest = lower;
  while (!rest.empty()) {
    if (auto it = entries_.find(std::string(rest)); it != entries_.end()) return &it->second;
    const std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  const std::size_t dot = lower.find('.');
  if (dot == std::string::npos || dot + 1 == lower.size()) return nullptr;
  auto it = entries_.find(lower.substr(0, dot) + ".*");
  return it == entries_.end() ? nullptr : &it->second;
}

const KnownForwarder* Forwarders::Match(const model::Record& r) const {
  for (const auto* name : {&r.source.reverse_dns, &r.source.base_domain}) {
    if (!*name || (*name)->empty()) continue;
    if (const auto* f = Find(**name)) return f;
  }
  // The envelope domain only where SPF passed for it: anyone can write googlegroups.com into
  // MAIL FROM, only Google's servers pass SPF for it.
  for (const auto& spf : r.spf) {
    if (spf.domain.empty() || spf.result != "pass") continue;
    if (const auto* f = Find(spf.domain)) return f;
  }
  return nullptr;
}

}  // namespace dmarc::store
