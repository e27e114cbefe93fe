// Internal to the PostgreSQL DashboardQueries: records grouped by a source attribute
// (dashboard_common.h's SourceGrouping, which the SQLite store shares), with PostgreSQL's queries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/dashboard_common.h"
#include "store/pg/pg_address_details.h"
#include "store/pg/pg_db.h"

namespace dmarc::store::pg {

class SourceGrouping final : public store::SourceGrouping {
 public:
  // conn and version outlive this object; version is the server's WAL position read before the
  // current snapshot (AddressDetails::Load). Queries run inside the caller's snapshot.
  SourceGrouping(Connection& conn, const std::string& version) : conn_(conn), version_(version) {}

  Result<IpTotals> SumsPerIp(const DashboardFilter& filter) override;

 private:
  Result<bool> NameAddresses(const std::vector<std::int64_t>& ids,
                             std::vector<SourceRow>& rows) override;
  Result<bool> LoadAddresses() override { return addresses_.Load(conn_, version_); }
  const store::AddressDetails& Addresses() const override { return addresses_; }
  Result<std::int64_t> IdOfAddress(const std::string& ip) override;
  Result<std::vector<SourceRow>> FromRecords(const DashboardFilter& filter, std::string_view group,
                                             const char* column) override;

  Connection& conn_;
  const std::string& version_;
  AddressDetails addresses_;
};

}  // namespace dmarc::store::pg
