// From the bytes of one input to the reports inside it: recognises containers by magic bytes
// (gzip, zip, mail, mbox — nested in any order, to a depth limit), parses every report found,
// and turns everything that fails into a Rejection naming where in the input it was.
//
// Thread-safety: reentrant; workers call it in parallel on different inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "base/result.h"
#include "model/aggregate.h"
#include "model/failure.h"
#include "model/smtp_tls.h"
#include "parse/aggregate.h"
#include "parse/aggregate_stream.h"
#include "parse/failure.h"
#include "pipeline/parse_gate.h"

namespace dmarc::pipeline {

struct FoundReport {
  std::string origin;  // e.g. "mail.eml[part 2: report.zip][report.xml]"
  model::AggregateReport aggregate;
  // The XML the report was parsed from, as received (after decompression, before any repair),
  // compressed here (store::kRawXmlEncoding), in the worker that parsed it, so the single store
  // writer only copies it; empty unless ExtractOptions::keep_raw_xml. raw_xml_size is its
  // uncompressed size (bounded by Limits::max_decompressed_bytes).
  std::string raw_xml_packed;
  std::uint64_t raw_xml_size = 0;
};

struct FoundFailure {
  std::string origin;  // the report mail, e.g. "ruf.mbox[message 3]"
  model::FailureReport report;
};

struct FoundSmtpTls {
  std::string origin;
  model::SmtpTlsReport report;
};

// What was rejected and why. The item is what `origin` names — an mbox message, a zip entry, a
// part of a mail, the whole input at the top — and a rejection keeps only the first bytes of its
// own item, within the input's budget (Limits::max_rejected_bytes), never a copy of the input.
struct Rejection {
  std::string origin;  // at most kMaxRejectionText bytes, as is `reason`
  std::string reason;
  std::string sha256;      // hex SHA-256 of the whole item (of no bytes when it was unreadable)
  std::uint64_t size = 0;  // bytes of the whole item
  std::string raw;         // its first bytes; empty once the input's budget is spent
};

// The longest origin or reason kept (a zip entry name or a subject is the sender's choice).
constexpr std::size_t kMaxRejectionText = 1024;

// A rejection of `item` keeping its first raw_bytes (less for a failure report's mail under
// `keep`: pipeline/classify.h, RejectedBytesToKeep).
Rejection RejectItem(std::string_view origin, std::string_view reason, std::string_view item,
                     std::size_t raw_bytes, parse::KeepSample keep);

// An aggregate report parsed as a stream (ExtractOptions::stream_sink): its records went to the
// sink while the input was read, and its sink's OnEnd was called. A streamed report that was
// rejected (broken midway, or its input over its budget afterwards) is not listed: its sink is
// destroyed without OnEnd, and its consumer drops what it got.
struct StreamedReport {
  std::string origin;
  // Where it stands among the input's aggregate reports: the number of Extracted::reports found
  // before it (the order of the input, for a consumer that prints both kinds).
  std::size_t position = 0;
  std::uint64_t records = 0;  // records handed to the sink (after the split per day)
  std::unique_ptr<parse::AggregateSink> sink;
};

struct Extracted {
  std::vector<FoundReport> reports;  // aggregate reports
  std::vector<FoundFailure> failures;
  std::vector<FoundSmtpTls> smtp_tls;
  std::vector<Rejection> rejections;
  // Bytes of the failure and SMTP TLS report payloads parsed (failure mails, JSON), after
  // decompression: what those reports cost in memory grows with it (an aggregate report's cost
  // is measured on its model: model::HeapBytes).
  std::uint64_t payload_bytes = 0;
  // Aggregate reports handed to ExtractOptions::stream_sink (not in `reports`), and their records.
  std::vector<StreamedReport> streamed;
  std::size_t streamed_reports = 0;
  std::uint64_t streamed_records = 0;

  std::size_t ReportCount() const {
    return reports.size() + streamed_reports + failures.size() + smtp_tls.size();
  }
};

struct ExtractOptions {
  parse::AggregateOptions aggregate;
  // What failure reports keep of the reported message (failure.keep_sample).
  parse::KeepSample keep_sample = parse::KeepSample::kHeaders;
  // Keep each aggregate report's XML, compressed, in FoundReport::raw_xml_packed (import and
  // fetch store it; parse does not need the copy); a streamed report's XML goes to its sink's
  // OnRawXml as it is read.
  bool keep_raw_xml = false;
  // With keep_raw_xml: asked, by the worker that parsed an aggregate report, whether the store
  // already has it (store::ReportStore::AggregateStoredCheck); a duplicate's XML is not
  // compressed (the store drops the report). Empty: every report's XML is compressed.
  std::function<bool(const model::AggregateReport&)> already_stored;
  // The paths named on the command line (InputList::named): ExtractInput reads them through a
  // symbolic link or from a pipe; every other path was found in a folder and must be a regular
  // file, not a link (base/files.h, PathOrigin).
  std::set<std::string> named_inputs;
  // Keep each rejected item's SHA-256 and first bytes in its Rejection (import and fetch store
  // them; parse only prints the reasons).
  bool keep_rejected = false;
  // Shared by the workers of one ingest: bounds the memory spent parsing at once (not owned;
  // none: no bound, as for `parse`, whose window bounds what it holds).
  ParseGate* gate = nullptr;
  // Streaming (issue #14): an aggregate report whose XML grows past stream_bytes while it is
  // read or inflated is parsed as a stream and handed to the sink that stream_sink(origin)
  // makes, batch of records by batch, instead of being collected in Extracted::reports; memory
  // is then bounded by a batch, not by the report. 0 or no stream_sink: every report is
  // collected whole.
  std::size_t stream_bytes = 0;
  std::function<std::unique_ptr<parse::AggregateSink>(const std::string& origin)> stream_sink;
  const Limits& limits() const { return aggregate.limits; }
};

// Extracts every report from one input's bytes. Never throws for bad input. Limits that bound
// the input as a whole (the decompression budget shared by every level of nesting) reject it
// as a whole: one rejection, no reports. Rejections beyond Limits::max_rejections are counted in
// one last rejection.
Extracted ExtractReports(std::string_view bytes, const std::string& origin,
                         const ExtractOptions& options);

// An input read piece by piece instead of held whole (ExtractInput: a file larger than
// stream_bytes): `read` hands every piece of it, in order, to the sink it is given, and returns
// an error when reading fails. A gzip input is inflated as it is read and a plain XML input goes
// straight to the parser (streamed once past stream_bytes); any other kind is collected and
// extracted as ExtractReports does. Same reports, rejections and budget as ExtractReports on the
// whole bytes.
using ReadPieces = std::function<Status(const std::function<Status(std::string_view)>& piece)>;
Extracted ExtractReportsInPieces(const ReadPieces& read, const std::string& origin,
                                 const ExtractOptions& options);

}  // namespace dmarc::pipeline
