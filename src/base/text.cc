#include "base/text.h"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <limits>

#include "base/bytes16.h"

namespace dmarc {

std::string_view Trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string ToLowerAscii(std::string_view s) { return ToLowerAscii(std::string(s)); }

std::string ToLowerAscii(std::string&& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return std::move(s);
}

namespace {
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

std::optional<std::uint64_t> ParseUnsigned(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (kMax - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<std::int64_t> ParseSigned(std::string_view s) {
  s = Trim(s);
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  auto u = ParseUnsigned(s);
  if (!u) return std::nullopt;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (*u > kMax) return std::nullopt;
  auto v = static_cast<std::int64_t>(*u);
  return negative ? -v : v;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
  }
  return n;
}

}  // namespace

std::string EscapeControls(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c == '\n' || c == '\r' || c == '\t') {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
      ++i;
      continue;
    }
    const std::size_t n = c < 0x80 ? 0 : Utf8SequenceLength(s, i);
    if (n == 0) {  // another C0 control, DEL, or a byte that starts no UTF-8 sequence
      out += fmt::format("\\x{:02x}", c);
      ++i;
      continue;
    }
    char32_t cp = n == 2 ? ((c & 0x1F) << 6) | (s[i + 1] & 0x3F) : 0;
    if (n == 3) {
      cp = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
    }
    if ((cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
      out += fmt::format("\\u{:04x}", static_cast<std::uint32_t>(cp));
    } else {
      out.append(s.data() + i, n);
    }
    i += n;
  }
  return out;
}

bool IsCleanXmlText(std::string_view s) {
  // 0: plain ASCII allowed in XML, 1: forbidden control character, 2: start of a multi-byte
  // sequence (or an invalid byte), checked in full.
  static constexpr auto kClass = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[c] = 1;
    t['\t'] = t['\n'] = t['\r'] = 0;
    for (int c = 0x80; c < 0x100; ++c) t[c] = 2;
    return t;
  }();
  std::size_t i = 0;
  const std::size_t n = s.size();
  // Checks the bytes from i on, one by one, up to `until` (a multi-byte sequence may end past
  // it); false at a forbidden one.
  auto one_by_one = [&](std::size_t until) {
    while (i < until) {
      const unsigned char k = kClass[static_cast<unsigned char>(s[i])];
      if (k == 0) {
        ++i;
      } else if (k == 1) {
        return false;
      } else {
        const std::size_t len = Utf8SequenceLength(s, i);
        if (len == 0) return false;
        i += len;
      }
    }
    return true;
  };
  // Sixteen bytes at a time (base/bytes16.h): a block whose bytes are all printable ASCII, tab,
  // LF or CR is clean as it is, whatever its indentation; else (a control, or a byte >= 0x80
  // starting a sequence to check) that block one by one, and on from where its last sequence
  // ends.
  constexpr std::size_t kBlock = sizeof(Bytes16);
  while (i + kBlock <= n) {
    const Bytes16 x = Load16(s.data() + i);
    if (!Any16((x < 0x20) & ~((x == '\t') | (x == '\n') | (x == '\r')))) {
      i += kBlock;
    } else if (!one_by_one(i + kBlock)) {
      return false;
    }
  }
  return one_by_one(n);
}

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // Fast path over ASCII.
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::size_t RepairUtf8(std::string& s) {
  if (IsValidUtf8(s)) return 0;
  std::string out;
  out.reserve(s.size() + 16);
  std::size_t replaced = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++replaced;
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  s.swap(out);
  return replaced;
}

std::size_t StripXmlForbiddenControls(std::string& s) {
  auto forbidden = [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 && c != '\t' && c != '\n' && c != '\r';
  };
  // Nearly every document has none: look before rewriting anything.
  std::size_t w = 0;
  while (w < s.size() && !forbidden(s[w])) ++w;
  if (w == s.size()) return 0;
  for (std::size_t r = w; r < s.size(); ++r) {
    const auto c = static_cast<unsigned char>(s[r]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') continue;
    s[w++] = s[r];
  }
  const std::size_t removed = s.size() - w;
  s.resize(w);
  return removed;
}

}  // namespace dmarc
