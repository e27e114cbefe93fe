#include "store/pg/pg_dashboard_sources.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

#include "store/pg/pg_dashboard_sql.h"

namespace dmarc::store::pg {

namespace {

void Add(SourceRow& row, const IpSums& t) {
  ++row.ips;
  row.sums.messages += t.messages;
  row.sums.dmarc_pass += t.dmarc_pass;
  row.sums.spf_aligned += t.spf_aligned;
  row.sums.dkim_aligned += t.dkim_aligned;
  row.records += t.records;
}

// Seven columns from first on: name, type, reverse_dns, country, asn, as_name, base_domain.
SourceDetails DetailsFrom(const Rows& s, int i, int first) {
  return {.name = s.OptText(i, first),
          .type = s.OptText(i, first + 1),
          .reverse_dns = s.OptText(i, first + 2),
          .country = s.OptText(i, first + 3),
          .asn = s.OptInt(i, first + 4),
          .as_name = s.OptText(i, first + 5),
          .base_domain = s.OptText(i, first + 6)};
}

}  // namespace

Result<SourcesResult> SourceGrouping::Sources(const DashboardFilter& filter, std::string_view group,
                                              std::size_t limit) {
  const char* col = SourceGroupColumn(group);
  if (!col) return MakeError(fmt::format("unknown source group \"{}\"", group));
  SourcesResult out{std::string(group), {}};
  if (!filter.org_name && !filter.header_from) {
    if (!filter.source_group) {
      IpTotals ips;
      DMARC_TRY_ASSIGN(ips, SumsPerIp(filter));
      DMARC_TRY_ASSIGN(out.rows, GroupIps(ips, group, limit));
      return out;
    }
    // A drill-down from one group of addresses to another: the per-address rollups of the
    // addresses in that group, as the grouping found them.
    if (filter.source_value && SourceGroupColumn(*filter.source_group)) {
      DashboardFilter all = filter;
      all.source_group.reset();
      all.source_value.reset();
      IpTotals ips;
      DMARC_TRY_ASSIGN(ips, SumsPerIp(all));
      DMARC_TRY(KeepGroup(ips, *filter.source_group, *filter.source_value));
      DMARC_TRY_ASSIGN(out.rows, GroupIps(ips, group, limit));
      return out;
    }
  }
  DMARC_TRY_ASSIGN(out.rows, FromRecords(filter, group, col, limit));
  return out;
}

// Added up here from the per-address rollup, in the order the SQLite store reads it (so equal
// groups are described alike). Failing records are never aligned: only their messages count.
Result<IpTotals> SourceGrouping::SumsPerIp(const DashboardFilter& filter) {
  IpTotals out;
  const bool failing = filter.only_failing;
  Query q;
  q.sql = "SELECT r.ip, r.messages, r.dmarc_pass, r.spf_aligned, r.dkim_aligned, r.records" +
          PerAddressFrom(filter, q, true);
  auto rows = conn_.Query(q.sql, q.params);
  if (!rows) return std::move(rows).error_value();
  const Rows& s = *rows;
  for (int i = 0; i < s.size(); ++i) {
    IpSums& t = out[s.Int(i, 0)];
    if (failing) {
      t.messages += s.Int(i, 1) - s.Int(i, 2);
      continue;
    }
    t.messages += s.Int(i, 1);
    t.dmarc_pass += s.Int(i, 2);
    t.spf_aligned += s.Int(i, 3);
    t.dkim_aligned += s.Int(i, 4);
    t.records += s.Int(i, 5);
  }
  return out;
}

Result<std::vector<SourceRow>> SourceGrouping::GroupIps(const IpTotals& ips, std::string_view group,
                                                        std::size_t limit) {
  if (group == "ip") return TopAddresses(ips, limit);
  return ByAttribute(ips, group, limit);
}

// The largest addresses (equal ones in the order they were first seen), each described by its
// row in ip_info_cache.
Result<std::vector<SourceRow>> SourceGrouping::TopAddresses(const IpTotals& ips,
                                                            std::size_t limit) {
  std::vector<std::pair<std::int64_t, const IpSums*>> order;
  order.reserve(ips.size());
  for (const auto& [id, t] : ips) order.emplace_back(id, &t);
  const std::size_t n = std::min(limit, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [](const auto& a, const auto& b) {
                      return a.second->messages != b.second->messages
                                 ? a.second->messages > b.second->messages
                                 : a.first < b.first;
                    });
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < n; ++i) ids.push_back(order[i].first);
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
  std::vector<SourceRow> rows;
  for (std::size_t i = 0; i < n; ++i) {
    SourceRow row;
    if (auto it = row_of.find(order[i].first); it != row_of.end()) {
      row.key = found->Text(it->second, 1);
      row.details = DetailsFrom(*found, it->second, 2);
    }
    Add(row, *order[i].second);
    rows.push_back(std::move(row));
  }
  return rows;
}

// Groups by an attribute of each address as AddressDetails knows it; each group described by its
// address with the most messages.
Result<std::vector<SourceRow>> SourceGrouping::ByAttribute(const IpTotals& ips,
                                                           std::string_view group,
                                                           std::size_t limit) {
  using Address = AddressDetails::Address;
  DMARC_TRY(addresses_.Load(conn_, version_));
  std::map<std::string, SourceRow> by_key;  // "" for unknown, else "=" + key
  std::map<std::string, std::pair<std::int64_t, const Address*>> describer;  // most messages
  std::string key;
  for (const auto& [id, t] : ips) {
    const Address* a = addresses_.Of(id);
    auto value = addresses_.GroupValue(a, group);
    key = value ? "=" + *value : std::string();
    Add(by_key[key], t);
    if (!a) continue;
    auto [d, fresh] = describer.try_emplace(key, t.messages, a);
    if (!fresh && t.messages > d->second.first) d->second = {t.messages, a};
  }
  std::vector<SourceRow> rows;
  for (auto& [k, row] : by_key) {
    auto d = describer.find(k);
    row.details = addresses_.Describe(d == describer.end() ? nullptr : d->second.second);
    if (!k.empty()) row.key = k.substr(1);
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const SourceRow& a, const SourceRow& b) {
    return a.sums.messages > b.sums.messages;
  });
  if (rows.size() > limit) rows.resize(limit);
  return rows;
}

Result<bool> SourceGrouping::KeepGroup(IpTotals& ips, std::string_view group,
                                       const std::string& value) {
  if (group == "ip") {
    std::int64_t id = -1;
    if (Comparable(value)) {
      Params p;
      p.Add(value);
      auto s = conn_.Query("SELECT id FROM source_ips WHERE ip = $1", p);
      if (!s) return std::move(s).error_value();
      if (s->size() > 0) id = s->Int(0, 0);
    }
    std::erase_if(ips, [&](const auto& ip) { return ip.first != id; });
    return true;
  }
  DMARC_TRY(addresses_.Load(conn_, version_));
  std::erase_if(ips, [&](const auto& ip) {
    return addresses_.GroupValue(addresses_.Of(ip.first), group).value_or(std::string()) != value;
  });
  return true;
}

Result<std::vector<SourceRow>> SourceGrouping::FromRecords(const DashboardFilter& filter,
                                                           std::string_view group,
                                                           const char* column, std::size_t limit) {
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
      " FROM aggregate_records r{1} GROUP BY r.{0} ORDER BY 3 DESC, r.{0}{2} LIMIT {3}",
      column, where,
      std::string(integer ? "" : " COLLATE \"C\"") +
          (ascending ? " NULLS FIRST" : " DESC NULLS LAST"),
      q.Value(static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX))));
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
