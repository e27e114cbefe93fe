// The Kafka output (type = "kafka"): one message per record (an aggregate report's records, a
// failure report, an SMTP TLS report's policies), to a topic per report type, keyed by the
// report's key so a report's records stay in one partition and in order; an idempotent
// librdkafka producer (acks=all). Options and message layout: docs/outputs.md, "Kafka".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "outputs/output.h"

namespace dmarc::outputs {

Result<std::unique_ptr<Output>> MakeKafkaOutput(const OutputConfig& config);

// One Kafka message of an item (exposed for tests and the benchmark): its JSON value and its
// position among the item's messages.
struct KafkaMessage {
  std::string value;
  std::size_t index = 0;
};
// The item's messages: an aggregate report's records each with the report's metadata and
// published policy (parsedmarc's Kafka layout), a failure report as one message, an SMTP TLS
// report's policies each with the report's fields.
std::vector<KafkaMessage> KafkaMessages(const Item& item);

}  // namespace dmarc::outputs
