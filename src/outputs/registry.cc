#include "outputs/registry.h"

#include <fmt/format.h>

#include <map>

#include "outputs/webhook.h"

namespace dmarc::outputs {

namespace {

// The built-in types. One line per type: the other types' factories (Elasticsearch, OpenSearch,
// ZincSearch, Splunk HEC, Splunk files, Kafka, syslog) are added here, each from its header.
std::map<std::string, Factory>& Types() {
  static std::map<std::string, Factory> types = {
      {"webhook", &MakeWebhookOutput},
  };
  return types;
}

}  // namespace

void Register(const std::string& type, Factory factory) { Types()[type] = std::move(factory); }

std::vector<std::string> KnownTypes() {
  std::vector<std::string> out;
  for (const auto& [type, factory] : Types()) out.push_back(type);
  return out;
}

Result<std::unique_ptr<Output>> MakeOutput(const OutputConfig& config) {
  const auto it = Types().find(config.type);
  if (it == Types().end()) {
    return MakeError(ErrorKind::kInvalid,
                     fmt::format("output.{}.type: unknown type \"{}\" (known: {})", config.name,
                                 config.type, fmt::join(KnownTypes(), ", ")));
  }
  return it->second(config);
}

}  // namespace dmarc::outputs
