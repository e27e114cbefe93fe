// Internal to the SQLite DashboardQueries: what enrichment knows of every source address now
// (dashboard_common.h's AddressDetails), read by source_ips id and kept until another connection
// commits.
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "store/dashboard_common.h"
#include "store/sqlite/sqlite_db.h"

namespace dmarc::store::sqlite {

class AddressDetails final : public store::AddressDetails {
 public:
  // Reads what is known of every address, unless the store is unchanged since the last read
  // (PRAGMA data_version changes with every commit of another connection): the grouped views
  // need all of it, and reading it costs more than the sums themselves.
  Result<bool> Load(Database& db);

  const Address* Of(std::int64_t id) const override;

 private:
  std::vector<Address> addresses_;  // by source_ips id (dense)
  std::int64_t version_ = -1;       // data_version they were read at
};

}  // namespace dmarc::store::sqlite
