// The syslog output (type = "syslog"): RFC 5424 messages, one per record (an aggregate report's
// records, a failure report, an SMTP TLS report's policies), the record's fields as structured
// data, over UDP (RFC 5426), TCP with octet-counting framing (RFC 6587) or TLS (RFC 5425).
// Options and layout: docs/outputs.md, "syslog".
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "outputs/output.h"

namespace dmarc::outputs {

Result<std::unique_ptr<Output>> MakeSyslogOutput(const OutputConfig& config);

// What a line is made of besides the record (exposed for tests).
struct SyslogFormat {
  int facility = 16;  // local0
  std::string hostname = "-";
  std::string app_name = "dmarc-report";
  std::string sd_id = "dmarc@32473";
  std::size_t max_bytes = 8192;
};

// The item's RFC 5424 messages (without framing), each at most format.max_bytes long.
std::vector<std::string> SyslogLines(const Item& item, const SyslogFormat& format);

}  // namespace dmarc::outputs
