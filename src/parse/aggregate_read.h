// Shared by the whole-document parse (aggregate.cc) and the streamed one (aggregate_stream.cc):
// ONE set of element readers over pugixml nodes, the day split of records, and the helpers both
// paths need. Internal to the parse module.
//
// Thread-safety: reentrant.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/result.h"
#include "base/text.h"
#include "model/aggregate.h"

namespace dmarc::parse::internal {

using model::OptString;

// pugixml options of every parse: escapes and CDATA only; no DOCTYPE, and no end-of-line or
// attribute whitespace normalisation (every value is trimmed, and attributes are not read).
inline constexpr unsigned kParseOptions = pugi::parse_cdata | pugi::parse_escapes;

// Element name without a namespace prefix.
std::string_view LocalName(const pugi::xml_node& n);

// Whether `name` is the literal `word`: with its length known here the comparison is inlined,
// where string_view's == calls memcmp.
template <std::size_t N>
bool IsWord(std::string_view name, const char (&word)[N]) {
  return name.size() == N - 1 && std::memcmp(name.data(), word, N - 1) == 0;
}

// The first child element whose local name is `local`.
pugi::xml_node Child(const pugi::xml_node& parent, const char* local);

class Reader {
 public:
  Reader(const Limits& limits, std::vector<std::string>& errors)
      : limits_(limits), errors_(errors) {}

  // Trimmed text of an element (all its text and CDATA children), bounded in length.
  std::string Text(const pugi::xml_node& n, std::string_view what) {
    if (!n) return {};
    pugi::xml_node first = n.first_child();
    if (!first) return {};
    std::string joined;
    std::string_view t;
    if (!first.next_sibling() && first.type() == pugi::node_pcdata) {
      t = first.value();  // the usual case: one text node, no copy before trimming
    } else {
      for (pugi::xml_node c = first; c; c = c.next_sibling()) {
        if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) joined += c.value();
      }
      t = joined;
    }
    t = Trim(t);
    if (t.size() > limits_.max_field_bytes) {
      errors_.push_back(fmt::format("{} truncated to {} bytes", what, limits_.max_field_bytes));
      t = t.substr(0, limits_.max_field_bytes);
      // Do not cut a UTF-8 sequence in half.
      while (!t.empty() && (static_cast<unsigned char>(t.back()) & 0xC0) == 0x80) {
        t.remove_suffix(1);
      }
      if (!t.empty() && static_cast<unsigned char>(t.back()) >= 0xC0) t.remove_suffix(1);
    }
    return std::string(t);
  }

  std::string Text(const pugi::xml_node& parent, const char* child, std::string_view what) {
    return Text(Child(parent, child), what);
  }

  // Text of an element that may be absent: nullopt when absent or empty.
  OptString OptionalOf(const pugi::xml_node& n, std::string_view what) {
    if (!n) return std::nullopt;
    std::string v = Text(n, what);
    if (v.empty()) return std::nullopt;
    return v;
  }

  // A result word of an element: lower-cased, trimmed; known synonyms mapped.
  std::string WordOf(const pugi::xml_node& n, std::string_view what) {
    std::string v = ToLowerAscii(Text(n, what));
    if (IsWord(v, "hardfail")) {
      errors_.push_back(fmt::format("{} \"hardfail\" read as \"fail\"", what));
      v = "fail";
    }
    return v;
  }

  OptString Optional(const pugi::xml_node& parent, const char* child, std::string_view what) {
    pugi::xml_node n = Child(parent, child);
    if (!n) return std::nullopt;
    std::string v = Text(n, what);
    if (v.empty()) return std::nullopt;
    return v;
  }

  // A result word: lower-cased, whitespace removed; known synonyms mapped.
  std::string Word(const pugi::xml_node& parent, const char* child, std::string_view what) {
    std::string v = ToLowerAscii(Text(parent, child, what));
    if (IsWord(v, "hardfail")) {
      errors_.push_back(fmt::format("{} \"hardfail\" read as \"fail\"", what));
      v = "fail";
    }
    return v;
  }

  void Note(std::string message) { errors_.push_back(std::move(message)); }

 private:
  const Limits& limits_;
  std::vector<std::string>& errors_;
};

// <version>, <report_metadata> and <policy_published> of <feedback>: the report without records.
Status ReadHeader(const pugi::xml_node& feedback, model::AggregateReport& report, Reader& rd);

// One <record> into r (a new, default Record: read in its place, not moved there); `index`
// counts from 1 in document order (for the messages). On an error r is half read: drop it.
Status ReadRecord(const pugi::xml_node& rec, std::size_t index, const Limits& limits, Reader& rd,
                  model::Record& r);

// The first namespace declared on <feedback> or (with_wrappers) an element around it.
OptString FirstNamespace(const pugi::xml_node& feedback, bool with_wrappers = true);

// The <feedback> element: the root, or the one child of a well-formed wrapper element (noted).
Result<pugi::xml_node> FindFeedback(const pugi::xml_document& doc,
                                    std::vector<std::string>& errors);

// Notes a DTD in the prolog (entities are never expanded).
void NoteDoctype(std::string_view xml, std::vector<std::string>& errors);

// pugixml's text of a parse status.
const char* ParseStatusText(pugi::xml_parse_status s);

// Splits records per UTC day for one report (NormaliseTimespan, one record at a time): built
// from the report's metadata, whose timespan fields it sets.
class DaySplitter {
 public:
  DaySplitter(model::ReportMetadata& m, double threshold_hours);
  // Appends the record, or its per-day parts, to out; sets their interval.
  void Split(model::Record&& r, std::vector<model::Record>& out);
  // False when the report's timespan is kept whole: then Split appends each record as it is,
  // with the report's interval, and Stamp does the same in place.
  bool Splits() const { return split_; }
  // Gives the record the report's whole interval, unsplit.
  void Stamp(model::Record& r) const;

 private:
  struct Bucket {
    std::int64_t begin, end;
  };
  std::int64_t begin_, end_;
  bool split_;
  std::vector<Bucket> buckets_;
  std::vector<std::uint64_t> shares_;
  std::vector<std::pair<double, std::size_t>> remainders_;
};

}  // namespace dmarc::parse::internal
