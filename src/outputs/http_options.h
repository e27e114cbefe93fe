// Reading an [output.NAME] table for the HTTP outputs: every key checked against the type's
// list (an unknown key is refused, named "output.NAME.KEY: ..."), typed values, secrets read
// from *_file keys (never logged), and the connection keys the HTTP outputs share.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "base/result.h"
#include "outputs/http.h"
#include "outputs/output.h"

namespace dmarc::outputs {

// The keys every HTTP output reads: url, user, password_file, ca_file,
// skip_certificate_verification, timeout (seconds).
inline const std::set<std::string>& HttpKeys() {
  static const std::set<std::string> keys = {
      "url", "user", "password_file", "ca_file", "skip_certificate_verification", "timeout"};
  return keys;
}

class OptionReader {
 public:
  // `known`: the type's own keys (HttpKeys() are added).
  OptionReader(const OutputConfig& config, std::set<std::string> known);

  // The first key that is not the type's, as an error.
  Status CheckKeys() const;
  Error Bad(const std::string& key, const std::string& what) const;

  bool Has(const std::string& key) const;
  std::string String(const std::string& key, const std::string& fallback = "") const;
  Result<bool> Bool(const std::string& key, bool fallback) const;
  Result<std::int64_t> Int(const std::string& key, std::int64_t fallback, std::int64_t min,
                           std::int64_t max) const;
  // The content of the file named by `key` (a *_file key), without its trailing line end;
  // "" when the key is absent. Bounded (64 KiB), refused when empty.
  Result<std::string> Secret(const std::string& key) const;
  // url (required), TLS, timeout, basic auth (user + password_file).
  Result<HttpOptions> Http(std::string& base_url) const;

 private:
  const OutputConfig& config_;
  std::set<std::string> known_;
};

}  // namespace dmarc::outputs
