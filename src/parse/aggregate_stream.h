// DMARC aggregate report XML as a stream: bytes go in chunk by chunk (as they are read or
// inflated), the report comes out as its header (schema, metadata, published policy) and then
// its records in batches, so that memory is bounded by one batch and one record's XML, not by
// the report. Same normalisation, repairs, limits and answers as ParseAggregateXml (which is the
// same parser fed in one piece and collected: parse/aggregate.h).
//
// Thread-safety: one parser per report; reentrant.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "model/aggregate.h"
#include "parse/aggregate.h"

namespace dmarc::parse {

// What a streamed report is handed to. Any error returned stops the parse with that error.
class AggregateSink {
 public:
  virtual ~AggregateSink() = default;
  // Once, before the first records: the report without its records. report_metadata.errors
  // holds the recoveries noted so far; later ones (a record's clamped count, a truncated field,
  // a record skipped) come with OnEnd.
  virtual Status OnHeader(const model::AggregateReport& header) = 0;
  // Records in document order, already split per day (NormaliseTimespan) and with their
  // interval set, at most AggregateStreamOptions::batch_records at a time. The sink may move
  // them out; the vector is cleared after the call.
  virtual Status OnRecords(std::vector<model::Record>& records) = 0;
  // Once, after the last record: every recovery of the report (the header's and the later
  // ones), the complete report_metadata.errors.
  virtual Status OnEnd(const std::vector<std::string>& errors) = 0;
  // Never called by the parser: the report's XML as received (after decompression, before any
  // repair), piece by piece, from a consumer that keeps it (pipeline::ExtractOptions::
  // keep_raw_xml). A piece comes after the parser was fed it.
  virtual Status OnRawXml(std::string_view /*piece*/) { return Ok(); }
};

struct AggregateStreamOptions {
  AggregateOptions aggregate;
  // Records handed to OnRecords at a time (after the split per day).
  std::size_t batch_records = 4096;
};

class AggregateStreamParser {
 public:
  AggregateStreamParser(const AggregateStreamOptions& options, AggregateSink& sink);
  ~AggregateStreamParser();
  AggregateStreamParser(const AggregateStreamParser&) = delete;
  AggregateStreamParser& operator=(const AggregateStreamParser&) = delete;

  // The next bytes of the document. An error rejects the report (the sink may have seen a part
  // of it: a consumer that stores must undo what it got).
  Status Feed(std::string_view bytes);
  // The end of the document: the last records and OnEnd, or the error that rejects the report.
  Status Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The whole report through the streaming parser, fed in pieces of `chunk_bytes` and collected:
// what tests compare with ParseAggregateXml.
Result<model::AggregateReport> ParseAggregateXmlStreamed(std::string_view xml,
                                                         const AggregateStreamOptions& options,
                                                         std::size_t chunk_bytes);

}  // namespace dmarc::parse
