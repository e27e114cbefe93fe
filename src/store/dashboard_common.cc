#include "store/dashboard_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

#include "base/time.h"

namespace dmarc::store {

namespace {

struct SourceGroup {
  const char* name;
  const char* column;
};
constexpr std::array<SourceGroup, 6> kSourceGroups = {{
    {"service", "source_name"},
    {"base_domain", "source_base_domain"},
    {"ptr", "source_reverse_dns"},
    {"ip", "source_ip"},
    {"asn", "source_asn"},
    {"country", "source_country"},
}};

void Add(SourceRow& row, const IpSums& t) {
  ++row.ips;
  row.sums.messages += t.messages;
  row.sums.dmarc_pass += t.dmarc_pass;
  row.sums.spf_aligned += t.spf_aligned;
  row.sums.dkim_aligned += t.dkim_aligned;
  row.records += t.records;
}

}  // namespace

const char* SourceGroupColumn(std::string_view group) {
  for (const auto& g : kSourceGroups) {
    if (group == g.name) return g.column;
  }
  return nullptr;
}

bool IsSourceGroup(std::string_view group) { return SourceGroupColumn(group) != nullptr; }

namespace {

char LowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether row matches search (its key and descriptive columns, as the answer shows them).
bool RowMatches(const SourceRow& row, std::string_view search) {
  if (search.empty()) return true;
  auto has = [&](const std::optional<std::string>& v) { return v && SearchMatches(*v, search); };
  if (has(row.key)) return true;
  if (!row.details) return false;
  const SourceDetails& d = *row.details;
  return has(d.name) || has(d.type) || has(d.reverse_dns) || has(d.country) || has(d.as_name) ||
         has(d.base_domain) || (d.asn && SearchMatches(std::to_string(*d.asn), search));
}

// rows[offset, offset + limit) of those that match the page's search, and how many match.
void PageOf(std::vector<SourceRow> rows, const ListPage& page, SourcesResult& out) {
  std::erase_if(rows, [&](const SourceRow& r) { return !RowMatches(r, page.search); });
  out.total = static_cast<std::int64_t>(rows.size());
  const std::size_t first = std::min(page.offset, rows.size());
  const std::size_t last = first + std::min(page.limit, rows.size() - first);
  out.rows.assign(std::make_move_iterator(rows.begin() + static_cast<std::ptrdiff_t>(first)),
                  std::make_move_iterator(rows.begin() + static_cast<std::ptrdiff_t>(last)));
}

}  // namespace

bool SearchMatches(std::string_view text, std::string_view search) {
  if (search.empty()) return true;
  if (search.size() > text.size()) return false;
  for (std::size_t i = 0; i + search.size() <= text.size(); ++i) {
    std::size_t k = 0;
    while (k < search.size() && LowerAscii(text[i + k]) == LowerAscii(search[k])) ++k;
    if (k == search.size()) return true;
  }
  return false;
}

std::string SearchLikePattern(std::string_view search) {
  std::string out = "%";
  for (char c : search) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += LowerAscii(c);
  }
  out += '%';
  return out;
}

bool Rollup(const DashboardFilter& f) { return !f.source_group && !f.org_name; }

Facts FactsFor(const DashboardFilter& f) {
  return Rollup(f) ? Facts{"daily_results", "r.messages", "r.records"}
                   : Facts{"aggregate_records", "r.count", "1"};
}

DashboardFilter PreviousPeriod(const DashboardFilter& filter) {
  DashboardFilter prev = filter;
  const std::int64_t days = (*filter.range.to - *filter.range.from) / kSecondsPerDay + 1;
  prev.range.from = *filter.range.from - days * kSecondsPerDay;
  prev.range.to = *filter.range.from - kSecondsPerDay;
  return prev;
}

void FactSums::Add(const Row& row, bool with_days) {
  const std::int64_t m = row.messages;
  totals.records += row.records;
  totals.sums.messages += m;
  if (row.dmarc_pass) totals.sums.dmarc_pass += m;
  if (row.spf_aligned) totals.sums.spf_aligned += m;
  if (row.dkim_aligned) totals.sums.dkim_aligned += m;
  if (!with_days) return;
  auto& day = days[row.day];
  day.first += m;
  if (row.dmarc_pass) day.second += m;
  auto it = std::find_if(by_disposition.begin(), by_disposition.end(),
                         [&](const auto& d) { return d.first == row.disposition; });
  if (it == by_disposition.end()) {
    by_disposition.emplace_back(row.disposition, m);
  } else {
    it->second += m;
  }
}

Result<OverviewResult> OverviewOf(const DashboardFilter& filter, SourceGrouping& sources,
                                  const SumFactsFn& sum_facts,
                                  const CountSourcesAndReportsFn& count) {
  OverviewResult out;
  std::optional<std::int64_t> known_sources;
  if (Rollup(filter) && !filter.header_from) {
    auto ips = sources.SumsPerIp(filter);
    if (!ips) return std::move(ips).error_value();
    DMARC_TRY_ASSIGN(out.top_sources, sources.GroupIps(*ips, "ip", 10));
    DMARC_TRY_ASSIGN(out.countries, sources.GroupIps(*ips, "country", 50));
    known_sources = static_cast<std::int64_t>(ips->size());
  } else {
    SourcesResult top, countries;
    DMARC_TRY_ASSIGN(
        top, sources.Sources(filter, "ip", ListPage{.offset = 0, .limit = 10, .search = {}}));
    DMARC_TRY_ASSIGN(countries, sources.Sources(filter, "country",
                                                ListPage{.offset = 0, .limit = 50, .search = {}}));
    out.top_sources = std::move(top.rows);
    out.countries = std::move(countries.rows);
  }
  FactSums sums;
  DMARC_TRY_ASSIGN(sums, sum_facts(filter, true));
  out.totals = sums.totals;
  for (const auto& [day, m] : sums.days) out.daily.push_back({day, m.first, m.second});
  out.by_disposition = std::move(sums.by_disposition);
  DMARC_TRY(count(filter, known_sources, out.totals));
  if (filter.range.from && filter.range.to) {
    const DashboardFilter prev = PreviousPeriod(filter);
    OverviewResult::Previous p{{}, *prev.range.from, *prev.range.to};
    FactSums before;
    DMARC_TRY_ASSIGN(before, sum_facts(prev, false));
    p.totals = before.totals;
    DMARC_TRY(count(prev, std::nullopt, p.totals));
    out.previous = p;
  }
  return out;
}

// ---- AddressDetails ----

void AddressDetails::AddText(Address& a, int f, std::string_view text) {
  a.present |= static_cast<std::uint8_t>(1u << f);
  a.at[f] = texts_.size();
  a.size[f] = static_cast<std::uint32_t>(text.size());
  texts_.append(text);
}

std::optional<std::string_view> AddressDetails::TextOf(const Address* a, Field f) const {
  if (!a || !(a->present & (1u << f))) return std::nullopt;
  return std::string_view(texts_).substr(a->at[f], a->size[f]);
}

std::optional<std::string> AddressDetails::GroupValue(const Address* a,
                                                      std::string_view group) const {
  if (!a) return std::nullopt;
  if (group == "asn") return a->has_asn ? std::optional(std::to_string(a->asn)) : std::nullopt;
  auto text = TextOf(a, group == "ptr"           ? kReverseDns
                        : group == "base_domain" ? kBaseDomain
                        : group == "country"     ? kCountry
                                                 : kName);
  return text ? std::optional<std::string>(*text) : std::nullopt;
}

SourceDetails AddressDetails::Describe(const Address* a) const {
  auto text = [&](Field f) -> std::optional<std::string> {
    auto t = TextOf(a, f);
    return t ? std::optional<std::string>(*t) : std::nullopt;
  };
  SourceDetails d;
  d.reverse_dns = text(kReverseDns);
  d.base_domain = text(kBaseDomain);
  d.country = text(kCountry);
  if (a && a->has_asn) d.asn = a->asn;
  d.as_name = text(kAsName);
  d.name = text(kName);
  d.type = text(kType);
  return d;
}

// ---- SourceGrouping ----

Result<SourcesResult> SourceGrouping::Sources(const DashboardFilter& filter, std::string_view group,
                                              const ListPage& page) {
  const char* col = SourceGroupColumn(group);
  if (!col) return MakeError(fmt::format("unknown source group \"{}\"", group));
  SourcesResult out{std::string(group), {}, 0};
  if (!filter.org_name && !filter.header_from) {
    if (!filter.source_group) {
      auto ips = SumsPerIp(filter);
      if (!ips) return std::move(ips).error_value();
      DMARC_TRY(GroupIps(*ips, group, page, out));
      return out;
    }
    // A drill-down from one group of addresses (a service, a country, ...) to another: the
    // per-address rollups of the addresses in that group, as the grouping found them.
    if (filter.source_value && SourceGroupColumn(*filter.source_group)) {
      DashboardFilter all = filter;
      all.source_group.reset();
      all.source_value.reset();
      auto ips = SumsPerIp(all);
      if (!ips) return std::move(ips).error_value();
      DMARC_TRY(KeepGroup(*ips, *filter.source_group, *filter.source_value));
      DMARC_TRY(GroupIps(*ips, group, page, out));
      return out;
    }
  }
  std::vector<SourceRow> rows;
  DMARC_TRY_ASSIGN(rows, FromRecords(filter, group, col));
  PageOf(std::move(rows), page, out);
  return out;
}

Result<std::vector<SourceRow>> SourceGrouping::GroupIps(const IpTotals& ips, std::string_view group,
                                                        std::size_t limit) {
  SourcesResult out;
  DMARC_TRY(GroupIps(ips, group, ListPage{.offset = 0, .limit = limit, .search = {}}, out));
  return std::move(out.rows);
}

Result<bool> SourceGrouping::GroupIps(const IpTotals& ips, std::string_view group,
                                      const ListPage& page, SourcesResult& out) {
  if (group == "ip") return TopAddresses(ips, page, out);
  std::vector<SourceRow> rows;
  DMARC_TRY_ASSIGN(rows, ByAttribute(ips, group));
  PageOf(std::move(rows), page, out);
  return true;
}

// The largest addresses (equal ones by id), each described by its row in ip_info_cache. With a
// search, every address is described first (to know which match), else only the page's.
Result<bool> SourceGrouping::TopAddresses(const IpTotals& ips, const ListPage& page,
                                          SourcesResult& out) {
  std::vector<std::pair<std::int64_t, const IpSums*>> order;
  order.reserve(ips.size());
  for (const auto& [id, t] : ips) order.emplace_back(id, &t);
  const auto larger = [](const auto& a, const auto& b) {
    return a.second->messages != b.second->messages ? a.second->messages > b.second->messages
                                                    : a.first < b.first;
  };
  std::vector<SourceRow> described;
  if (!page.search.empty()) {
    std::sort(order.begin(), order.end(), larger);
    std::vector<std::int64_t> ids;
    ids.reserve(order.size());
    for (const auto& o : order) ids.push_back(o.first);
    std::vector<SourceRow> rows(order.size());
    DMARC_TRY(NameAddresses(ids, rows));
    for (std::size_t i = 0; i < order.size(); ++i) {
      Add(rows[i], *order[i].second);
      if (RowMatches(rows[i], page.search)) described.push_back(std::move(rows[i]));
    }
    PageOf(std::move(described), ListPage{page.offset, page.limit, {}}, out);
    return true;
  }
  out.total = static_cast<std::int64_t>(order.size());
  const std::size_t first = std::min(page.offset, order.size());
  const std::size_t last = first + std::min(page.limit, order.size() - first);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(last), order.end(),
                    larger);
  std::vector<std::int64_t> ids;
  ids.reserve(last - first);
  for (std::size_t i = first; i < last; ++i) ids.push_back(order[i].first);
  std::vector<SourceRow> rows(ids.size());
  DMARC_TRY(NameAddresses(ids, rows));
  for (std::size_t i = 0; i < ids.size(); ++i) Add(rows[i], *order[first + i].second);
  out.rows = std::move(rows);
  return true;
}

// Groups by an attribute of each address as AddressDetails knows it; each group described by its
// address with the most messages.
Result<std::vector<SourceRow>> SourceGrouping::ByAttribute(const IpTotals& ips,
                                                           std::string_view group) {
  using Address = AddressDetails::Address;
  DMARC_TRY(LoadAddresses());
  const AddressDetails& addresses = Addresses();
  std::map<std::string, SourceRow> by_key;  // "" for unknown, else "=" + key
  std::map<std::string, std::pair<std::int64_t, const Address*>> describer;  // most messages
  std::string key;
  for (const auto& [id, t] : ips) {
    const Address* a = addresses.Of(id);
    auto value = addresses.GroupValue(a, group);
    key = value ? "=" + *value : std::string();
    Add(by_key[key], t);
    if (!a) continue;
    auto [d, fresh] = describer.try_emplace(key, t.messages, a);
    if (!fresh && t.messages > d->second.first) d->second = {t.messages, a};
  }
  std::vector<SourceRow> rows;
  rows.reserve(by_key.size());
  for (auto& [k, row] : by_key) {
    auto d = describer.find(k);
    row.details = addresses.Describe(d == describer.end() ? nullptr : d->second.second);
    if (!k.empty()) row.key = k.substr(1);
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const SourceRow& a, const SourceRow& b) {
    return a.sums.messages > b.sums.messages;
  });
  return rows;
}

Result<bool> SourceGrouping::KeepGroup(IpTotals& ips, std::string_view group,
                                       const std::string& value) {
  if (group == "ip") {
    std::int64_t id = -1;
    DMARC_TRY_ASSIGN(id, IdOfAddress(value));
    std::erase_if(ips, [&](const auto& ip) { return ip.first != id; });
    return true;
  }
  DMARC_TRY(LoadAddresses());
  const AddressDetails& addresses = Addresses();
  std::erase_if(ips, [&](const auto& ip) {
    return addresses.GroupValue(addresses.Of(ip.first), group).value_or(std::string()) != value;
  });
  return true;
}

}  // namespace dmarc::store
