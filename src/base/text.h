// Small string helpers shared by every module: trimming, case folding, UTF-8 repair.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dmarc {

// XML/RFC 5322 whitespace: space, tab, CR, LF (and form feed / vertical tab for robustness).
constexpr bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s);
std::string ToLowerAscii(std::string_view s);
// Lower-cases ASCII letters of s in place and returns it (no new allocation).
std::string ToLowerAscii(std::string&& s);
inline std::string ToLowerAscii(const char* s) { return ToLowerAscii(std::string_view(s)); }
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);

// Parses a non-negative decimal integer, allowing surrounding whitespace and a leading '+'.
// Returns nullopt for anything else, including overflow of uint64.
std::optional<std::uint64_t> ParseUnsigned(std::string_view s);
// Same for signed values (a leading '-' allowed).
std::optional<std::int64_t> ParseSigned(std::string_view s);

// True when s is well-formed UTF-8 (no overlongs, no surrogates, no code points > U+10FFFF).
bool IsValidUtf8(std::string_view s);
// Replaces every invalid UTF-8 sequence with U+FFFD; returns the number of replacements.
std::size_t RepairUtf8(std::string& s);

// True when s is valid UTF-8 and holds no control character XML 1.0 forbids: the common case,
// checked in one pass so that clean documents skip every repair step.
bool IsCleanXmlText(std::string_view s);

// The text with every control character shown as an escape, for a log line or a message on a
// terminal that holds text from an input (a subject, a file name): C0 controls as \n, \r, \t or
// \xNN, DEL as \x7f, C1 controls (U+0080..U+009F) and the line separators U+2028/U+2029 as
// \uNNNN, and bytes that are not UTF-8 as \xNN (a raw 0x9b is a CSI on 8-bit terminals). Such
// a value then cannot start a new log line or move the cursor; other text is unchanged.
std::string EscapeControls(std::string_view s);

// Removes control characters that XML 1.0 forbids (all C0 except TAB, LF, CR).
// Returns the number removed.
std::size_t StripXmlForbiddenControls(std::string& s);

}  // namespace dmarc
