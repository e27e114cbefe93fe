// The Splunk files outputs (type = "splunk_kv" / "splunk_json"): the Splunk DMARC app's
// (TA-dmarc) event formats, sourcetypes dmarc:kv and dmarc:json, one event per record of an
// aggregate report, appended to a file a Universal Forwarder monitors and rotated by size.
// Each report's events are written at once and recorded in a ledger beside the files, so a
// report sent again is not written twice and a write cut short by a crash is taken back.
// Failure and SMTP TLS reports have no format in that app: they are skipped (docs/outputs.md).
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "outputs/output.h"

namespace dmarc::outputs {

Result<std::unique_ptr<Output>> MakeSplunkFileOutput(const OutputConfig& config);

// The events of one aggregate report, as written to the file (exposed for tests).
std::string SplunkKvEvents(const model::AggregateReport& report);
std::string SplunkJsonEvents(const model::AggregateReport& report);

}  // namespace dmarc::outputs
