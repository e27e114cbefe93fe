// Internal to the PostgreSQL DashboardQueries: records grouped by a source attribute, as
// sqlite_dashboard_sources.h groups them (the same steps, in the same order, so that equal
// groups come out alike). Without a header-from or reporter filter the groups come from the
// per-address rollups, each address described as enrichment knows it now (AddressDetails);
// otherwise from the records themselves, as they were stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/pg/pg_address_details.h"
#include "store/pg/pg_db.h"

namespace dmarc::store::pg {

struct IpSums {
  std::int64_t messages = 0, dmarc_pass = 0, spf_aligned = 0, dkim_aligned = 0, records = 0;
};
using IpTotals = std::unordered_map<std::int64_t, IpSums>;  // source_ips id → sums

class SourceGrouping {
 public:
  // conn and version outlive this object; version is the server's WAL position read before the
  // current snapshot (AddressDetails::Load).
  SourceGrouping(Connection& conn, const std::string& version) : conn_(conn), version_(version) {}

  // DashboardQueries::Sources (inside the caller's snapshot).
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
  Result<bool> KeepGroup(IpTotals& ips, std::string_view group, const std::string& value);
  Result<std::vector<SourceRow>> FromRecords(const DashboardFilter& filter, std::string_view group,
                                             const char* column, std::size_t limit);

  Connection& conn_;
  const std::string& version_;
  AddressDetails addresses_;
};

}  // namespace dmarc::store::pg
