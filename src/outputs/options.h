// Reading an [output.NAME] table's own keys (OutputConfig::options), for every output type:
// every key must be one the type knows, values are checked, and every error names the key as
// "output.NAME.KEY: ...". Errors accumulate: the reader keeps the first and Check() returns it,
// so a type reads all its keys in a row and checks once. Secrets come from *_file keys and are
// never put in a message.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "outputs/http.h"
#include "outputs/output.h"

namespace dmarc::outputs {

// The keys every HTTP output reads (OptionReader::Http): url, user, password_file, ca_file,
// skip_certificate_verification, timeout (seconds).
std::set<std::string> WithHttpKeys(std::set<std::string> keys);

class OptionReader {
 public:
  // Refuses (through Check) any key of config.options not in `known`.
  OptionReader(const OutputConfig& config, const std::set<std::string>& known);

  // The first error met so far (unknown key, malformed value), or Ok.
  Status Check() const;

  // A value without control characters, at most 4096 bytes.
  std::string String(const std::string& key, const std::string& fallback = "");
  // A value that must be one of `allowed`.
  std::string OneOf(const std::string& key, const std::string& fallback,
                    const std::vector<std::string>& allowed);
  std::int64_t Int(const std::string& key, std::int64_t fallback, std::int64_t min,
                   std::int64_t max);
  bool Bool(const std::string& key, bool fallback);
  // The content of the file a *_file key names (a secret: never in a message), without its
  // trailing line end; "" if unset. Refused when unreadable, empty, over 64 KiB or of more than
  // one line.
  std::string Secret(const std::string& key);
  // A file that must exist (a CA or certificate file), "" if unset.
  std::string ExistingFile(const std::string& key);
  // The HTTP outputs' connection: url (required, normalized into base_url), TLS, timeout, basic
  // auth (user and password_file together).
  HttpOptions Http(std::string& base_url);

  bool Has(const std::string& key) const { return config_.options.count(key) != 0; }
  // Fails with "is required" (and `what`, e.g. "(the HEC token)") when key is absent.
  void Require(const std::string& key, const std::string& what = "");
  // "output.NAME.KEY"
  std::string Name(const std::string& key) const;
  void Fail(const std::string& key, const std::string& why);

 private:
  const OutputConfig& config_;
  Error first_error_;
  bool failed_ = false;
};

}  // namespace dmarc::outputs
