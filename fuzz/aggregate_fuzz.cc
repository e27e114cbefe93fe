// libFuzzer target: aggregate XML parsing on its own, and the whole extraction path (any
// container, any nesting) with every parsed report serialised to JSON and CSV.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parse/aggregate.h"
#include "pipeline/extract.h"
#include "sinks/parsedmarc_format.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  dmarc::parse::AggregateOptions options;
  options.limits.max_decompressed_bytes = 8 * 1024 * 1024;
  options.limits.max_records = 10'000;
  auto direct = dmarc::parse::ParseAggregateXml(in, options);
  std::string out;
  if (direct) {
    dmarc::sinks::AppendAggregateJson(*direct, out, false);
    dmarc::sinks::AppendAggregateCsvRows(*direct, out);
  }
  dmarc::pipeline::ExtractOptions extract;
  extract.aggregate = options;
  auto all = dmarc::pipeline::ExtractReports(in, "fuzz", extract);
  for (const auto& r : all.reports) {
    out.clear();
    dmarc::sinks::AppendAggregateJson(r.aggregate, out, true);
    dmarc::sinks::AppendAggregateCsvRows(r.aggregate, out);
  }
  return 0;
}
