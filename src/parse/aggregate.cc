#include "parse/aggregate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <pugixml.hpp>

#include "base/text.h"
#include "base/time.h"
#include "parse/aggregate_read.h"
#include "parse/xml_prepare.h"
#include "psl/psl.h"

namespace dmarc::parse {

namespace {

using internal::FindFeedback;
using internal::kParseOptions;
using internal::ParseStatusText;
using internal::Reader;
using model::AggregateReport;

Status LoadDocument(std::string_view input, std::string& xml, pugi::xml_document& doc,
                    std::vector<std::string>& errors) {
  // pugixml parses in place (the buffer must outlive doc) and changes the buffer as it goes, so
  // the rare document that needs repair is prepared again from the input.
  pugi::xml_parse_result pr =
      doc.load_buffer_inplace(xml.data(), xml.size(), kParseOptions, pugi::encoding_utf8);
  if (pr) return Ok();
  const std::string first_error = fmt::format("{} at offset {}", pr.description(), pr.offset);
  doc.reset();
  xml.assign(input);
  std::vector<std::string> ignored;  // the encoding notes were recorded the first time
  NormaliseEncoding(xml, ignored);
  std::vector<std::string> repairs;
  if (!RepairMarkup(xml, repairs)) return MakeError("not well-formed XML: " + first_error);
  pugi::xml_parse_result pr2 =
      doc.load_buffer_inplace(xml.data(), xml.size(), kParseOptions, pugi::encoding_utf8);
  if (!pr2) {
    return MakeError(fmt::format("not well-formed XML: {} (after repair: {} at offset {})",
                                 first_error, ParseStatusText(pr2.status), pr2.offset));
  }
  errors.push_back("XML was not well-formed (" + first_error + "); repaired");
  errors.insert(errors.end(), repairs.begin(), repairs.end());
  return Ok();
}

// The <feedback> element: the root, or the one child of a well-formed wrapper element, of a
// document of xml_bytes.
Status ReadRecords(const pugi::xml_node& feedback, std::size_t xml_bytes, const Limits& limits,
                   Reader& rd, AggregateReport& report, std::vector<std::string>& errors) {
  auto is_record = [](const pugi::xml_node& n) {
    return n.type() == pugi::node_element && internal::LocalName(n) == "record";
  };
  // Counted first (up to one past the limit), so that each record is read into its final place.
  std::size_t count = 0;
  for (pugi::xml_node rec = feedback.first_child(); rec && count <= limits.max_records;
       rec = rec.next_sibling()) {
    if (is_record(rec)) ++count;
  }
  if (count > limits.max_records) {
    return MakeError(fmt::format("report has more than {} records", limits.max_records));
  }
  // Not more than a record per 100 bytes of XML (a real one takes 300 or more): a hostile
  // document of empty <record/> elements gets no more memory than its records would take.
  constexpr std::size_t kMinRecordBytes = 100;
  report.records.reserve(std::min(count, xml_bytes / kMinRecordBytes));
  std::size_t index = 0;
  for (pugi::xml_node rec = feedback.first_child(); rec; rec = rec.next_sibling()) {
    if (!is_record(rec)) continue;
    ++index;
    model::Record& r = report.records.emplace_back();
    // Its interval is the report's, or a day of it: set by NormaliseTimespan, after every record.
    if (auto read = internal::ReadRecord(rec, index, limits, rd, r); !read) {
      // One bad row should not cost the others.
      errors.push_back(read.error() + ": record skipped");
      report.records.pop_back();
    }
  }
  if (report.records.empty() && index > 0) {
    return MakeError("no valid record in report: " + errors.back());
  }
  return Ok();
}

}  // namespace

bool LooksLikeAggregateXml(std::string_view xml) {
  // A <feedback> (or <prefix:feedback>) start tag, not the word: an HTML mail body saying "For any
  // feedback, write to ..." is not a report.
  const std::string_view head = xml.substr(0, 64 * 1024);
  const auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
  };
  for (std::size_t lt = head.find('<'); lt != std::string_view::npos; lt = head.find('<', lt + 1)) {
    std::size_t end = lt + 1;
    while (end < head.size() && (name_char(head[end]) || head[end] == ':')) ++end;
    std::string_view name = head.substr(lt + 1, end - lt - 1);
    if (const std::size_t colon = name.rfind(':'); colon != std::string_view::npos) {
      name.remove_prefix(colon + 1);
    }
    if (name == "feedback" &&
        (end == head.size() || head[end] == '>' || head[end] == '/' || IsSpace(head[end]))) {
      return true;
    }
  }
  return false;
}

Result<model::AggregateReport> ParseAggregateXml(std::string_view input,
                                                 const AggregateOptions& opts) {
  const Limits& limits = opts.limits;
  AggregateReport report;
  std::vector<std::string> errors;
  if (input.size() > limits.max_decompressed_bytes) {
    return MakeError(
        fmt::format("report exceeds the limit of {} bytes", limits.max_decompressed_bytes));
  }
  std::string xml(input);
  NormaliseEncoding(xml, errors);
  if (Trim(xml).empty()) return MakeError("empty document");
  if (auto s = CheckStructure(xml, limits); !s) return MakeError(s.error());
  internal::NoteDoctype(xml, errors);
  pugi::xml_document doc;
  DMARC_TRY(LoadDocument(input, xml, doc, errors));
  pugi::xml_node feedback;
  DMARC_TRY_ASSIGN(feedback, FindFeedback(doc, errors));

  report.xml_namespace = internal::FirstNamespace(feedback);
  Reader rd(limits, errors);
  DMARC_TRY(internal::ReadHeader(feedback, report, rd));
  DMARC_TRY(ReadRecords(feedback, xml.size(), limits, rd, report, errors));
  report.report_metadata.errors.insert(report.report_metadata.errors.end(), errors.begin(),
                                       errors.end());
  NormaliseTimespan(report, opts.timespan_threshold_hours);
  return Result<model::AggregateReport>(std::move(report));
}

void NormaliseTimespan(model::AggregateReport& report, double threshold_hours) {
  internal::DaySplitter splitter(report.report_metadata, threshold_hours);
  if (!splitter.Splits()) {  // the usual report, of a day or less: every record stays in place
    for (auto& r : report.records) splitter.Stamp(r);
    return;
  }
  std::vector<model::Record> out;
  out.reserve(report.records.size());
  for (auto& r : report.records) splitter.Split(std::move(r), out);
  report.records.swap(out);
}

}  // namespace dmarc::parse
