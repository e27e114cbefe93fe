// DMARC aggregate report XML → model::AggregateReport.
//
// Accepts RFC 7489 Appendix C, the older draft schema and RFC 9990 (DMARCbis, with or without
// its namespace). Normalises like parsedmarc so that counts and results agree with it, tolerates
// what real reporters get wrong (recording each recovery in report_metadata.errors), and
// rejects what cannot be a report with a reason. Knows nothing of files, mail or networks.
//
// Thread-safety: reentrant.
#pragma once

#include <string>

#include "base/limits.h"
#include "base/result.h"
#include "model/aggregate.h"

namespace dmarc::parse {

struct AggregateOptions {
  Limits limits;
  // Reports spanning more than this are split per UTC day (parsedmarc's default: 24 hours).
  double timespan_threshold_hours = 24.0;
};

// Parses one report.
Result<model::AggregateReport> ParseAggregateXml(std::string_view xml,
                                                 const AggregateOptions& opts);

// True when the text looks like an aggregate report: a <feedback> start tag (any namespace prefix)
// in its first 64 KiB. The word alone (an HTML body asking for feedback) is not enough.
bool LooksLikeAggregateXml(std::string_view xml);

// Splits records of a report spanning more than the threshold into one record per UTC day it
// touches, dividing counts in proportion to the seconds of each day (largest remainder, so the
// total is kept exactly). Sets interval_begin/interval_end on every record.
void NormaliseTimespan(model::AggregateReport& report, double threshold_hours);

}  // namespace dmarc::parse
