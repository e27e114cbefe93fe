// Internal to the PostgreSQL DashboardQueries: what enrichment knows of every source address now
// (dashboard_common.h's AddressDetails), read by source_ips id and kept while the server's
// write-ahead log has not moved (no commit anywhere since).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "base/result.h"
#include "store/dashboard_common.h"
#include "store/pg/pg_db.h"

namespace dmarc::store::pg {

class AddressDetails final : public store::AddressDetails {
 public:
  // Reads what is known of every address, inside the caller's snapshot, unless it was read at
  // the same `version` (the server's WAL position read before that snapshot began; "" never
  // matches).
  Result<bool> Load(Connection& conn, const std::string& version);

  const Address* Of(std::int64_t id) const override;

 private:
  std::unordered_map<std::int64_t, Address> addresses_;  // by source_ips id
  std::string version_;
};

}  // namespace dmarc::store::pg
