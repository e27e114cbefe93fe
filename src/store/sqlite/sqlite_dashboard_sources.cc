#include "store/sqlite/sqlite_dashboard_sources.h"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "store/sqlite/sqlite_dashboard_sql.h"

namespace dmarc::store::sqlite {

namespace {

// Seven columns from first on: name, type, reverse_dns, country, asn, as_name, base_domain.
SourceDetails DetailsFrom(const Statement& s, int first) {
  return store::DetailsFrom(
      first, [&](int c) { return s.OptText(c); }, [&](int c) { return s.OptInt(c); });
}

}  // namespace

// Added up here from the per-address rollup (a hash map is faster than SQLite's sorted GROUP BY
// over every day and address).
Result<IpTotals> SourceGrouping::SumsPerIp(const DashboardFilter& filter) {
  IpTotals out;
  const bool failing = filter.only_failing;
  DMARC_TRY(Rows(db_,
                 "SELECT r.ip, r.messages, r.dmarc_pass, r.spf_aligned, r.dkim_aligned, r.records" +
                     PerAddressFrom(filter),
                 filter, [&](Statement& s) {
                   AddPerAddressRow(out, failing, [&](int c) { return s.Int(c); });
                 }));
  return out;
}

// Each address described by its row in ip_info_cache, one lookup per address.
Result<bool> SourceGrouping::NameAddresses(const std::vector<std::int64_t>& ids,
                                           std::vector<SourceRow>& rows) {
  auto lookup = db_.Prepare(
      "SELECT s.ip, c.name, c.type, c.reverse_dns, c.country, c.asn, c.as_name, c.base_domain"
      " FROM source_ips s LEFT JOIN ip_info_cache c ON c.ip = s.ip WHERE s.id = ?1");
  if (!lookup) return MakeError(lookup.error());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    lookup->Bind(1, ids[i]);
    auto found = lookup->Step();
    if (!found) return MakeError(found.error());
    if (*found) {
      const Statement& s = *lookup;
      rows[i].key = s.Text(0);
      rows[i].details = DetailsFrom(s, 1);
    }
    lookup->Reset();
  }
  return true;
}

Result<std::int64_t> SourceGrouping::IdOfAddress(const std::string& ip) {
  auto s = db_.Prepare("SELECT id FROM source_ips WHERE ip = ?1");
  if (!s) return MakeError(s.error());
  s->Bind(1, ip);
  std::int64_t id = -1;
  DMARC_TRY(Each(*s, [&](Statement& st) { id = st.Int(0); }));
  return id;
}

Result<std::vector<SourceRow>> SourceGrouping::FromRecords(const DashboardFilter& filter,
                                                           std::string_view group,
                                                           const char* column) {
  std::vector<SourceRow> rows;
  // The first value of each descriptive column names the group (all IPs of a service share
  // its name; an IP has one PTR name, country and AS).
  DMARC_TRY(Rows(db_,
                 fmt::format("SELECT r.{0}, count(DISTINCT r.source_ip), sum(r.count),"
                             " sum(r.count * r.dmarc_aligned), sum(r.count * r.spf_aligned),"
                             " sum(r.count * r.dkim_aligned), count(*), max(r.source_name),"
                             " max(r.source_type), max(r.source_reverse_dns),"
                             " max(r.source_country), max(r.source_asn), max(r.source_as_name),"
                             " max(r.source_base_domain)"
                             " FROM aggregate_records r{1} GROUP BY r.{0} ORDER BY 3 DESC",
                             column, RecordWhere(filter)),
                 filter, [&](Statement& s) {
                   SourceRow row;
                   row.key = s.OptText(0);
                   if (group == "asn" && !s.IsNull(0)) row.key = std::to_string(s.Int(0));
                   row.ips = s.Int(1);
                   row.sums = {s.Int(2), s.Int(3), s.Int(4), s.Int(5)};
                   row.records = s.Int(6);
                   row.details = DetailsFrom(s, 7);
                   rows.push_back(std::move(row));
                 }));
  return rows;
}

}  // namespace dmarc::store::sqlite
