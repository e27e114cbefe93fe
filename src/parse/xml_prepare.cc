#include "parse/xml_prepare.h"

#include <fmt/format.h>
#include <iconv.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <type_traits>

#include "base/bytes16.h"
#include "base/text.h"

namespace dmarc::parse {

namespace {

// The value of encoding="..." in an XML declaration at the start, lower-cased, or "".
std::string DeclaredEncoding(std::string_view xml) {
  if (xml.substr(0, 5) != "<?xml") return {};
  const std::size_t end = xml.find("?>");
  if (end == std::string_view::npos || end > 512) return {};
  std::string_view decl = xml.substr(0, end);
  std::size_t pos = decl.find("encoding");
  if (pos == std::string_view::npos) return {};
  pos = decl.find_first_of("\"'", pos);
  if (pos == std::string_view::npos) return {};
  const char quote = decl[pos];
  const std::size_t close = decl.find(quote, pos + 1);
  if (close == std::string_view::npos) return {};
  return ToLowerAscii(Trim(decl.substr(pos + 1, close - pos - 1)));
}

bool IsSingleByteEncoding(const std::string& enc) {
  return enc.starts_with("windows-") || enc.starts_with("cp12") || enc.starts_with("iso-8859") ||
         enc.starts_with("iso8859") || enc == "latin1" || enc == "latin-1" || enc == "us-ascii" ||
         enc == "ascii";
}

// Owns an iconv descriptor (a pointer in glibc), so it is closed on every path, a throwing
// allocation included.
struct IconvClose {
  void operator()(iconv_t cd) const { iconv_close(cd); }
};
using Iconv = std::unique_ptr<std::remove_pointer_t<iconv_t>, IconvClose>;

// Converts with glibc iconv; returns false when the converter is unknown or input is invalid.
bool Transcode(std::string& s, const std::string& from) {
  const std::string charset = (from == "us-ascii" || from == "ascii") ? "windows-1252" : from;
  const iconv_t opened = iconv_open("UTF-8", charset.c_str());
  // NOLINTNEXTLINE(performance-no-int-to-ptr): iconv_open's documented failure value.
  if (opened == reinterpret_cast<iconv_t>(-1)) return false;
  const Iconv cd(opened);
  std::string out(s.size() * 3 + 16, '\0');
  char* in_ptr = s.data();
  std::size_t in_left = s.size();
  char* out_ptr = out.data();
  std::size_t out_left = out.size();
  const std::size_t rc = iconv(cd.get(), &in_ptr, &in_left, &out_ptr, &out_left);
  if (rc == static_cast<std::size_t>(-1)) return false;
  out.resize(out.size() - out_left);
  s.swap(out);
  return true;
}

bool HasHighBytes(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

bool IsEntityAt(std::string_view xml, std::size_t i) {
  // &name; or &#123; or &#x1F; within a short distance.
  std::size_t j = i + 1;
  if (j < xml.size() && xml[j] == '#') {
    ++j;
    const bool hex = j < xml.size() && (xml[j] == 'x' || xml[j] == 'X');
    if (hex) ++j;
    const std::size_t start = j;
    while (j < xml.size() && (std::isxdigit(static_cast<unsigned char>(xml[j])) != 0)) ++j;
    return j > start && j < xml.size() && xml[j] == ';';
  }
  const std::size_t start = j;
  while (j < xml.size() && j - start < 32 && IsNameChar(xml[j])) ++j;
  return j > start && j < xml.size() && xml[j] == ';';
}

// Finds "<feedback" (optionally with a namespace prefix) as a start tag.
std::size_t FindFeedbackStart(std::string_view xml) {
  std::size_t pos = 0;
  while ((pos = xml.find("feedback", pos)) != std::string_view::npos) {
    std::size_t open = pos;
    while (open > 0 && IsNameChar(xml[open - 1]) && xml[open - 1] != '<') --open;
    if (open > 0 && xml[open - 1] == '<' && pos + 8 < xml.size() &&
        (xml[pos + 8] == '>' || IsSpace(xml[pos + 8]) || xml[pos + 8] == '/')) {
      const std::string_view prefix = xml.substr(open, pos - open);
      if (prefix.empty() || prefix.back() == ':') return open - 1;
    }
    pos += 8;
  }
  return std::string_view::npos;
}

// True when text holds an element tag (not just an XML declaration, comment or doctype).
bool HasElementTag(std::string_view text) {
  for (std::size_t i = text.find('<'); i != std::string_view::npos; i = text.find('<', i + 1)) {
    if (i + 1 < text.size() && IsNameStart(text[i + 1])) return true;
  }
  return false;
}

std::size_t FindFeedbackEnd(std::string_view xml) {
  const std::size_t pos = xml.rfind("feedback>");
  if (pos == std::string_view::npos) return pos;
  const std::size_t open = xml.rfind("</", pos);
  if (open == std::string_view::npos) return open;
  return pos + 9;
}

std::size_t MarkupLength(std::string_view xml, std::size_t i) { return MarkupSpan(xml, i, true); }

}  // namespace

std::size_t MarkupSpan(std::string_view xml, std::size_t i, bool at_end) {
  const std::size_t off_end = at_end ? 0 : kMarkupIncomplete;  // ran off the end of the text
  std::size_t j = i + 1;
  if (j >= xml.size()) return off_end;
  if (xml[j] == '?' || xml[j] == '!') {
    const char* terminator = xml.substr(j, 3) == "!--" ? "-->" : ">";
    const std::size_t end = xml.find(terminator, j);
    return end == std::string_view::npos ? off_end : end + std::strlen(terminator) - i;
  }
  if (xml[j] == '/') ++j;
  if (j >= xml.size()) return off_end;
  if (!IsNameStart(xml[j])) return 0;
  while (j < xml.size() && IsNameChar(xml[j])) ++j;
  // After the name: '>', '/>', or whitespace followed by attributes.
  while (j < xml.size()) {
    const char c = xml[j];
    if (c == '>') return j + 1 - i;
    if (c == '<') return 0;
    if (c == '"' || c == '\'') {
      const std::size_t close = xml.find(c, j + 1);
      if (close == std::string_view::npos) return off_end;
      j = close + 1;
      continue;
    }
    if (c == '/' || c == '=' || IsSpace(c) || IsNameChar(c)) {
      // Attributes must be separated from the name by whitespace.
      if (c != '/' && !IsSpace(c) && j > 0 && !IsSpace(xml[j - 1]) && xml[j - 1] != '"' &&
          xml[j - 1] != '\'' && xml[j - 1] != '=' && !IsNameChar(xml[j - 1])) {
        return 0;
      }
      ++j;
      continue;
    }
    return 0;
  }
  return off_end;
}

void NormaliseEncoding(std::string& xml, std::vector<std::string>& errors) {
  if (xml.starts_with("\xEF\xBB\xBF")) {
    xml.erase(0, 3);
    errors.emplace_back("removed a UTF-8 byte order mark");
  }
  if (IsCleanXmlText(xml)) return;  // valid UTF-8, nothing to repair: nearly every report
  const std::string declared = DeclaredEncoding(xml);
  if (!declared.empty() && IsSingleByteEncoding(declared) && HasHighBytes(xml) &&
      !IsValidUtf8(xml)) {
    if (Transcode(xml, declared)) {
      errors.push_back(fmt::format("converted from declared encoding {} to UTF-8", declared));
    }
  }
  if (const std::size_t n = RepairUtf8(xml); n > 0) {
    errors.push_back(fmt::format("replaced {} invalid UTF-8 byte(s) with U+FFFD", n));
  }
  if (const std::size_t n = StripXmlForbiddenControls(xml); n > 0) {
    errors.push_back(fmt::format("removed {} control character(s) not allowed in XML", n));
  }
}

namespace internal {

TagMarks TagMarks16Portable(const char* p) {
  const Bytes16 x = Load16(p);
  return {Mask16(x == '<'), Mask16(x == '>')};
}

TagMarks TagMarks16(const char* p) {
#if defined(__SSE2__)
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return {static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('<')))),
          static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('>'))))};
#else
  return TagMarks16Portable(p);
#endif
}

}  // namespace internal

Result<bool> CheckStructure(std::string_view xml, const Limits& limits) {
  // Every '<' and '>' in order, sixteen bytes at a time. Outside a tag a '<' opens one:
  // "</x" closes an element, "<?" and "<!" are neither, anything else starts an element, whose
  // tag ends at the next '>' ("<x/>" is empty). Text inside attribute values and comments may
  // fool the count by a little, never by a depth that matters.
  const char* const p = xml.data();
  const std::size_t n = xml.size();
  int depth = 0;
  std::size_t tags = 0;
  bool in_tag = false;
  // The '<' (outside a tag) or '>' (inside one) at i; false once the document ends inside "<"
  // or a limit is passed (then `passed` says which).
  enum class Passed { kNone, kDepth, kElements } passed = Passed::kNone;
  auto at = [&](std::size_t i) {
    if (!in_tag) {
      if (i + 1 >= n) return false;
      const char c = p[i + 1];
      if (c == '/') {
        --depth;
      } else if (c != '?' && c != '!') {
        in_tag = true;
      }
      return true;
    }
    in_tag = false;
    if (p[i - 1] != '/' && ++depth > limits.max_xml_depth) {
      passed = Passed::kDepth;
      return false;
    }
    if (++tags > limits.max_xml_elements) {
      passed = Passed::kElements;
      return false;
    }
    return true;
  };
  std::size_t i = 0;
  bool more = true;
  for (; more && i + 16 <= n; i += 16) {
    auto [lt, gt] = internal::TagMarks16(p + i);
    // Outside a tag only its '<' matters, inside only its '>': each mark found clears the bits up
    // to it in both masks.
    for (;;) {
      const std::uint32_t wanted = in_tag ? gt : lt;
      if (!wanted) break;
      const int bit = __builtin_ctz(wanted);
      const std::uint32_t past = ~((2u << bit) - 1);
      lt &= past;
      gt &= past;
      if (!at(i + static_cast<std::size_t>(bit))) {
        more = false;
        break;
      }
    }
  }
  for (; more && i < n; ++i) {
    if (p[i] == (in_tag ? '>' : '<')) more = at(i);
  }
  switch (passed) {
    case Passed::kDepth:
      return MakeError(fmt::format("XML nested deeper than {} levels", limits.max_xml_depth));
    case Passed::kElements:
      return MakeError(fmt::format("XML has more than {} elements", limits.max_xml_elements));
    case Passed::kNone:
      break;
  }
  return true;
}

bool RepairMarkup(std::string& xml, std::vector<std::string>& errors) {
  bool changed = false;
  std::string_view view(xml);
  const std::size_t start = FindFeedbackStart(view);
  const std::size_t stop = FindFeedbackEnd(view);
  if (start != std::string_view::npos && stop != std::string_view::npos && stop > start &&
      (HasElementTag(view.substr(0, start)) || !Trim(view.substr(stop)).empty())) {
    // Keep an XML declaration only if it is the very start; it is not needed for UTF-8.
    xml = xml.substr(start, stop - start);
    errors.emplace_back("kept only the <feedback> element: content outside it was discarded");
    changed = true;
  } else if (start != std::string_view::npos && stop == std::string_view::npos) {
    errors.emplace_back("document has no </feedback> end tag");
  }
  const StrayMarkup stray = EscapeStrayMarkup(xml);
  NoteStrayMarkup(stray, errors);
  return changed || stray.lt > 0 || stray.amp > 0;
}

namespace {

// RepairMarkup's escaping: calls emit(text) for the text to keep and counts what it escapes.
template <class Emit>
StrayMarkup ScanStrayMarkup(std::string_view view, Emit&& emit) {
  StrayMarkup n;
  std::size_t kept = 0;  // start of the text not yet emitted
  for (std::size_t i = 0; i < view.size();) {
    const char c = view[i];
    if (c == '<') {
      const std::size_t len = MarkupLength(view, i);
      if (len == 0) {
        emit(view.substr(kept, i - kept), "&lt;");
        ++n.lt;
        kept = ++i;
      } else {
        i += len;
      }
      continue;
    }
    if (c == '&' && !IsEntityAt(view, i)) {
      emit(view.substr(kept, i - kept), "&amp;");
      ++n.amp;
      kept = ++i;
      continue;
    }
    ++i;
  }
  emit(view.substr(kept), "");
  return n;
}

}  // namespace

StrayMarkup EscapeStrayMarkup(std::string& xml) {
  std::string out;
  out.reserve(xml.size() + 64);
  const StrayMarkup n = ScanStrayMarkup(xml, [&](std::string_view text, const char* escape) {
    out.append(text);
    out += escape;
  });
  if (n.lt > 0 || n.amp > 0) xml.swap(out);
  return n;
}

StrayMarkup CountStrayMarkup(std::string_view xml) {
  return ScanStrayMarkup(xml, [](std::string_view, const char*) {});
}

void NoteStrayMarkup(const StrayMarkup& n, std::vector<std::string>& errors) {
  if (n.lt > 0) {
    errors.push_back(fmt::format("escaped {} '<' character(s) that did not start markup", n.lt));
  }
  if (n.amp > 0) {
    errors.push_back(
        fmt::format("escaped {} '&' character(s) that did not start an entity", n.amp));
  }
}

namespace {

// Bytes at the end of `s` that start a UTF-8 sequence the text does not complete.
std::size_t IncompleteTail(std::string_view s) {
  for (std::size_t k = 1; k <= 3 && k <= s.size(); ++k) {
    const auto c = static_cast<unsigned char>(s[s.size() - k]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    if (c < 0xC0) return 0;
    const std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    return need > k ? k : 0;
  }
  return 0;
}

}  // namespace

void EncodingNormaliser::Feed(std::string_view bytes, std::string& out) {
  if (mode_ == Mode::kStart) {
    held_.append(bytes);
    Decide(out, false);
    return;
  }
  Process(bytes, out, false);
}

void EncodingNormaliser::Finish(std::string& out) {
  if (mode_ == Mode::kStart) {
    Decide(out, true);
    if (mode_ == Mode::kStart) return;
  }
  Process({}, out, true);
}

// Reads the BOM and the declaration once enough of the start is there.
void EncodingNormaliser::Decide(std::string& out, bool at_end) {
  std::string_view start = held_;
  const bool bom = start.starts_with("\xEF\xBB\xBF");
  if (bom) start.remove_prefix(3);
  const bool decl_done = start.find("?>") != std::string_view::npos || start.size() > 600 ||
                         (start.size() >= 5 && !start.starts_with("<?xml"));
  if (!at_end && (held_.size() < 3 || !decl_done)) return;
  bom_ = bom;
  declared_ = DeclaredEncoding(start);
  mode_ = !declared_.empty() && IsSingleByteEncoding(declared_) ? Mode::kSingleByte : Mode::kUtf8;
  std::string text(start);
  held_.clear();
  Process(text, out, at_end);
}

void EncodingNormaliser::Process(std::string_view bytes, std::string& out, bool at_end) {
  std::string joined;
  if (!held_.empty()) {
    joined = held_ + std::string(bytes);
    held_.clear();
    bytes = joined;
  }
  if (mode_ == Mode::kSingleByte) {
    // Transcode when the first bytes over 0x7F are not UTF-8 (NormaliseEncoding asks that of
    // the whole document); until they come, the text is ASCII and may end in the start of a
    // UTF-8 sequence.
    const std::string_view complete =
        bytes.substr(0, bytes.size() - (at_end ? 0 : IncompleteTail(bytes)));
    if (HasHighBytes(complete)) mode_ = IsValidUtf8(complete) ? Mode::kUtf8 : Mode::kTranscode;
  }
  if (mode_ == Mode::kTranscode) {
    std::string text(bytes);
    if (Transcode(text, declared_)) {
      transcoded_ = true;
      AppendUtf8(text, out);
      return;
    }
  }
  const std::size_t tail = at_end ? 0 : IncompleteTail(bytes);
  AppendUtf8(bytes.substr(0, bytes.size() - tail), out);
  held_.assign(bytes.substr(bytes.size() - tail));
}

void EncodingNormaliser::AppendUtf8(std::string_view text, std::string& out) {
  if (IsCleanXmlText(text)) {
    out.append(text);
    return;
  }
  std::string t(text);
  replaced_ += RepairUtf8(t);
  controls_ += StripXmlForbiddenControls(t);
  out += t;
}

std::vector<std::string> EncodingNormaliser::Notes() const {
  std::vector<std::string> notes;
  if (bom_) notes.emplace_back("removed a UTF-8 byte order mark");
  if (transcoded_) {
    notes.push_back(fmt::format("converted from declared encoding {} to UTF-8", declared_));
  }
  if (replaced_ > 0) {
    notes.push_back(fmt::format("replaced {} invalid UTF-8 byte(s) with U+FFFD", replaced_));
  }
  if (controls_ > 0) {
    notes.push_back(fmt::format("removed {} control character(s) not allowed in XML", controls_));
  }
  return notes;
}

}  // namespace dmarc::parse
