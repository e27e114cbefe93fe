// libFuzzer target: failure reports. The input is a mail; it goes through the whole extraction
// path (ARF parts, text/rfc822-headers, Exim plain text, the reported message) with every
// sample-keeping mode, and each failure report found is serialised to JSON and CSV and read
// back from its JSON, as the store does.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parse/failure.h"
#include "pipeline/extract.h"
#include "sinks/report_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // The plain-text reader on its own, then the mail path.
  (void)dmarc::parse::ReadPlainTextFailure(in);
  for (auto keep : {dmarc::parse::KeepSample::kHeaders, dmarc::parse::KeepSample::kFull,
                    dmarc::parse::KeepSample::kNone}) {
    dmarc::pipeline::ExtractOptions extract;
    extract.aggregate.limits.max_decompressed_bytes = 8 * 1024 * 1024;
    extract.keep_sample = keep;
    auto all = dmarc::pipeline::ExtractReports(in, "fuzz", extract);
    std::string out;
    for (const auto& f : all.failures) {
      out.clear();
      dmarc::sinks::AppendFailureJson(f.report, out, true);
      dmarc::sinks::AppendFailureCsvRow(f.report, out);
      auto back = dmarc::sinks::FailureFromJson(dmarc::sinks::FailureToJson(f.report));
      if (!back) __builtin_trap();  // what was written must read back
    }
  }
  return 0;
}
