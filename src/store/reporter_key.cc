#include "store/reporter_key.h"

#include <array>
#include <optional>
#include <vector>

#include "psl/psl.h"

namespace dmarc::store {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The words of the name, lower-cased.
std::vector<std::string> Words(std::string_view name) {
  std::vector<std::string> words;
  std::string word;
  for (char c : name) {
    if (IsSpace(c)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += Lower(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::string_view TrimPunctuation(std::string_view w) {
  while (!w.empty() && (w.back() == ',' || w.back() == '.')) w.remove_suffix(1);
  return w;
}

bool IsCompanyForm(std::string_view word) {
  static constexpr std::array<std::string_view, 14> kForms = {
      "inc", "llc", "ltd", "limited", "corp", "corporation", "gmbh",
      "ag",  "sa",  "s.a", "bv",      "b.v",  "co",          "plc"};
  const std::string_view w = TrimPunctuation(word);
  for (std::string_view f : kForms) {
    if (w == f) return true;
  }
  return false;
}

// "google.com" → "google"; nullopt when the name is not a domain under a public suffix.
std::optional<std::string> DomainLabel(const std::string& name) {
  if (name.find('.') == std::string::npos) return std::nullopt;
  auto base = psl::RegistrableDomain(name);
  if (!base) return std::nullopt;
  const std::size_t dot = base->find('.');
  if (dot == 0 || dot == std::string::npos) return std::nullopt;
  return base->substr(0, dot);
}

}  // namespace

std::string ReporterKey(std::string_view org_name) {
  std::vector<std::string> words = Words(org_name);
  while (words.size() > 1 && IsCompanyForm(words.back())) words.pop_back();
  std::string key;
  for (const auto& w : words) {
    if (!key.empty()) key += ' ';
    key += w;
  }
  while (!key.empty() && (key.back() == ',' || key.back() == '.' || key.back() == '!')) {
    key.pop_back();
  }
  if (words.size() == 1) {
    if (auto label = DomainLabel(key)) return *label;
  }
  return key;
}

}  // namespace dmarc::store
