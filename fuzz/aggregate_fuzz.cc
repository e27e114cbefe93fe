// libFuzzer target: aggregate XML parsing on its own (whole, and streamed in pieces whose size
// the input's first byte picks), and the whole extraction path (any container, any nesting, with
// streaming forced on past a small size) with every parsed report serialised to JSON and CSV.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parse/aggregate.h"
#include "parse/aggregate_stream.h"
#include "pipeline/extract.h"
#include "sinks/parsedmarc_format.h"

namespace {

// Formats what a streamed report hands over, as parse does, and drops it.
class FormatSink : public dmarc::parse::AggregateSink {
 public:
  dmarc::Status OnHeader(const dmarc::model::AggregateReport& header) override {
    header_ = header;
    return dmarc::Ok();
  }
  dmarc::Status OnRecords(std::vector<dmarc::model::Record>& records) override {
    out_.clear();
    for (const auto& r : records) dmarc::sinks::AppendAggregateJsonRecord(r, out_, false);
    return dmarc::Ok();
  }
  dmarc::Status OnEnd(const std::vector<std::string>& errors) override {
    header_.report_metadata.errors = errors;
    out_.clear();
    dmarc::sinks::AppendAggregateJson(header_, out_, false);
    return dmarc::Ok();
  }

 private:
  dmarc::model::AggregateReport header_;
  std::string out_;
};

void Serialise(const dmarc::model::AggregateReport& report, bool separator) {
  std::string out;
  dmarc::sinks::AppendAggregateJson(report, out, separator);
  dmarc::sinks::AppendAggregateCsvRows(report, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  dmarc::parse::AggregateOptions options;
  options.limits.max_decompressed_bytes = 8 * 1024 * 1024;
  options.limits.max_records = 10'000;
  if (auto direct = dmarc::parse::ParseAggregateXml(in, options)) Serialise(*direct, false);

  dmarc::parse::AggregateStreamOptions stream;
  stream.aggregate = options;
  stream.batch_records = 3;
  const std::size_t piece = size > 0 ? 1 + data[0] % 64 : 1;
  if (auto streamed = dmarc::parse::ParseAggregateXmlStreamed(in, stream, piece)) {
    Serialise(*streamed, true);
  }

  dmarc::pipeline::ExtractOptions extract;
  extract.aggregate = options;
  auto all = dmarc::pipeline::ExtractReports(in, "fuzz", extract);
  for (const auto& r : all.reports) Serialise(r.aggregate, true);
  extract.stream_bytes = 256;
  extract.stream_sink = [](const std::string&) { return std::make_unique<FormatSink>(); };
  auto streamed_all = dmarc::pipeline::ExtractReports(in, "fuzz", extract);
  for (const auto& r : streamed_all.reports) Serialise(r.aggregate, true);
  return 0;
}
