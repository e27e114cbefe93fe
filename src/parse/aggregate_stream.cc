#include "parse/aggregate_stream.h"

namespace dmarc::parse {

// Not written yet: the foundation of issue #14 (streaming aggregate parse).
struct AggregateStreamParser::Impl {};

AggregateStreamParser::AggregateStreamParser(const AggregateStreamOptions& /*options*/,
                                             AggregateSink& /*sink*/)
    : impl_(std::make_unique<Impl>()) {}
AggregateStreamParser::~AggregateStreamParser() = default;
Status AggregateStreamParser::Feed(std::string_view /*bytes*/) {
  return MakeError("streaming parse not written yet");
}
Status AggregateStreamParser::Finish() { return MakeError("streaming parse not written yet"); }

Result<model::AggregateReport> ParseAggregateXmlStreamed(std::string_view /*xml*/,
                                                         const AggregateStreamOptions& /*options*/,
                                                         std::size_t /*chunk_bytes*/) {
  return MakeError("streaming parse not written yet");
}

}  // namespace dmarc::parse
