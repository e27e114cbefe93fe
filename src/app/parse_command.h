// `dmarc-report parse`: reports from files, archives, mails, mboxes, Maildirs, directories or
// standard input → parsedmarc-compatible JSON or CSV.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "base/limits.h"
#include "enrich/enrich.h"
#include "parse/failure.h"

namespace dmarc::app {

enum class OutputFormat { kJson, kCsv };
// The CSV table written; with JSON, the one type written when one is asked for.
enum class ReportType { kAggregate, kFailure, kSmtpTls };

struct ParseCommandOptions {
  std::vector<std::string> paths;
  OutputFormat format = OutputFormat::kJson;
  ReportType csv_type = ReportType::kAggregate;
  std::optional<ReportType> json_type;  // JSON: only this type's array filled; none: every type
  // Whether reports of type t are written (CSV: its one table; JSON: json_type or every type).
  bool Writes(ReportType t) const {
    return format == OutputFormat::kCsv ? t == csv_type : (!json_type || *json_type == t);
  }
  parse::KeepSample keep_sample = parse::KeepSample::kHeaders;  // failure.keep_sample
  std::string output;                                           // empty or "-": standard output
  unsigned jobs = 0;                                            // 0: one per core
  double timespan_threshold_hours = 24.0;
  bool quiet = false;
  bool verbose = false;  // one log line per input, and every repair made
  Limits limits;
  // limits.stream_bytes: an aggregate report whose XML is larger is parsed as a stream (records
  // spooled in a compact binary form and formatted when written) instead of whole: the whole
  // path holds about 8.5 bytes of memory per byte of XML (a 4 MiB report: ~35 MB), the streamed
  // one a batch of records and the spool's 8 MiB. See docs/security.md, "Memory".
  enrich::Options enrich;
  // Formatted output held in memory while it waits for its turn (output is in input order);
  // what waits beyond it is set aside in a temporary file, so workers never wait for room.
  std::size_t output_memory_bytes = 16u << 20;
};

// Returns the process exit status: 0 when every input parsed, 1 when any was rejected.
int RunParse(const ParseCommandOptions& options);

}  // namespace dmarc::app
