// The streamed aggregate parse (docs/decisions/0007-streaming-aggregate-parse.md).
//
// Bytes are normalised (EncodingNormaliser) into a buffer that a small tag scanner walks. The
// document is carved in two: each <record> child of <feedback> (a "record chunk"), and the
// "frame", everything else (prolog, <feedback> start tag, <version>, <report_metadata>,
// <policy_published>, other elements, the end tags). The frame is parsed with pugixml once the
// first record comes (metadata and policy are known by then; closed with the end tags of the
// open elements) and read by the same readers as ParseAggregateXml (parse/aggregate_read.h).
// Records are parsed by pugixml a group at a time (consecutive records, a few hundred KiB, as a
// fragment), or alone when the group is not well-formed, so a repair is made and counted for
// the record that needs it. What ParseAggregateXml notes for the document as a whole (that it
// was not well-formed, where first, what was escaped, the wrapper) is worked out at the end from
// what each piece showed, so the errors of OnEnd are those of ParseAggregateXml.
#include "parse/aggregate_stream.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <pugixml.hpp>

#include "base/text.h"
#include "parse/aggregate_read.h"
#include "parse/xml_prepare.h"

namespace dmarc::parse {

namespace {

using internal::Reader;

// Records parsed by pugixml in one go (bytes of consecutive record chunks).
constexpr std::size_t kGroupBytes = 256 * 1024;
// Bytes of the buffer already scanned that are kept before it is compacted.
constexpr std::size_t kCompactBytes = 64 * 1024;

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return IsSpace(c); });
}

// The name of the element tag at the start of `tag` ("<name ...", "</name>").
std::string_view TagName(std::string_view tag) {
  const std::size_t from = tag.size() > 1 && tag[1] == '/' ? 2 : 1;
  const std::size_t to = tag.find_first_of(" \t\r\n/>", from);
  return tag.substr(from, (to == std::string_view::npos ? tag.size() : to) - from);
}

std::string_view LocalOf(std::string_view name) {
  const std::size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// True when pugixml's parse may differ from RepairMarkup's view: a '&' or a CDATA section.
bool MayHoldStrayMarkup(std::string_view s) {
  return s.find('&') != std::string_view::npos || s.find("<![") != std::string_view::npos;
}

enum class TagKind { kStart, kEmpty, kEnd, kOther };

TagKind KindOf(std::string_view tag) {
  if (tag[1] == '?' || tag[1] == '!') return TagKind::kOther;
  if (tag[1] == '/') return TagKind::kEnd;
  return tag[tag.size() - 2] == '/' ? TagKind::kEmpty : TagKind::kStart;
}

struct RecordSpan {
  std::size_t begin, end, index;  // offsets in the buffer; index counts from 1
};

// Where a piece of the frame comes from in the (normalised) document.
struct Segment {
  std::size_t frame_offset, doc_offset;
};

}  // namespace

struct AggregateStreamParser::Impl {
  Impl(const AggregateStreamOptions& o, AggregateSink& s)
      : opts(o), limits(opts.aggregate.limits), sink(s), rd(limits, record_notes) {}

  Status Feed(std::string_view bytes);
  Status Finish();

  // Scanning.
  Status Scan(bool at_end);
  Status OnText(std::size_t from, std::size_t to);
  Status OnTag(std::size_t at, std::size_t len);
  Status OnRecordTag(std::size_t at, std::size_t len, TagKind kind);
  Status OnFrameStart(std::size_t at, std::size_t len, TagKind kind);
  void OnFrameEnd(std::size_t at, std::size_t len);
  Status StartRecord(std::size_t at, std::size_t len, TagKind kind);
  Status EndRecord(std::size_t end);
  Status AppendFrame(std::size_t at, std::size_t len);
  void Compact();
  // Parsing.
  Status FlushGroup();
  Status ParseAlone(const RecordSpan& span);
  Status ReadOne(const pugi::xml_node& rec, std::size_t index);
  Status Emit(model::Record&& r);
  Status SendBatch();
  Status ParseHeader();
  Status CheckFrame();
  void NoteFailure(std::size_t doc_offset, const pugi::xml_parse_result& pr);
  Error NotWellFormed(const pugi::xml_parse_result& after_repair) const;
  std::size_t DocOffsetOfFrame(std::size_t frame_offset) const;
  std::vector<std::string> Errors(bool complete) const;

  const AggregateStreamOptions opts;
  const Limits& limits;
  AggregateSink& sink;
  bool finished = false;
  Status failed = Ok();  // once an error is returned, it is the answer to every later call
  std::size_t fed = 0;
  EncodingNormaliser encoding;

  // The normalised text not yet consumed; buf[0] is at doc offset buf_doc.
  std::string buf;
  std::size_t buf_doc = 0;
  std::size_t pos = 0;  // next byte to scan
  bool any_content = false;

  // Elements open outside records; <feedback> is outer[feedback_depth - 1].
  std::vector<std::string> outer;
  std::size_t feedback_depth = 0;
  bool feedback_closed = false;
  bool element_before_feedback = false;  // a wrapper (RepairMarkup keeps only <feedback>)
  bool trailing = false;                 // something after </feedback>
  bool has_metadata = false, has_policy = false;

  // The record being scanned.
  bool in_record = false, record_too_big = false;
  std::size_t record_start = 0;
  int record_depth = 0;
  std::size_t record_elements = 0;
  std::size_t record_index = 0;

  // Complete records waiting to be parsed together.
  std::vector<RecordSpan> group;
  bool gap_blank = true;  // only blanks since the last record of the group

  std::string frame;
  std::vector<Segment> segments;
  std::size_t frame_elements = 0;

  bool header_done = false;
  model::AggregateReport header;
  std::optional<internal::DaySplitter> splitter;
  std::vector<std::string> doctype_notes, wrapped_notes, header_notes, record_notes;
  Reader rd;  // notes into record_notes
  std::size_t valid_records = 0;
  std::vector<model::Record> held, split, batch;

  std::optional<std::pair<std::size_t, std::string>> first_failure;  // doc offset, text
  StrayMarkup stray;
  pugi::xml_document doc;
  std::string work;
};

Status AggregateStreamParser::Impl::Feed(std::string_view bytes) {
  fed += bytes.size();
  if (fed > limits.max_decompressed_bytes) {
    return MakeError(
        fmt::format("report exceeds the limit of {} bytes", limits.max_decompressed_bytes));
  }
  encoding.Feed(bytes, buf);
  DMARC_TRY(Scan(false));
  Compact();
  return Ok();
}

Status AggregateStreamParser::Impl::Scan(bool at_end) {
  while (pos < buf.size()) {
    const auto* lt = static_cast<const char*>(std::memchr(buf.data() + pos, '<', buf.size() - pos));
    const std::size_t at = lt ? static_cast<std::size_t>(lt - buf.data()) : buf.size();
    if (at > pos) DMARC_TRY(OnText(pos, at));
    pos = at;
    if (!lt) break;
    std::size_t len = MarkupSpan(buf, at, at_end);
    if (len == kMarkupIncomplete) break;
    if (len > 0 && buf.compare(at, 9, "<![CDATA[") == 0) {
      const std::size_t close = buf.find("]]>", at + 9);
      if (close == std::string::npos && !at_end) break;
      len = (close == std::string::npos ? buf.size() : close + 3) - at;
    }
    if (len == 0) {
      DMARC_TRY(OnText(at, at + 1));  // a '<' that starts no markup
      pos = at + 1;
    } else {
      DMARC_TRY(OnTag(at, len));
      pos = at + len;
    }
    if (in_record && !record_too_big && pos - record_start > limits.max_record_bytes) {
      record_too_big = true;
    }
  }
  if (!at_end && buf.size() - pos > limits.max_record_bytes) {
    return MakeError(fmt::format("XML tag longer than {} bytes", limits.max_record_bytes));
  }
  return Ok();
}

Status AggregateStreamParser::Impl::OnText(std::size_t from, std::size_t to) {
  if (in_record) {
    if (!record_too_big && to - record_start > limits.max_record_bytes) record_too_big = true;
    return Ok();
  }
  const std::string_view text(buf.data() + from, to - from);
  if (IsBlank(text)) {
    // Blanks between the children of <feedback> are not kept.
    if (feedback_depth > 0 && !feedback_closed && outer.size() == feedback_depth) return Ok();
  } else {
    any_content = true;
    gap_blank = false;
    if (feedback_closed) trailing = true;
  }
  return AppendFrame(from, to - from);
}

Status AggregateStreamParser::Impl::OnTag(std::size_t at, std::size_t len) {
  const std::string_view tag(buf.data() + at, len);
  const TagKind kind = KindOf(tag);
  if (in_record) return OnRecordTag(at, len, kind);
  any_content = true;
  if (feedback_closed) trailing = true;
  const bool child_level = feedback_depth > 0 && !feedback_closed && outer.size() == feedback_depth;
  if (kind == TagKind::kOther) {
    // Comments and processing instructions between records do not matter to any reader.
    return child_level ? Ok() : AppendFrame(at, len);
  }
  if (kind == TagKind::kEnd) {
    gap_blank = false;
    DMARC_TRY(AppendFrame(at, len));
    OnFrameEnd(at, len);
    return Ok();
  }
  if (child_level && internal::IsWord(LocalOf(TagName(tag)), "record")) {
    return StartRecord(at, len, kind);
  }
  return OnFrameStart(at, len, kind);
}

Status AggregateStreamParser::Impl::OnFrameStart(std::size_t at, std::size_t len, TagKind kind) {
  const std::string_view name = TagName(std::string_view(buf.data() + at, len));
  gap_blank = false;
  if (++frame_elements > limits.max_xml_elements) {
    return MakeError(fmt::format("XML has more than {} elements", limits.max_xml_elements));
  }
  if (feedback_depth == 0) {
    if (internal::IsWord(LocalOf(name), "feedback")) {
      feedback_depth = outer.size() + 1;
      feedback_closed = kind == TagKind::kEmpty;
    } else {
      element_before_feedback = true;
    }
  }
  if (kind == TagKind::kStart) {
    outer.emplace_back(name);
    if (outer.size() > static_cast<std::size_t>(limits.max_xml_depth)) {
      return MakeError(fmt::format("XML nested deeper than {} levels", limits.max_xml_depth));
    }
  }
  return AppendFrame(at, len);
}

void AggregateStreamParser::Impl::OnFrameEnd(std::size_t /*at*/, std::size_t /*len*/) {
  if (outer.empty()) return;  // a stray end tag: pugixml says so when the frame is checked
  if (feedback_depth > 0 && !feedback_closed && outer.size() == feedback_depth + 1) {
    const std::string_view local = LocalOf(outer.back());
    has_metadata = has_metadata || internal::IsWord(local, "report_metadata");
    has_policy = has_policy || internal::IsWord(local, "policy_published");
  }
  outer.pop_back();
  if (feedback_depth > 0 && !feedback_closed && outer.size() < feedback_depth) {
    feedback_closed = true;
  }
}

Status AggregateStreamParser::Impl::StartRecord(std::size_t at, std::size_t len, TagKind kind) {
  if (++record_index > limits.max_records) {
    return MakeError(fmt::format("report has more than {} records", limits.max_records));
  }
  // Inside a wrapper, the header waits for the end: whether the document is well-formed (the
  // wrapper closed) decides its namespace and notes, as in ParseAggregateXml.
  if (!header_done && has_metadata && has_policy && !element_before_feedback) {
    DMARC_TRY(ParseHeader());
  }
  if (outer.size() + 1 > static_cast<std::size_t>(limits.max_xml_depth)) {
    return MakeError(fmt::format("XML nested deeper than {} levels", limits.max_xml_depth));
  }
  in_record = true;
  record_too_big = false;
  record_start = at;
  record_depth = kind == TagKind::kEmpty ? 0 : 1;
  record_elements = 1;
  if (kind == TagKind::kEmpty) return EndRecord(at + len);
  return Ok();
}

Status AggregateStreamParser::Impl::OnRecordTag(std::size_t at, std::size_t len, TagKind kind) {
  if (kind == TagKind::kStart || kind == TagKind::kEmpty) {
    if (++record_elements > limits.max_xml_elements) {
      return MakeError(fmt::format("XML has more than {} elements in record {}",
                                   limits.max_xml_elements, record_index));
    }
  }
  if (kind == TagKind::kStart && outer.size() + static_cast<std::size_t>(++record_depth) >
                                     static_cast<std::size_t>(limits.max_xml_depth)) {
    return MakeError(fmt::format("XML nested deeper than {} levels", limits.max_xml_depth));
  }
  if (kind == TagKind::kEnd && --record_depth == 0) return EndRecord(at + len);
  return Ok();
}

Status AggregateStreamParser::Impl::EndRecord(std::size_t end) {
  in_record = false;
  if (record_too_big) {
    DMARC_TRY(FlushGroup());
    record_notes.push_back(fmt::format("record {}: larger than {} bytes: record skipped",
                                       record_index, limits.max_record_bytes));
    gap_blank = false;
    return Ok();
  }
  if (group.empty() || !gap_blank || end - group.front().begin > kGroupBytes) {
    DMARC_TRY(FlushGroup());
  }
  group.push_back({record_start, end, record_index});
  gap_blank = true;
  return Ok();
}

Status AggregateStreamParser::Impl::AppendFrame(std::size_t at, std::size_t len) {
  const std::size_t doc_offset = buf_doc + at;
  if (segments.empty() ||
      segments.back().doc_offset + (frame.size() - segments.back().frame_offset) != doc_offset) {
    segments.push_back({frame.size(), doc_offset});
  }
  frame.append(buf, at, len);
  if (frame.size() > limits.max_record_bytes) {
    return MakeError(
        fmt::format("report has more than {} bytes outside its records", limits.max_record_bytes));
  }
  return Ok();
}

void AggregateStreamParser::Impl::Compact() {
  std::size_t keep = pos;
  if (in_record && !record_too_big) keep = std::min(keep, record_start);
  if (!group.empty()) keep = std::min(keep, group.front().begin);
  if (keep < kCompactBytes || keep * 2 < buf.size()) return;
  buf.erase(0, keep);
  buf_doc += keep;
  pos -= keep;
  record_start -= std::min(record_start, keep);
  for (auto& g : group) {
    g.begin -= keep;
    g.end -= keep;
  }
}

void AggregateStreamParser::Impl::NoteFailure(std::size_t doc_offset,
                                              const pugi::xml_parse_result& pr) {
  if (first_failure && first_failure->first <= doc_offset) return;
  first_failure.emplace(doc_offset, fmt::format("{} at offset {}", pr.description(), doc_offset));
}

Error AggregateStreamParser::Impl::NotWellFormed(const pugi::xml_parse_result& after) const {
  return MakeError(fmt::format("not well-formed XML: {} (after repair: {})",
                               first_failure ? first_failure->second : std::string("?"),
                               after.description()));
}

// A group of consecutive records as one pugixml fragment; each record alone when that fails.
Status AggregateStreamParser::Impl::FlushGroup() {
  if (group.empty()) return Ok();
  const std::size_t begin = group.front().begin;
  const std::string_view region(buf.data() + begin, group.back().end - begin);
  work.assign(region);
  const auto pr =
      doc.load_buffer_inplace(work.data(), work.size(),
                              internal::kParseOptions | pugi::parse_fragment, pugi::encoding_utf8);
  std::size_t elements = 0;
  for (pugi::xml_node n = doc.first_child(); pr && n; n = n.next_sibling()) {
    elements += n.type() == pugi::node_element ? 1 : 0;
  }
  if (pr && elements == group.size()) {
    if (MayHoldStrayMarkup(region)) stray += CountStrayMarkup(region);
    std::size_t k = 0;
    for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling()) {
      if (n.type() == pugi::node_element) DMARC_TRY(ReadOne(n, group[k++].index));
    }
  } else {
    for (const RecordSpan& span : group) DMARC_TRY(ParseAlone(span));
  }
  group.clear();
  return Ok();
}

Status AggregateStreamParser::Impl::ParseAlone(const RecordSpan& span) {
  const std::string_view chunk(buf.data() + span.begin, span.end - span.begin);
  work.assign(chunk);
  auto pr = doc.load_buffer_inplace(work.data(), work.size(), internal::kParseOptions,
                                    pugi::encoding_utf8);
  if (pr) {
    if (MayHoldStrayMarkup(chunk)) stray += CountStrayMarkup(chunk);
  } else {
    NoteFailure(buf_doc + span.begin + static_cast<std::size_t>(pr.offset), pr);
    work.assign(chunk);
    stray += EscapeStrayMarkup(work);
    pr = doc.load_buffer_inplace(work.data(), work.size(), internal::kParseOptions,
                                 pugi::encoding_utf8);
    if (!pr) return NotWellFormed(pr);
  }
  return ReadOne(doc.document_element(), span.index);
}

Status AggregateStreamParser::Impl::ReadOne(const pugi::xml_node& rec, std::size_t index) {
  model::Record r;
  if (auto read = internal::ReadRecord(rec, index, limits, rd, r); !read) {
    // One bad row should not cost the others.
    record_notes.push_back(read.error() + ": record skipped");
    return Ok();
  }
  ++valid_records;
  if (!header_done) {
    held.push_back(std::move(r));
    return Ok();
  }
  return Emit(std::move(r));
}

Status AggregateStreamParser::Impl::Emit(model::Record&& r) {
  splitter->Split(std::move(r), split);
  for (model::Record& part : split) {
    batch.push_back(std::move(part));
    if (batch.size() >= opts.batch_records) DMARC_TRY(SendBatch());
  }
  split.clear();
  return Ok();
}

Status AggregateStreamParser::Impl::SendBatch() {
  if (batch.empty()) return Ok();
  Status s = sink.OnRecords(batch);
  batch.clear();
  return s;
}

std::size_t AggregateStreamParser::Impl::DocOffsetOfFrame(std::size_t frame_offset) const {
  auto it =
      std::upper_bound(segments.begin(), segments.end(), frame_offset,
                       [](std::size_t off, const Segment& s) { return off < s.frame_offset; });
  if (it == segments.begin()) return frame_offset;
  --it;
  return it->doc_offset + (frame_offset - it->frame_offset);
}

// The frame so far, closed with the end tags of the elements open, read for the header.
Status AggregateStreamParser::Impl::ParseHeader() {
  std::string closed = frame;
  for (auto it = outer.rbegin(); it != outer.rend(); ++it) closed += "</" + *it + ">";
  work = closed;
  auto pr = doc.load_buffer_inplace(work.data(), work.size(), internal::kParseOptions,
                                    pugi::encoding_utf8);
  if (!pr) {
    const auto at = static_cast<std::size_t>(pr.offset);
    if (at < frame.size()) NoteFailure(DocOffsetOfFrame(at), pr);
    work = closed;
    EscapeStrayMarkup(work);  // counted over the whole frame at the end
    pr = doc.load_buffer_inplace(work.data(), work.size(), internal::kParseOptions,
                                 pugi::encoding_utf8);
    if (!pr) return NotWellFormed(pr);
  }
  internal::NoteDoctype(frame, doctype_notes);
  pugi::xml_node feedback;
  DMARC_TRY_ASSIGN(feedback, internal::FindFeedback(doc, wrapped_notes));
  // A document that is repaired loses its wrapper (RepairMarkup), and with it the wrapper's
  // namespace; only known at the end, when a wrapper makes the header wait.
  header.xml_namespace = internal::FirstNamespace(feedback, !first_failure.has_value());
  Reader header_reader(limits, header_notes);
  DMARC_TRY(internal::ReadHeader(feedback, header, header_reader));
  splitter.emplace(header.report_metadata, opts.aggregate.timespan_threshold_hours);
  header_done = true;
  model::AggregateReport copy = header;
  copy.report_metadata.errors = Errors(false);
  DMARC_TRY(sink.OnHeader(copy));
  for (model::Record& r : held) DMARC_TRY(Emit(std::move(r)));
  held.clear();
  held.shrink_to_fit();
  return Ok();
}

// The whole frame as it is: where pugixml (on the whole document) would have found it
// not well-formed, and what RepairMarkup would have escaped in it.
Status AggregateStreamParser::Impl::CheckFrame() {
  work = frame;
  const auto pr = doc.load_buffer_inplace(work.data(), work.size(), internal::kParseOptions,
                                          pugi::encoding_utf8);
  if (!pr && pr.status != pugi::status_no_document_element) {
    NoteFailure(DocOffsetOfFrame(static_cast<std::size_t>(pr.offset)), pr);
  }
  stray += CountStrayMarkup(frame);
  doc.reset();
  return Ok();
}

// report_metadata.errors in ParseAggregateXml's order: the reporter's, the encoding's, the
// DOCTYPE, the repair of the document (or the wrapper), the header's, the records'.
std::vector<std::string> AggregateStreamParser::Impl::Errors(bool complete) const {
  std::vector<std::string> out = header.report_metadata.errors;  // "reporter: ..."
  auto add = [&out](const std::vector<std::string>& v) {
    out.insert(out.end(), v.begin(), v.end());
  };
  add(encoding.Notes());
  add(doctype_notes);
  if (complete && first_failure) {
    out.push_back("XML was not well-formed (" + first_failure->second + "); repaired");
    if (element_before_feedback || trailing) {
      out.emplace_back("kept only the <feedback> element: content outside it was discarded");
    }
    NoteStrayMarkup(stray, out);
  } else {
    add(wrapped_notes);
  }
  add(header_notes);
  add(record_notes);
  return out;
}

Status AggregateStreamParser::Impl::Finish() {
  encoding.Finish(buf);
  DMARC_TRY(Scan(true));
  if (!any_content) return MakeError("empty document");
  if (in_record) {
    return MakeError(
        fmt::format("not well-formed XML: the document ends inside record {} (offset {})",
                    record_index, buf_doc + buf.size()));
  }
  DMARC_TRY(FlushGroup());
  DMARC_TRY(CheckFrame());
  if (!feedback_closed && feedback_depth > 0) {
    return MakeError(fmt::format("not well-formed XML: {} (after repair: no </feedback> end tag)",
                                 first_failure ? first_failure->second : std::string("?")));
  }
  if (!header_done) DMARC_TRY(ParseHeader());
  if (valid_records == 0 && record_index > 0) {
    return MakeError("no valid record in report: " + record_notes.back());
  }
  DMARC_TRY(SendBatch());
  return sink.OnEnd(Errors(true));
}

AggregateStreamParser::AggregateStreamParser(const AggregateStreamOptions& options,
                                             AggregateSink& sink)
    : impl_(std::make_unique<Impl>(options, sink)) {}
AggregateStreamParser::~AggregateStreamParser() = default;

Status AggregateStreamParser::Feed(std::string_view bytes) {
  if (impl_->failed.ok()) impl_->failed = impl_->Feed(bytes);
  return impl_->failed;
}

Status AggregateStreamParser::Finish() {
  if (impl_->finished) return MakeError("the stream was already finished");
  impl_->finished = true;
  if (impl_->failed.ok()) impl_->failed = impl_->Finish();
  return impl_->failed;
}

namespace {

// Collects a streamed report into one model, as ParseAggregateXml returns it.
class CollectSink : public AggregateSink {
 public:
  Status OnHeader(const model::AggregateReport& header) override {
    report = header;
    ++headers;
    return Ok();
  }
  Status OnRecords(std::vector<model::Record>& records) override {
    std::move(records.begin(), records.end(), std::back_inserter(report.records));
    return Ok();
  }
  Status OnEnd(const std::vector<std::string>& errors) override {
    report.report_metadata.errors = errors;
    return Ok();
  }
  model::AggregateReport report;
  int headers = 0;
};

}  // namespace

Result<model::AggregateReport> ParseAggregateXmlStreamed(std::string_view xml,
                                                         const AggregateStreamOptions& options,
                                                         std::size_t chunk_bytes) {
  CollectSink sink;
  AggregateStreamParser parser(options, sink);
  const std::size_t step = std::max<std::size_t>(chunk_bytes, 1);
  for (std::size_t at = 0; at < xml.size(); at += step) {
    DMARC_TRY(parser.Feed(xml.substr(at, step)));
  }
  DMARC_TRY(parser.Finish());
  return Result<model::AggregateReport>(std::move(sink.report));
}

}  // namespace dmarc::parse
