// From the bytes of one input to the reports inside it: recognises containers by magic bytes
// (gzip, zip, mail, mbox — nested in any order, to a depth limit), parses every report found,
// and turns everything that fails into a Rejection naming where in the input it was.
//
// Thread-safety: reentrant; workers call it in parallel on different inputs.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/limits.h"
#include "model/aggregate.h"
#include "model/failure.h"
#include "model/smtp_tls.h"
#include "parse/aggregate.h"
#include "parse/failure.h"

namespace dmarc::pipeline {

struct FoundReport {
  std::string origin;  // e.g. "mail.eml[part 2: report.zip][report.xml]"
  model::AggregateReport aggregate;
  // The XML the report was parsed from, as received (after decompression, before any repair),
  // gzip-compressed here, in the worker that parsed it, so the single store writer only copies
  // it; empty unless ExtractOptions::keep_raw_xml. raw_xml_size is its uncompressed size
  // (bounded by Limits::max_decompressed_bytes).
  std::string raw_xml_gzip;
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

struct Rejection {
  std::string origin;
  std::string reason;
};

struct Extracted {
  std::vector<FoundReport> reports;  // aggregate reports
  std::vector<FoundFailure> failures;
  std::vector<FoundSmtpTls> smtp_tls;
  std::vector<Rejection> rejections;

  std::size_t ReportCount() const { return reports.size() + failures.size() + smtp_tls.size(); }
};

struct ExtractOptions {
  parse::AggregateOptions aggregate;
  // What failure reports keep of the reported message (failure.keep_sample).
  parse::KeepSample keep_sample = parse::KeepSample::kHeaders;
  // Keep each aggregate report's XML, compressed, in FoundReport::raw_xml_gzip (import and
  // fetch store it; parse does not need the copy).
  bool keep_raw_xml = false;
  // The paths named on the command line (InputList::named): ExtractInput reads them through a
  // symbolic link or from a pipe; every other path was found in a folder and must be a regular
  // file, not a link (base/files.h, PathOrigin).
  std::set<std::string> named_inputs;
  const Limits& limits() const { return aggregate.limits; }
};

// Extracts every report from one input's bytes. Never throws for bad input.
Extracted ExtractReports(std::string_view bytes, const std::string& origin,
                         const ExtractOptions& options);

}  // namespace dmarc::pipeline
