// The Splunk HTTP Event Collector output (`type = "splunk_hec"`): parsedmarc's Splunk events
// (sourcetype dmarc:aggregate, one event per record; dmarc:failure; smtp:tls), time = the
// record's interval begin, sent to /services/collector/event with the token header, and
// waited for on the acknowledgement channel when the HEC has indexer acknowledgement on.
// See docs/outputs.md for the keys.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "outputs/output.h"

namespace dmarc::outputs {

Result<std::unique_ptr<Output>> MakeSplunkHecOutput(const OutputConfig& config);

namespace splunk_hec {
struct EventOptions {
  std::string host, source, index;
  std::string smtp_tls_sourcetype = "smtp:tls";
};
// Appends the HEC events of one item (one per aggregate record), each a JSON object on its
// own line.
void AppendEvents(const Item& item, const EventOptions& options, std::string& out);
}  // namespace splunk_hec

}  // namespace dmarc::outputs
