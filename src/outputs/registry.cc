#include "outputs/registry.h"

#include <fmt/format.h>

#include <map>

#include "outputs/elastic.h"
#include "outputs/kafka.h"
#include "outputs/splunk_files.h"
#include "outputs/splunk_hec.h"
#include "outputs/syslog.h"
#include "outputs/webhook.h"

namespace dmarc::outputs {

namespace {

// The built-in types, one line each, each factory from its type's header.
std::map<std::string, Factory>& Types() {
  static std::map<std::string, Factory> types = {
      {"elasticsearch", &MakeElasticsearchOutput},
      {"opensearch", &MakeElasticsearchOutput},
      {"zincsearch", &MakeElasticsearchOutput},
      {"splunk_hec", &MakeSplunkHecOutput},
      {"splunk_kv", &MakeSplunkFileOutput},
      {"splunk_json", &MakeSplunkFileOutput},
      {"kafka", &MakeKafkaOutput},
      {"syslog", &MakeSyslogOutput},
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
