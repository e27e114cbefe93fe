// The PostgreSQL store's address cache (reverse DNS answers and source details per IP, table
// ip_info_cache) and the enrichment of stored records (`enrich --db`), with the same semantics
// as the SQLite store (sqlite_ip_cache.cc). Rows travel as arrays (unnest), one statement per
// call instead of one per address.
#include <string>
#include <unordered_map>
#include <vector>

#include "store/failure_source.h"
#include "store/pg/pg_store_impl.h"
#include "store/pg/pg_write_text.h"

namespace dmarc::store::pg_impl {

namespace {

// Splits rows into rounds in which each address appears once, in order: round k holds the k-th
// row of each address. Running the rounds one after the other does what running the rows one by
// one does (a later row of an address sees what the earlier one wrote), while each round is one
// statement (INSERT ... ON CONFLICT cannot touch one row twice in a statement).
template <class Row, class IpOf>
std::vector<std::vector<const Row*>> Rounds(const std::vector<Row>& rows, IpOf ip_of) {
  std::vector<std::vector<const Row*>> rounds;
  std::unordered_map<std::string, std::size_t> seen;
  for (const Row& row : rows) {
    const std::size_t k = seen[ip_of(row)]++;
    if (k == rounds.size()) rounds.emplace_back();
    rounds[k].push_back(&row);
  }
  return rounds;
}

}  // namespace

Result<std::vector<IpInfoRow>> PgStore::GetIpInfo(const std::vector<std::string>& ips,
                                                  std::int64_t now) {
  if (ips.empty()) return std::vector<IpInfoRow>{};
  // In the order asked (an address asked twice is answered twice, as SQLite does).
  return InTransaction<std::vector<IpInfoRow>>(
      [&]() -> Result<std::vector<IpInfoRow>> {
        auto rows = conn_.Query(
            "SELECT c.ip, c.status, c.reverse_dns, c.base_domain, c.country, c.asn, c.as_name,"
            " c.as_domain, c.resolved_at, c.expires_at"
            " FROM unnest($1::text[]) WITH ORDINALITY AS u(ip, n)"
            " JOIN ip_info_cache c ON c.ip = u.ip WHERE c.expires_at > $2 ORDER BY u.n",
            Params().AddArray(ips).Add(now));
        if (!rows) return std::move(rows).error_value();
        std::vector<IpInfoRow> out;
        out.reserve(static_cast<std::size_t>(rows->size()));
        for (int i = 0; i < rows->size(); ++i) {
          out.push_back({rows->Text(i, 0), rows->Text(i, 1), rows->OptText(i, 2),
                         rows->OptText(i, 3), rows->OptText(i, 4), rows->OptInt(i, 5),
                         rows->OptText(i, 6), rows->OptText(i, 7), rows->Int(i, 8),
                         rows->Int(i, 9)});
        }
        return out;
      },
      /*read_only=*/true);
}

Result<bool> PgStore::PutIpInfo(const std::vector<IpInfoRow>& rows) {
  if (rows.empty()) return true;
  const auto rounds = Rounds(rows, [](const IpInfoRow& r) { return r.ip; });
  return InTransaction<bool>([&]() -> Result<bool> {
    for (const auto& round : rounds) {
      std::vector<std::string> ip, status;
      std::vector<std::optional<std::string>> reverse_dns, base_domain, country, as_name, as_domain;
      std::vector<std::optional<std::int64_t>> asn;
      std::vector<std::int64_t> resolved_at, expires_at;
      for (const IpInfoRow* r : round) {
        ip.push_back(r->ip);
        status.push_back(r->status);
        reverse_dns.push_back(r->reverse_dns);
        base_domain.push_back(r->base_domain);
        country.push_back(r->country);
        asn.push_back(r->asn);
        as_name.push_back(r->as_name);
        as_domain.push_back(r->as_domain);
        resolved_at.push_back(r->resolved_at);
        expires_at.push_back(r->expires_at);
      }
      Params p;
      p.AddArray(ip)
          .AddArray(status)
          .AddArray(reverse_dns)
          .AddArray(base_domain)
          .AddArray(country)
          .AddArray(asn)
          .AddArray(as_name)
          .AddArray(as_domain)
          .AddArray(resolved_at)
          .AddArray(expires_at);
      DMARC_TRY(conn_.Query(
          "INSERT INTO ip_info_cache AS c (ip, status, reverse_dns, base_domain, country, asn,"
          " as_name, as_domain, resolved_at, expires_at)"
          " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
          " $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::bigint[])"
          " ON CONFLICT (ip) DO UPDATE SET status = excluded.status,"
          " reverse_dns = excluded.reverse_dns, resolved_at = excluded.resolved_at,"
          " expires_at = excluded.expires_at,"
          // what PutSourceInfo recorded stays unless this row says otherwise
          " base_domain = coalesce(excluded.base_domain, c.base_domain),"
          " country = coalesce(excluded.country, c.country), asn = coalesce(excluded.asn, c.asn),"
          " as_name = coalesce(excluded.as_name, c.as_name),"
          " as_domain = coalesce(excluded.as_domain, c.as_domain)",
          p));
    }
    return true;
  });
}

Result<bool> PgStore::PutSourceInfo(const std::vector<model::Source>& sources) {
  if (sources.empty()) return true;
  const auto rounds = Rounds(sources, [](const model::Source& s) { return s.ip_address; });
  return InTransaction<bool>([&]() -> Result<bool> {
    for (const auto& round : rounds) {
      std::vector<std::string> ip;
      std::vector<std::optional<std::string>> base_domain, country, as_name, as_domain, name, type;
      std::vector<std::optional<std::int64_t>> asn;
      for (const model::Source* s : round) {
        ip.push_back(s->ip_address);
        base_domain.push_back(s->base_domain);
        country.push_back(s->country);
        asn.push_back(s->asn);
        as_name.push_back(s->as_name);
        as_domain.push_back(s->as_domain);
        name.push_back(s->name);
        type.push_back(s->type);
      }
      Params p;
      p.AddArray(ip)
          .AddArray(base_domain)
          .AddArray(country)
          .AddArray(asn)
          .AddArray(as_name)
          .AddArray(as_domain)
          .AddArray(name)
          .AddArray(type);
      // status 'unknown' and expires_at 0 are no DNS answer: GetIpInfo never returns such a row.
      DMARC_TRY(conn_.Query(
          "INSERT INTO ip_info_cache (ip, status, reverse_dns, base_domain, country, asn, as_name,"
          " as_domain, name, type, resolved_at, expires_at)"
          " SELECT u.ip, 'unknown', NULL, u.base_domain, u.country, u.asn, u.as_name,"
          " u.as_domain, u.name, u.type, 0, 0"
          " FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[],"
          " $7::text[], $8::text[]) AS u(ip, base_domain, country, asn, as_name, as_domain, name,"
          " type)"
          " ON CONFLICT (ip) DO UPDATE SET base_domain = excluded.base_domain,"
          " country = excluded.country, asn = excluded.asn, as_name = excluded.as_name,"
          " as_domain = excluded.as_domain, name = excluded.name, type = excluded.type",
          p));
    }
    return true;
  });
}

Result<std::vector<std::string>> PgStore::SourceIpsToEnrich(std::int64_t enriched_before) {
  return InTransaction<std::vector<std::string>>(
      [&]() -> Result<std::vector<std::string>> {
        auto rows = conn_.Query(
            "SELECT source_ip FROM aggregate_records"
            " WHERE source_enriched_at IS NULL OR source_enriched_at < $1"
            " UNION SELECT source_ip FROM failure_reports"
            " WHERE source_enriched_at IS NULL AND source_ip IS NOT NULL AND source_ip <> ''",
            Params().Add(enriched_before));
        if (!rows) return std::move(rows).error_value();
        std::vector<std::string> out;
        out.reserve(static_cast<std::size_t>(rows->size()));
        for (int i = 0; i < rows->size(); ++i) out.push_back(rows->Text(i, 0));
        return out;
      },
      /*read_only=*/true);
}

Result<std::size_t> PgStore::UpdateSources(const std::vector<model::Source>& sources,
                                           std::int64_t enriched_at, std::int64_t enriched_before) {
  if (sources.empty()) return std::size_t{0};
  // One row per address, the last one given winning (SQLite: INSERT OR REPLACE into its
  // temporary table); then one UPDATE joins them to the records.
  std::unordered_map<std::string, std::size_t> last;
  for (std::size_t i = 0; i < sources.size(); ++i) last[sources[i].ip_address] = i;
  std::vector<std::string> ip;
  std::vector<std::optional<std::string>> country, reverse_dns, base_domain, name, type, as_name,
      as_domain;
  std::vector<std::optional<std::int64_t>> asn;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const model::Source& s = sources[i];
    if (last.at(s.ip_address) != i) continue;
    ip.push_back(s.ip_address);
    country.push_back(s.country);
    reverse_dns.push_back(s.reverse_dns);
    base_domain.push_back(s.base_domain);
    name.push_back(s.name);
    type.push_back(s.type);
    asn.push_back(s.asn);
    as_name.push_back(s.as_name);
    as_domain.push_back(s.as_domain);
  }
  Params p;
  p.AddArray(ip)
      .AddArray(country)
      .AddArray(reverse_dns)
      .AddArray(base_domain)
      .AddArray(name)
      .AddArray(type)
      .AddArray(asn)
      .AddArray(as_name)
      .AddArray(as_domain)
      .Add(enriched_at)
      .Add(enriched_before);
  return InTransaction<std::size_t>([&]() -> Result<std::size_t> {
    auto r = conn_.Query(
        "UPDATE aggregate_records AS r SET source_country = u.country,"
        " source_reverse_dns = u.reverse_dns, source_base_domain = u.base_domain,"
        " source_name = u.name, source_type = u.type, source_asn = u.asn,"
        " source_as_name = u.as_name, source_as_domain = u.as_domain,"
        " source_enriched_at = NULLIF($10::bigint, 0)"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::bigint[], $8::text[], $9::text[]) AS u(ip, country, reverse_dns, base_domain, name,"
        " type, asn, as_name, as_domain)"
        " WHERE r.source_ip = u.ip AND (r.source_enriched_at IS NULL OR"
        " r.source_enriched_at < $11)",
        p);
    if (!r) return std::move(r).error_value();
    auto changed = static_cast<std::size_t>(r->Affected());
    const bool records_changed = changed > 0;
    if (enriched_at != 0) {
      auto failures = UpdateFailureSources(sources, ip, enriched_at);
      if (!failures) return std::move(failures).error_value();
      changed += *failures;
    }
    if (records_changed) DMARC_TRY(BumpAggregateVersion());
    return changed;
  });
}

// The failure reports never enriched whose source address is one of `ips`: their data gets the
// source (from `sources`), and they are marked enriched. Inside UpdateSources' transaction.
Result<std::size_t> PgStore::UpdateFailureSources(const std::vector<model::Source>& sources,
                                                  const std::vector<std::string>& ips,
                                                  std::int64_t enriched_at) {
  std::unordered_map<std::string, const model::Source*> by_ip;
  for (const auto& src : sources) by_ip[src.ip_address] = &src;
  auto rows = conn_.Query(
      "SELECT id, data FROM failure_reports WHERE source_enriched_at IS NULL AND"
      " source_ip = ANY($1::text[]) FOR UPDATE",
      Params().AddArray(ips));
  if (!rows) return std::move(rows).error_value();
  std::vector<std::int64_t> ids;
  std::vector<std::string> data;
  for (int i = 0; i < rows->size(); ++i) {
    auto d = FailureDataWithSource(rows->Text(i, 1), by_ip);
    if (!d) return std::move(d).error_value();
    ids.push_back(rows->Int(i, 0));
    data.push_back(Clean(*d));
  }
  if (ids.empty()) return std::size_t{0};
  auto upd = conn_.Query(
      "UPDATE failure_reports f SET data = v.d, source_enriched_at = $3"
      " FROM unnest($1::bigint[], $2::text[]) AS v(i, d) WHERE f.id = v.i",
      Params().AddArray(ids).AddArray(data).Add(enriched_at));
  if (!upd) return std::move(upd).error_value();
  return ids.size();
}

}  // namespace dmarc::store::pg_impl
