// Turns the bytes of a report into well-formed UTF-8 XML that pugixml can read, recording every
// recovery. Real reporters send a byte order mark, windows-1252 text, invalid UTF-8, a stray
// wrapper element around <feedback>, or unescaped '<' and '&' inside text; none of these should
// cost the report. Nothing here expands entities or reads a DTD.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/result.h"

namespace dmarc::parse {

// Normalises encoding in place: strips a BOM, transcodes a declared single-byte encoding
// (windows-1252, ISO-8859-x, US-ASCII) to UTF-8, replaces invalid UTF-8 with U+FFFD.
// Each change adds a line to errors.
void NormaliseEncoding(std::string& xml, std::vector<std::string>& errors);

// Refuses a document nested deeper than limits.max_xml_depth or with more elements than
// limits.max_xml_elements, in one fast scan before any tree is built.
Result<bool> CheckStructure(std::string_view xml, const Limits& limits);

namespace internal {
// CheckStructure's scan: bits k set where byte k of the 16 at p is '<' (lt) or '>' (gt). SSE2
// where the compiler has it; the portable version (GCC's vector extension) elsewhere, and in
// the test that compares the two.
struct TagMarks {
  std::uint32_t lt, gt;
};
TagMarks TagMarks16(const char* p);
TagMarks TagMarks16Portable(const char* p);
}  // namespace internal

// Repairs text that is not well-formed: keeps only <feedback>...</feedback> when something
// wraps it, and escapes '<' and '&' that do not start markup or an entity. Adds a line to
// errors for each kind of repair made. Returns false when there was nothing to repair.
bool RepairMarkup(std::string& xml, std::vector<std::string>& errors);

// RepairMarkup's pieces, for the streamed parse (parse/aggregate_stream.cc), which repairs a
// document piece by piece.
//
// The length of the markup that starts at xml[i] == '<' when it is plausible markup, 0 when it
// is a '<' to escape, or kMarkupIncomplete when the text ends before that can be told and
// more may come (at_end false; with at_end true, such markup is a '<' to escape).
inline constexpr std::size_t kMarkupIncomplete = std::string_view::npos;
std::size_t MarkupSpan(std::string_view xml, std::size_t i, bool at_end);

// '<' and '&' characters that do not start markup or an entity.
struct StrayMarkup {
  std::size_t lt = 0;
  std::size_t amp = 0;
  StrayMarkup& operator+=(const StrayMarkup& o) {
    lt += o.lt;
    amp += o.amp;
    return *this;
  }
};
// Escapes them (the buffer changes only when there is something to escape).
StrayMarkup EscapeStrayMarkup(std::string& xml);
// Counts them without changing anything.
StrayMarkup CountStrayMarkup(std::string_view xml);
// RepairMarkup's notes for them.
void NoteStrayMarkup(const StrayMarkup& n, std::vector<std::string>& errors);

// NormaliseEncoding for a document that arrives in pieces: the BOM and the declaration are read
// from the start, an incomplete UTF-8 sequence at the end of a piece waits for the next.
// Same answers as NormaliseEncoding on the whole, except that the choice to transcode a declared
// single-byte encoding is made on the first piece holding a byte over 0x7F (the whole document
// is not there to be checked): invalid UTF-8 there means the declaration is believed.
class EncodingNormaliser {
 public:
  // Appends the normalised text of the next bytes to out.
  void Feed(std::string_view bytes, std::string& out);
  // The end of the document: what was held back goes out.
  void Finish(std::string& out);
  // NormaliseEncoding's notes for everything fed so far (the counts are totals).
  std::vector<std::string> Notes() const;

 private:
  enum class Mode { kStart, kUtf8, kSingleByte, kTranscode };
  void Decide(std::string& out, bool at_end);
  void Process(std::string_view bytes, std::string& out, bool at_end);
  void AppendUtf8(std::string_view text, std::string& out);

  Mode mode_ = Mode::kStart;
  std::string held_;  // the undecided start, or an incomplete UTF-8 sequence
  std::string declared_;
  bool bom_ = false;
  bool transcoded_ = false;
  std::size_t replaced_ = 0;
  std::size_t controls_ = 0;
};

}  // namespace dmarc::parse
