#include "store/pg/pg_dashboard_sources.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "store/pg/pg_dashboard_sql.h"

namespace dmarc::store::pg {

namespace {

// Seven columns from first on: name, type, reverse_dns, country, asn, as_name, base_domain.
SourceDetails DetailsFrom(const Rows& s, int i, int first) {
  return store::DetailsFrom(
      first, [&](int c) { return s.OptText(i, c); }, [&](int c) { return s.OptInt(i, c); });
}

}  // namespace

// Added up here from the per-address rollup, in the order the SQLite store reads it (so equal
// groups are described alike).
Result<IpTotals> SourceGrouping::SumsPerIp(const DashboardFilter& filter) {
  IpTotals out;
  Query q;
  q.sql = "SELECT r.ip, r.messages, r.dmarc_pass, r.spf_aligned, r.dkim_aligned, r.records" +
          PerAddressFrom(filter, q, true);
  auto rows = conn_.Query(q.sql, q.params);
  if (!rows) return std::move(rows).error_value();
  const Rows& s = *rows;
  for (int i = 0; i < s.size(); ++i) {
    AddPerAddressRow(out, filter.only_failing, [&](int c) { return s.Int(i, c); });
  }
  return out;
}

// Each address described by its row in ip_info_cache, all in one query.
Result<bool> SourceGrouping::NameAddresses(const std::vector<std::int64_t>& ids,
                                           std::vector<SourceRow>& rows) {
  Params p;
  p.AddArray(ids);
  auto found = conn_.Query(
      "SELECT s.id, s.ip, c.name, c.type, c.reverse_dns, c.country, c.asn, c.as_name,"
      " c.base_domain FROM source_ips s LEFT JOIN ip_info_cache c ON c.ip = s.ip"
      " WHERE s.id = ANY($1::bigint[])",
      p);
  if (!found) return std::move(found).error_value();
  std::unordered_map<std::int64_t, int> row_of;
  for (int i = 0; i < found->size(); ++i) row_of[found->Int(i, 0)] = i;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (auto it = row_of.find(ids[i]); it != row_of.end()) {
      rows[i].key = found->Text(it->second, 1);
      rows[i].details = DetailsFrom(*found, it->second, 2);
    }
  }
  return true;
}

Result<std::int64_t> SourceGrouping::IdOfAddress(const std::string& ip) {
  if (!Comparable(ip)) return std::int64_t{-1};
  Params p;
  p.Add(ip);
  auto s = conn_.Query("SELECT id FROM source_ips WHERE ip = $1", p);
  if (!s) return std::move(s).error_value();
  return s->size() > 0 ? s->Int(0, 0) : std::int64_t{-1};
}

Result<std::vector<SourceRow>> SourceGrouping::FromRecords(const DashboardFilter& filter,
                                                           std::string_view group,
                                                           const char* column) {
  std::vector<SourceRow> rows;
  // The largest value of each descriptive column names the group (all IPs of a service share
  // its name; an IP has one PTR name, country and AS). Texts compare as bytes (as in SQLite).
  // Equal groups come in the order SQLite groups them (its sort keeps that order): by address
  // ascending when it reads the records through the index on source_ip (by address without a
  // header-from), else descending, unknown last (it sorts groups in the direction of the ORDER
  // BY when both have as many terms).
  const bool integer = group == "asn";
  const bool ascending = group == "ip" && !filter.header_from;
  Query q;
  const std::string where = RecordWhere(filter, q);
  q.sql = fmt::format(
      "SELECT r.{0}, count(DISTINCT r.source_ip), sum(r.count)::bigint,"
      " sum(r.count * r.dmarc_aligned)::bigint, sum(r.count * r.spf_aligned)::bigint,"
      " sum(r.count * r.dkim_aligned)::bigint, count(*), max(r.source_name COLLATE \"C\"),"
      " max(r.source_type COLLATE \"C\"), max(r.source_reverse_dns COLLATE \"C\"),"
      " max(r.source_country COLLATE \"C\"), max(r.source_asn),"
      " max(r.source_as_name COLLATE \"C\"), max(r.source_base_domain COLLATE \"C\")"
      " FROM aggregate_records r{1} GROUP BY r.{0} ORDER BY 3 DESC, r.{0}{2}",
      column, where,
      std::string(integer ? "" : " COLLATE \"C\"") +
          (ascending ? " NULLS FIRST" : " DESC NULLS LAST"));
  auto found = conn_.Query(q.sql, q.params);
  if (!found) return std::move(found).error_value();
  const Rows& s = *found;
  for (int i = 0; i < s.size(); ++i) {
    SourceRow row;
    row.key = s.OptText(i, 0);
    row.ips = s.Int(i, 1);
    row.sums = {s.Int(i, 2), s.Int(i, 3), s.Int(i, 4), s.Int(i, 5)};
    row.records = s.Int(i, 6);
    row.details = DetailsFrom(s, i, 7);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace dmarc::store::pg
