// Back-end-neutral parts of the dashboard queries (dashboard.h), shared by the SQLite and the
// PostgreSQL stores so that both answer alike: the source groups, which facts answer a filter,
// what enrichment knows of each address (AddressDetails) and records grouped by a source
// attribute (SourceGrouping). Each back end supplies its SQL and how it reads the rows.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/dashboard_rows.h"

namespace dmarc::store {

// The record column of a source group (IsSourceGroup), or nullptr for an unknown group.
const char* SourceGroupColumn(std::string_view group);

// Without a drill-down or a reporter, the daily rollups hold every number the totals, days and
// dispositions need; RecordWhere's columns have the same names there.
bool Rollup(const DashboardFilter& f);

// The table of facts a filter's totals are summed from.
struct Facts {
  const char* table;     // aliased r
  const char* messages;  // column of messages
  const char* records;   // the number of records a row stands for
};
Facts FactsFor(const DashboardFilter& f);

// The filter of the period of as many days just before filter's range (which has both ends).
DashboardFilter PreviousPeriod(const DashboardFilter& filter);

// What one pass over the facts in range adds up (each back end's SumFacts, a row at a time).
struct FactSums {
  Totals totals;
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> days;  // messages, passing
  std::vector<std::pair<std::string, std::int64_t>> by_disposition;    // a handful of values

  // One row of facts: `records` records of `messages` messages on `day`, with this disposition
  // and these results. with_days: counted per day and per disposition as well.
  struct Row {
    std::int64_t day = 0;
    std::string_view disposition;
    bool dmarc_pass = false;
    bool spf_aligned = false;
    bool dkim_aligned = false;
    std::int64_t records = 0;
    std::int64_t messages = 0;
  };
  void Add(const Row& row, bool with_days);
};

// Seven columns from first on: name, type, reverse_dns, country, asn, as_name, base_domain;
// text(c) and integer(c) read column c of the current row (std::optional, nullopt for NULL).
template <class Text, class Integer>
SourceDetails DetailsFrom(int first, Text&& text, Integer&& integer) {
  return {.name = text(first),
          .type = text(first + 1),
          .reverse_dns = text(first + 2),
          .country = text(first + 3),
          .asn = integer(first + 4),
          .as_name = text(first + 5),
          .base_domain = text(first + 6)};
}

// What enrichment knows of every source address now (its row in ip_info_cache), by source_ips id,
// for the views that group addresses by service, country, ... Each back end reads it (and keeps
// it while the store is unchanged) and stores the addresses by id.
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

  AddressDetails() = default;
  AddressDetails(const AddressDetails&) = delete;
  AddressDetails& operator=(const AddressDetails&) = delete;
  virtual ~AddressDetails() = default;

  // The address with this source_ips id; nullptr when nothing is known of it.
  virtual const Address* Of(std::int64_t id) const = 0;
  // The value an address has in a group other than "ip" (nullopt: unknown).
  std::optional<std::string> GroupValue(const Address* a, std::string_view group) const;
  // Its descriptive attributes (all unknown for nullptr).
  SourceDetails Describe(const Address* a) const;

 protected:
  void ClearTexts() { texts_.clear(); }
  // Fills a from one row of ip_info_cache: text(f) is field f (std::optional<std::string_view>,
  // nullopt for NULL).
  template <class Text>
  void Fill(Address& a, std::optional<std::int64_t> asn, Text&& text) {
    a.known = true;
    a.has_asn = asn.has_value();
    a.asn = asn.value_or(0);
    for (int f = 0; f < kFields; ++f) {
      if (auto t = text(static_cast<Field>(f))) AddText(a, f, *t);
    }
  }

 private:
  void AddText(Address& a, int f, std::string_view text);
  std::optional<std::string_view> TextOf(const Address* a, Field f) const;

  std::string texts_;
};

struct IpSums {
  std::int64_t messages = 0, dmarc_pass = 0, spf_aligned = 0, dkim_aligned = 0, records = 0;
};
using IpTotals = std::unordered_map<std::int64_t, IpSums>;  // source_ips id → sums

// Adds one row of the per-address rollup (columns ip, messages, dmarc_pass, spf_aligned,
// dkim_aligned, records; column(c) reads column c) to ips. Failing records are never aligned:
// with `failing`, only their messages count.
template <class Column>
void AddPerAddressRow(IpTotals& ips, bool failing, Column&& column) {
  IpSums& t = ips[column(0)];
  if (failing) {
    t.messages += column(1) - column(2);
    return;
  }
  t.messages += column(1);
  t.dmarc_pass += column(2);
  t.spf_aligned += column(3);
  t.dkim_aligned += column(4);
  t.records += column(5);
}

// Records grouped by a source attribute. Without a header-from or reporter filter the groups come
// from the per-address rollups, each address described as enrichment knows it now
// (AddressDetails), so a service's addresses are exactly those its row counted; otherwise from the
// records themselves, as they were stored. The back ends supply the queries.
class SourceGrouping {
 public:
  SourceGrouping() = default;
  SourceGrouping(const SourceGrouping&) = delete;
  SourceGrouping& operator=(const SourceGrouping&) = delete;
  virtual ~SourceGrouping() = default;

  // DashboardQueries::Sources.
  Result<SourcesResult> Sources(const DashboardFilter& filter, std::string_view group,
                                const ListPage& page);
  // Per source address sums of a filter without header-from, drill-down or reporter.
  virtual Result<IpTotals> SumsPerIp(const DashboardFilter& filter) = 0;
  // Those addresses grouped by address or by one of its attributes, largest first: the first
  // limit; or the page of those matching its search, with their number (out.total).
  Result<std::vector<SourceRow>> GroupIps(const IpTotals& ips, std::string_view group,
                                          std::size_t limit);
  Result<bool> GroupIps(const IpTotals& ips, std::string_view group, const ListPage& page,
                        SourcesResult& out);

 protected:
  // Sets the key (the address) and details (its row in ip_info_cache) of rows[i], the address
  // with source_ips id ids[i]; leaves the rows of unknown ids as they are.
  virtual Result<bool> NameAddresses(const std::vector<std::int64_t>& ids,
                                     std::vector<SourceRow>& rows) = 0;
  // Reads what enrichment knows of every address (unless it is still current).
  virtual Result<bool> LoadAddresses() = 0;
  virtual const AddressDetails& Addresses() const = 0;
  // The source_ips id of an address, or -1.
  virtual Result<std::int64_t> IdOfAddress(const std::string& ip) = 0;
  // Grouped from the records, as stored (any filter), every group, largest first.
  virtual Result<std::vector<SourceRow>> FromRecords(const DashboardFilter& filter,
                                                     std::string_view group,
                                                     const char* column) = 0;

 private:
  Result<bool> TopAddresses(const IpTotals& ips, const ListPage& page, SourcesResult& out);
  Result<std::vector<SourceRow>> ByAttribute(const IpTotals& ips, std::string_view group);
  // Keeps the addresses of ips whose value in group is value ("" keeps those with none).
  Result<bool> KeepGroup(IpTotals& ips, std::string_view group, const std::string& value);
};

// DashboardQueries::Overview, the same for every back end, run in the caller's snapshot: the top
// addresses and countries from `sources`, the totals, days and dispositions from sum_facts (with
// days), the counts of addresses (unless known), reports and reporters from count, and the same
// totals for the period before when the filter has both days.
using SumFactsFn = std::function<Result<FactSums>(const DashboardFilter&, bool with_days)>;
using CountSourcesAndReportsFn = std::function<Result<bool>(
    const DashboardFilter&, std::optional<std::int64_t> known_sources, Totals&)>;
Result<OverviewResult> OverviewOf(const DashboardFilter& filter, SourceGrouping& sources,
                                  const SumFactsFn& sum_facts,
                                  const CountSourcesAndReportsFn& count);

}  // namespace dmarc::store
