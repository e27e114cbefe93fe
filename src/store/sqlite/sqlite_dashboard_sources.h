// Internal to the SQLite DashboardQueries: records grouped by a source attribute
// (dashboard_common.h's SourceGrouping, which the PostgreSQL store shares), with SQLite's queries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/dashboard_common.h"
#include "store/sqlite/sqlite_address_details.h"
#include "store/sqlite/sqlite_db.h"

namespace dmarc::store::sqlite {

class SourceGrouping final : public store::SourceGrouping {
 public:
  // db outlives this object.
  explicit SourceGrouping(Database& db) : db_(db) {}

  Result<IpTotals> SumsPerIp(const DashboardFilter& filter) override;

 private:
  Result<bool> NameAddresses(const std::vector<std::int64_t>& ids,
                             std::vector<SourceRow>& rows) override;
  Result<bool> LoadAddresses() override { return addresses_.Load(db_); }
  const store::AddressDetails& Addresses() const override { return addresses_; }
  Result<std::int64_t> IdOfAddress(const std::string& ip) override;
  Result<std::vector<SourceRow>> FromRecords(const DashboardFilter& filter, std::string_view group,
                                             const char* column) override;

  Database& db_;
  AddressDetails addresses_;
};

}  // namespace dmarc::store::sqlite
