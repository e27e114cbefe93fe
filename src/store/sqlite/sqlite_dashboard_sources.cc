#include "store/sqlite/sqlite_dashboard_sources.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

#include "store/sqlite/sqlite_dashboard_sql.h"

namespace dmarc::store::sqlite {

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
SourceDetails DetailsFrom(const Statement& s, int first) {
  return {.name = s.OptText(first),
          .type = s.OptText(first + 1),
          .reverse_dns = s.OptText(first + 2),
          .country = s.OptText(first + 3),
          .asn = s.OptInt(first + 4),
          .as_name = s.OptText(first + 5),
          .base_domain = s.OptText(first + 6)};
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
    // A drill-down from one group of addresses (a service, a country, ...) to another: the
    // per-address rollups of the addresses in that group, as the grouping found them.
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

// Added up here from the per-address rollup (a hash map is faster than SQLite's sorted GROUP BY
// over every day and address). Failing records are never aligned: only their messages count.
Result<IpTotals> SourceGrouping::SumsPerIp(const DashboardFilter& filter) {
  IpTotals out;
  const bool failing = filter.only_failing;
  DMARC_TRY(Rows(db_,
                 "SELECT r.ip, r.messages, r.dmarc_pass, r.spf_aligned, r.dkim_aligned, r.records" +
                     PerAddressFrom(filter),
                 filter, [&](Statement& s) {
                   IpSums& t = out[s.Int(0)];
                   if (failing) {
                     t.messages += s.Int(1) - s.Int(2);
                     return;
                   }
                   t.messages += s.Int(1);
                   t.dmarc_pass += s.Int(2);
                   t.spf_aligned += s.Int(3);
                   t.dkim_aligned += s.Int(4);
                   t.records += s.Int(5);
                 }));
  return out;
}

Result<std::vector<SourceRow>> SourceGrouping::GroupIps(const IpTotals& ips, std::string_view group,
                                                        std::size_t limit) {
  if (group == "ip") return TopAddresses(ips, limit);
  return ByAttribute(ips, group, limit);
}

// The largest addresses, each described by its row in ip_info_cache.
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
  auto lookup = db_.Prepare(
      "SELECT s.ip, c.name, c.type, c.reverse_dns, c.country, c.asn, c.as_name, c.base_domain"
      " FROM source_ips s LEFT JOIN ip_info_cache c ON c.ip = s.ip WHERE s.id = ?1");
  if (!lookup) return MakeError(lookup.error());
  std::vector<SourceRow> rows;
  for (std::size_t i = 0; i < n; ++i) {
    lookup->Bind(1, order[i].first);
    auto found = lookup->Step();
    if (!found) return MakeError(found.error());
    SourceRow row;
    if (*found) {
      const Statement& s = *lookup;
      row.key = s.Text(0);
      row.details = DetailsFrom(s, 1);
    }
    lookup->Reset();
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
  DMARC_TRY(addresses_.Load(db_));
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
    auto s = db_.Prepare("SELECT id FROM source_ips WHERE ip = ?1");
    if (!s) return MakeError(s.error());
    s->Bind(1, value);
    std::int64_t id = -1;
    DMARC_TRY(Each(*s, [&](Statement& st) { id = st.Int(0); }));
    std::erase_if(ips, [&](const auto& ip) { return ip.first != id; });
    return true;
  }
  DMARC_TRY(addresses_.Load(db_));
  std::erase_if(ips, [&](const auto& ip) {
    return addresses_.GroupValue(addresses_.Of(ip.first), group).value_or(std::string()) != value;
  });
  return true;
}

Result<std::vector<SourceRow>> SourceGrouping::FromRecords(const DashboardFilter& filter,
                                                           std::string_view group,
                                                           const char* column, std::size_t limit) {
  std::vector<SourceRow> rows;
  // The first value of each descriptive column names the group (all IPs of a service share
  // its name; an IP has one PTR name, country and AS).
  DMARC_TRY(Rows(
      db_,
      fmt::format("SELECT r.{0}, count(DISTINCT r.source_ip), sum(r.count),"
                  " sum(r.count * r.dmarc_aligned), sum(r.count * r.spf_aligned),"
                  " sum(r.count * r.dkim_aligned), count(*), max(r.source_name),"
                  " max(r.source_type), max(r.source_reverse_dns),"
                  " max(r.source_country), max(r.source_asn), max(r.source_as_name),"
                  " max(r.source_base_domain)"
                  " FROM aggregate_records r{1} GROUP BY r.{0} ORDER BY 3 DESC"
                  " LIMIT ?7",
                  column, RecordWhere(filter)),
      filter,
      [&](Statement& s) {
        SourceRow row;
        row.key = s.OptText(0);
        if (group == "asn" && !s.IsNull(0)) row.key = std::to_string(s.Int(0));
        row.ips = s.Int(1);
        row.sums = {s.Int(2), s.Int(3), s.Int(4), s.Int(5)};
        row.records = s.Int(6);
        row.details = DetailsFrom(s, 7);
        rows.push_back(std::move(row));
      },
      static_cast<std::int64_t>(limit)));
  return rows;
}

}  // namespace dmarc::store::sqlite
