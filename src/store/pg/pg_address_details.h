// Internal to the PostgreSQL DashboardQueries: what enrichment knows of every source address now
// (its row in ip_info_cache), read into memory by source_ips id for the views that group
// addresses by service, country, ... (as sqlite_address_details.h), and kept while the server's
// write-ahead log has not moved (no commit anywhere since).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/result.h"
#include "store/dashboard_rows.h"
#include "store/pg/pg_db.h"

namespace dmarc::store::pg {

class AddressDetails {
 public:
  // What is known of one address; its texts are in one buffer (texts_).
  enum Field { kReverseDns, kBaseDomain, kCountry, kAsName, kName, kType, kFields };
  struct Address {
    bool has_asn = false;
    std::uint8_t present = 0;  // bit f: field f has a value
    std::int64_t asn = 0;
    std::array<std::uint64_t, kFields> at{};  // offsets in texts_
    std::array<std::uint32_t, kFields> size{};
  };

  // Reads what is known of every address, inside the caller's snapshot, unless it was read at
  // the same `version` (the server's WAL position read before that snapshot began; "" never
  // matches).
  Result<bool> Load(Connection& conn, const std::string& version);

  // The address with this source_ips id; nullptr when nothing is known of it.
  const Address* Of(std::int64_t id) const;
  // The value an address has in a group other than "ip" (nullopt: unknown).
  std::optional<std::string> GroupValue(const Address* a, std::string_view group) const;
  // Its descriptive attributes (all unknown for nullptr).
  SourceDetails Describe(const Address* a) const;

 private:
  std::optional<std::string_view> TextOf(const Address* a, Field f) const;

  std::unordered_map<std::int64_t, Address> addresses_;  // by source_ips id
  std::string texts_;
  std::string version_;
};

}  // namespace dmarc::store::pg
