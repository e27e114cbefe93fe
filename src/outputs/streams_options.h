// Reading an [output.NAME] table's own keys (OutputConfig::options) for the Kafka, syslog and
// Splunk files outputs: every key must be known, values are checked, and every error names the
// key as "output.NAME.KEY: ...". Secrets come from *_file keys and are never put in a message.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "outputs/output.h"

namespace dmarc::outputs {

class OptionReader {
 public:
  // Refuses (through Check) any key of config.options not in `known`.
  OptionReader(const OutputConfig& config, const std::set<std::string>& known);

  // The first error met so far (unknown key, malformed value), or Ok.
  Status Check() const;

  std::string String(const std::string& key, const std::string& fallback);
  // A value that must be one of `allowed`.
  std::string OneOf(const std::string& key, const std::string& fallback,
                    const std::vector<std::string>& allowed);
  std::int64_t Int(const std::string& key, std::int64_t fallback, std::int64_t min,
                   std::int64_t max);
  bool Bool(const std::string& key, bool fallback);
  // The first line of the file a *_file key names (a secret: never in a message), "" if unset.
  std::string SecretFile(const std::string& key);
  // A file that must exist (a CA or certificate file), "" if unset.
  std::string ExistingFile(const std::string& key);
  bool Has(const std::string& key) const { return config_.options.count(key) != 0; }
  // "output.NAME.KEY"
  std::string Name(const std::string& key) const;
  void Fail(const std::string& key, const std::string& why);

 private:
  const OutputConfig& config_;
  Error first_error_;
  bool failed_ = false;
};

}  // namespace dmarc::outputs
