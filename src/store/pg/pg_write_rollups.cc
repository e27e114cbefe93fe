// The PostgreSQL write path's rollups: a batch's new records summed per key in C++, then one
// upsert per table with arrays (unnest), rows in key order so that concurrent writers lock them
// in the same order; `x = t.x + excluded.x` keeps the sums exact whoever commits first.
#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string_view>

#include "store/pg/pg_write_impl.h"
#include "store/pg/pg_write_text.h"

namespace dmarc::store::pg_impl {

void PgRollups::Add(std::int64_t day, const std::string& domain, const model::Record& rec) {
  std::string t1, t2, t3;
  const std::string& header_from = CleanRef(rec.identifiers.header_from, t1);
  const std::string& disposition = CleanRef(rec.policy_evaluated.disposition, t2);
  const std::string& ip = CleanRef(rec.source.ip_address, t3);
  const auto count = static_cast<std::int64_t>(rec.count);
  SourceTotals& st = sources[{day, domain, ip}];
  st.messages += count;
  st.records += 1;
  if (rec.alignment.dmarc) st.dmarc_pass += count;
  if (rec.alignment.spf) st.spf_aligned += count;
  if (rec.alignment.dkim) st.dkim_aligned += count;
  ResultTotals& rt = results[{day, domain, header_from, disposition, rec.alignment.dmarc,
                              rec.alignment.spf, rec.alignment.dkim}];
  rt.records += 1;
  rt.messages += count;
}

Result<bool> PgStore::InternSourceIps(const std::vector<std::string>& ips) {
  std::vector<std::string> unknown;  // in the order they are numbered
  for (const auto& ip : ips) {
    if (!ip_ids_.contains(ip) && !pending_ip_ids_.contains(ip)) unknown.push_back(ip);
  }
  if (unknown.empty()) return true;
  Params params;
  params.AddArray(unknown);
  // Numbered as SQLite numbers them (densely, in the order given: the dashboard lists addresses
  // with equal messages by number), inserted in byte order (concurrent writers lock alike).
  DMARC_TRY(conn_.Query(
      "WITH fresh AS MATERIALIZED (SELECT u.ip FROM unnest($1::text[]) WITH ORDINALITY AS"
      " u(ip, n) WHERE NOT EXISTS (SELECT 1 FROM source_ips s WHERE s.ip = u.ip) ORDER BY u.n),"
      " numbered AS MATERIALIZED (SELECT ip, nextval('source_ips_id_seq') AS id FROM fresh)"
      " INSERT INTO source_ips (id, ip) SELECT id, ip FROM numbered ORDER BY ip COLLATE \"C\""
      " ON CONFLICT DO NOTHING",
      params));
  // A statement of its own: it sees the rows another writer committed while the INSERT waited.
  auto rows = conn_.Query("SELECT ip, id FROM source_ips WHERE ip = ANY($1::text[])", params);
  if (!rows) return std::move(rows).error_value();
  for (int i = 0; i < rows->size(); ++i) pending_ip_ids_[rows->Text(i, 0)] = rows->Int(i, 1);
  for (const auto& ip : unknown) {
    if (!pending_ip_ids_.contains(ip)) return MakeError(label_ + ": cannot number source IP " + ip);
  }
  return true;
}

namespace {

constexpr std::string_view kSumSources =
    " messages = {0}.messages + excluded.messages, records = {0}.records + excluded.records,"
    " dmarc_pass = {0}.dmarc_pass + excluded.dmarc_pass,"
    " spf_aligned = {0}.spf_aligned + excluded.spf_aligned,"
    " dkim_aligned = {0}.dkim_aligned + excluded.dkim_aligned";

struct SourceColumns {
  std::vector<std::int64_t> messages, records, pass, spf, dkim;
  void Push(const PgRollups::SourceTotals& st) {
    messages.push_back(st.messages);
    records.push_back(st.records);
    pass.push_back(st.dmarc_pass);
    spf.push_back(st.spf_aligned);
    dkim.push_back(st.dkim_aligned);
  }
  void AddTo(Params& p) const {
    p.AddArray(messages).AddArray(records).AddArray(pass).AddArray(spf).AddArray(dkim);
  }
};

using SourceTotals = PgRollups::SourceTotals;
// Sums per (policy domain, address number).
using DomainIpTotals = std::map<std::pair<std::string_view, std::int64_t>, SourceTotals>;

// The upsert of source sums into `table`: its key columns `keys` (one array each, typed as in
// `key_arrays`), then the columns of SourceColumns.
std::string SourceUpsert(std::string_view table, std::string_view keys,
                         std::string_view key_arrays) {
  const auto key_count = static_cast<std::size_t>(std::count(keys.begin(), keys.end(), ',') + 1);
  std::string arrays;
  for (std::size_t i = key_count + 1; i <= key_count + 5; ++i) {
    arrays += fmt::format(", ${}::bigint[]", i);
  }
  return fmt::format(
      "INSERT INTO {0} ({1}, messages, records, dmarc_pass, spf_aligned, dkim_aligned)"
      " SELECT * FROM unnest({2}{3}) ON CONFLICT ({1}) DO UPDATE SET{4}",
      table, keys, key_arrays, arrays, fmt::format(fmt::runtime(kSumSources), table));
}

Result<bool> StoreDailyResults(Connection& conn, const decltype(PgRollups::results)& results) {
  if (results.empty()) return true;
  std::vector<std::int64_t> day, dmarc, spf, dkim, records, messages;
  std::vector<std::string> domain, header_from, disposition;
  for (const auto& [key, t] : results) {
    day.push_back(std::get<0>(key));
    domain.push_back(std::get<1>(key));
    header_from.push_back(std::get<2>(key));
    disposition.push_back(std::get<3>(key));
    dmarc.push_back(std::get<4>(key) ? 1 : 0);
    spf.push_back(std::get<5>(key) ? 1 : 0);
    dkim.push_back(std::get<6>(key) ? 1 : 0);
    records.push_back(t.records);
    messages.push_back(t.messages);
  }
  DMARC_TRY(
      conn.Query("INSERT INTO daily_results (day, domain, header_from, disposition, dmarc_aligned,"
                 " spf_aligned, dkim_aligned, records, messages)"
                 " SELECT t.day, t.domain, t.hf, t.disp, t.dmarc::smallint, t.spf::smallint,"
                 " t.dkim::smallint, t.records, t.messages FROM unnest($1::bigint[], $2::text[],"
                 " $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],"
                 " $9::bigint[]) AS t(day, domain, hf, disp, dmarc, spf, dkim, records, messages)"
                 " ON CONFLICT (day, domain, header_from, disposition, dmarc_aligned, spf_aligned,"
                 " dkim_aligned) DO UPDATE SET records = daily_results.records + excluded.records,"
                 " messages = daily_results.messages + excluded.messages",
                 Params()
                     .AddArray(day)
                     .AddArray(domain)
                     .AddArray(header_from)
                     .AddArray(disposition)
                     .AddArray(dmarc)
                     .AddArray(spf)
                     .AddArray(dkim)
                     .AddArray(records)
                     .AddArray(messages)));
  return true;
}

// The per-day sums of each (policy domain, address number); returns them summed over the days.
Result<DomainIpTotals> StoreDailySources(
    Connection& conn, const decltype(PgRollups::sources)& sources,
    const std::function<std::int64_t(const std::string&)>& id_of) {
  DomainIpTotals all_days;
  std::vector<std::int64_t> day, ip;
  std::vector<std::string> domain;
  SourceColumns cols;
  for (const auto& [key, st] : sources) {
    const auto& [d, dom, address] = key;
    const std::int64_t ip_id = id_of(address);
    day.push_back(d);
    domain.push_back(dom);
    ip.push_back(ip_id);
    cols.Push(st);
    all_days[{dom, ip_id}].Add(st);
  }
  Params p;
  p.AddArray(day).AddArray(domain).AddArray(ip);
  cols.AddTo(p);
  DMARC_TRY(conn.Query(
      SourceUpsert("daily_sources", "day, domain, ip", "$1::bigint[], $2::text[], $3::bigint[]"),
      p));
  return all_days;
}

// The sums of each (policy domain, address number) over every day; returns them summed over
// every policy domain.
Result<std::map<std::int64_t, SourceTotals>> StoreSourceTotals(Connection& conn,
                                                               const DomainIpTotals& all_days) {
  std::map<std::int64_t, SourceTotals> per_ip;
  std::vector<std::int64_t> ip;
  std::vector<std::string> domain;
  SourceColumns cols;
  for (const auto& [key, st] : all_days) {
    domain.emplace_back(key.first);
    ip.push_back(key.second);
    cols.Push(st);
    per_ip[key.second].Add(st);
  }
  Params p;
  p.AddArray(domain).AddArray(ip);
  cols.AddTo(p);
  DMARC_TRY(conn.Query(SourceUpsert("source_totals", "domain, ip", "$1::text[], $2::bigint[]"), p));
  return per_ip;
}

// The sums of each address number over every day and policy domain.
Result<bool> StoreIpTotals(Connection& conn, const std::map<std::int64_t, SourceTotals>& per_ip) {
  std::vector<std::int64_t> ip;
  SourceColumns cols;
  for (const auto& [ip_id, st] : per_ip) {
    ip.push_back(ip_id);
    cols.Push(st);
  }
  Params p;
  p.AddArray(ip);
  cols.AddTo(p);
  DMARC_TRY(conn.Query(SourceUpsert("ip_totals", "ip", "$1::bigint[]"), p));
  return true;
}

}  // namespace

Result<bool> PgStore::StoreRollups(const PgRollups& rollups) {
  DMARC_TRY(StoreDailyResults(conn_, rollups.results));
  if (rollups.sources.empty()) return true;

  // New addresses numbered in the order they first appear in (day, domain, address) order, as
  // SQLite's writer numbers them.
  std::set<std::string_view> ip_set;
  std::vector<std::string> ips;
  for (const auto& [key, st] : rollups.sources) {
    if (ip_set.insert(std::get<2>(key)).second) ips.push_back(std::get<2>(key));
  }
  DMARC_TRY(InternSourceIps(ips));
  auto id_of = [&](const std::string& ip) {
    if (auto it = ip_ids_.find(ip); it != ip_ids_.end()) return it->second;
    return pending_ip_ids_.at(ip);
  };
  DomainIpTotals all_days;
  DMARC_TRY_ASSIGN(all_days, StoreDailySources(conn_, rollups.sources, id_of));
  std::map<std::int64_t, SourceTotals> per_ip;  // all_days over every policy domain
  DMARC_TRY_ASSIGN(per_ip, StoreSourceTotals(conn_, all_days));
  return StoreIpTotals(conn_, per_ip);
}

}  // namespace dmarc::store::pg_impl
