// Internal to the SQLite DashboardQueries: what enrichment knows of every source address now (its
// row in ip_info_cache), read into memory by source_ips id for the views that group addresses by
// service, country, ... and kept until another connection commits.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/dashboard_rows.h"
#include "store/sqlite/sqlite_db.h"

namespace dmarc::store::sqlite {

class AddressDetails {
 public:
  // What is known of one address. The texts are in one buffer (texts_), so reading every
  // address allocates once per buffer growth, not once per value.
  enum Field { kReverseDns, kBaseDomain, kCountry, kAsName, kName, kType, kFields };
  struct Address {
    bool known = false;  // has a row
    bool has_asn = false;
    std::uint8_t present = 0;  // bit f: field f has a value
    std::int64_t asn = 0;
    std::array<std::uint64_t, kFields> at{};  // offsets in texts_
    std::array<std::uint32_t, kFields> size{};
  };

  // Reads what is known of every address, unless the store is unchanged since the last read
  // (PRAGMA data_version changes with every commit of another connection): the grouped views
  // need all of it, and reading it costs more than the sums themselves.
  Result<bool> Load(Database& db);

  // The address with this source_ips id; nullptr when nothing is known of it.
  const Address* Of(std::int64_t id) const;
  // The value an address has in a group other than "ip" (nullopt: unknown).
  std::optional<std::string> GroupValue(const Address* a, std::string_view group) const;
  // Its descriptive attributes (all unknown for nullptr).
  SourceDetails Describe(const Address* a) const;

 private:
  std::optional<std::string_view> TextOf(const Address* a, Field f) const;

  std::vector<Address> addresses_;  // by source_ips id (dense)
  std::string texts_;               // their texts
  std::int64_t version_ = -1;       // data_version they were read at
};

}  // namespace dmarc::store::sqlite
