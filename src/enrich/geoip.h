// Country and autonomous system of an address from MaxMind DB files (libmaxminddb). Knows the
// layouts of the common free databases:
//   ip-location-db (the default):   country_code
//   GeoLite2 / DB-IP country:       country.iso_code
//   GeoLite2 / DB-IP ASN:           autonomous_system_number, autonomous_system_organization
//   IPinfo Lite:                    country_code, asn ("AS15169"), as_name, as_domain
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace dmarc::enrich {

struct GeoInfo {
  std::optional<std::string> country;  // ISO 3166-1 alpha-2, upper case
  std::optional<std::int64_t> asn;
  std::optional<std::string> as_name;
  std::optional<std::string> as_domain;
};

class GeoIp {
 public:
  // Opens every file; an error names the file that cannot be used.
  static Result<std::unique_ptr<GeoIp>> Open(const std::vector<std::string>& paths);
  ~GeoIp();
  GeoIp(const GeoIp&) = delete;
  GeoIp& operator=(const GeoIp&) = delete;

  // Fields from the first database that has them; nothing for an invalid or unknown address.
  GeoInfo Lookup(const std::string& ip) const;
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  GeoIp() = default;
  struct Db;
  std::vector<std::unique_ptr<Db>> dbs_;
  std::vector<std::string> paths_;
};

}  // namespace dmarc::enrich
