// Internal to the SQLite DashboardQueries: records grouped by a source attribute. Without a
// header-from or reporter filter the groups come from the per-address rollups, each address
// described as enrichment knows it now (AddressDetails), so a service's addresses are exactly
// those its row counted; otherwise from the records themselves, as they were stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/sqlite/sqlite_address_details.h"
#include "store/sqlite/sqlite_db.h"

namespace dmarc::store::sqlite {

struct IpSums {
  std::int64_t messages = 0, dmarc_pass = 0, spf_aligned = 0, dkim_aligned = 0, records = 0;
};
using IpTotals = std::unordered_map<std::int64_t, IpSums>;  // source_ips id → sums

class SourceGrouping {
 public:
  // db outlives this object.
  explicit SourceGrouping(Database& db) : db_(db) {}

  // DashboardQueries::Sources.
  Result<SourcesResult> Sources(const DashboardFilter& filter, std::string_view group,
                                std::size_t limit);
  // Per source address sums of a filter without header-from, drill-down or reporter.
  Result<IpTotals> SumsPerIp(const DashboardFilter& filter);
  // Those addresses grouped by address or by one of its attributes, largest first.
  Result<std::vector<SourceRow>> GroupIps(const IpTotals& ips, std::string_view group,
                                          std::size_t limit);

 private:
  Result<std::vector<SourceRow>> TopAddresses(const IpTotals& ips, std::size_t limit);
  Result<std::vector<SourceRow>> ByAttribute(const IpTotals& ips, std::string_view group,
                                             std::size_t limit);
  // Keeps the addresses of ips whose value in group is value ("" keeps those with none).
  Result<bool> KeepGroup(IpTotals& ips, std::string_view group, const std::string& value);
  // Grouped from the records, as stored (any filter).
  Result<std::vector<SourceRow>> FromRecords(const DashboardFilter& filter, std::string_view group,
                                             const char* column, std::size_t limit);

  Database& db_;
  AddressDetails addresses_;
};

}  // namespace dmarc::store::sqlite
