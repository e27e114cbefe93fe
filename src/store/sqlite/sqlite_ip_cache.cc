// The SQLite store's address cache (reverse DNS answers and source details per IP, table
// ip_info_cache) and the enrichment of stored records (`enrich --db`).
#include <string>
#include <unordered_map>
#include <vector>

#include "store/failure_source.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace dmarc::store::sqlite_impl {

Result<std::vector<IpInfoRow>> SqliteStore::GetIpInfo(const std::vector<std::string>& ips,
                                                      std::int64_t now) {
  auto s = db_.Prepare(
      "SELECT ip, status, reverse_dns, base_domain, country, asn, as_name, as_domain,"
      " resolved_at, expires_at FROM ip_info_cache WHERE ip = ?1 AND expires_at > ?2");
  if (!s) return MakeError(s.error());
  std::vector<IpInfoRow> out;
  DMARC_TRY(db_.Exec("BEGIN"));
  for (const auto& ip : ips) {
    s->Bind(1, ip).Bind(2, now);
    auto row = s->Step();
    if (!row) {
      s->Reset();
      (void)db_.Exec("ROLLBACK");
      return MakeError(row.error());
    }
    if (*row) {
      out.push_back({s->Text(0), s->Text(1), s->OptText(2), s->OptText(3), s->OptText(4),
                     s->OptInt(5), s->OptText(6), s->OptText(7), s->Int(8), s->Int(9)});
    }
    s->Reset();
  }
  DMARC_TRY(db_.Exec("COMMIT"));
  return out;
}

namespace {

// Runs s once for each row, bind setting the row's parameters first.
template <class Row, class Bind>
Result<bool> RunPerRow(Statement& s, const std::vector<Row>& rows, Bind bind) {
  for (const Row& row : rows) {
    bind(s, row);
    DMARC_TRY(s.Run());
  }
  return true;
}

// Addresses whose details PutSourceInfo remembers at most (~100 bytes each).
constexpr std::size_t kMaxPutSources = 65'536;

// What PutSourceInfo writes of an address, as one string (a field absent and a field empty
// told apart).
std::string SourceDetails(const model::Source& src) {
  std::string out;
  for (const model::OptString* field :
       {&src.base_domain, &src.country, &src.as_name, &src.as_domain, &src.name, &src.type}) {
    if (*field) {
      out += '=';
      out += **field;
    }
    out += '\x1f';
  }
  if (src.asn) out += std::to_string(*src.asn);
  return out;
}

}  // namespace

Result<bool> SqliteStore::PutIpInfo(const std::vector<IpInfoRow>& rows) {
  if (rows.empty()) return true;
  put_sources_.clear();  // these rows may say otherwise than PutSourceInfo did
  auto s = db_.Prepare(
      "INSERT INTO ip_info_cache (ip, status, reverse_dns, base_domain, country, asn,"
      " as_name, as_domain, resolved_at, expires_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
      " ON CONFLICT (ip) DO UPDATE SET status = excluded.status,"
      " reverse_dns = excluded.reverse_dns, resolved_at = excluded.resolved_at,"
      " expires_at = excluded.expires_at,"
      // what PutSourceInfo recorded stays unless this row says otherwise
      " base_domain = coalesce(excluded.base_domain, base_domain),"
      " country = coalesce(excluded.country, country), asn = coalesce(excluded.asn, asn),"
      " as_name = coalesce(excluded.as_name, as_name),"
      " as_domain = coalesce(excluded.as_domain, as_domain)");
  if (!s) return MakeError(s.error());
  return InWriteTransaction([&] {
    return RunPerRow(*s, rows, [](Statement& st, const IpInfoRow& r) {
      st.Bind(1, r.ip)
          .Bind(2, r.status)
          .Bind(3, r.reverse_dns)
          .Bind(4, r.base_domain)
          .Bind(5, r.country)
          .Bind(6, r.asn)
          .Bind(7, r.as_name)
          .Bind(8, r.as_domain)
          .Bind(9, r.resolved_at)
          .Bind(10, r.expires_at);
    });
  });
}

Result<bool> SqliteStore::PutSourceInfo(const std::vector<model::Source>& sources) {
  if (sources.empty()) return true;
  // Addresses whose row this connection wrote the same since no other one committed: most of a
  // batch's, in an import of many reports (-5 % of its time, docs/benchmarks.md).
  auto version = db_.QueryInt("PRAGMA data_version");
  if (!version) return MakeError(version.error());
  if (*version != put_sources_version_ || put_sources_.size() > kMaxPutSources) {
    put_sources_.clear();
    put_sources_version_ = *version;
  }
  std::vector<model::Source> changed;
  std::vector<std::string> details;
  for (const auto& src : sources) {
    std::string d = SourceDetails(src);
    if (auto it = put_sources_.find(src.ip_address); it != put_sources_.end() && it->second == d)
      continue;
    changed.push_back(src);
    details.push_back(std::move(d));
  }
  if (changed.empty()) return true;
  // status 'unknown' and expires_at 0 are no DNS answer: GetIpInfo never returns such a row.
  auto rows = RowInserter::Prepare(
      db_,
      "ip_info_cache (ip, status, reverse_dns, base_domain, country, asn, as_name, as_domain,"
      " name, type, resolved_at, expires_at)",
      12,
      " ON CONFLICT (ip) DO UPDATE SET base_domain = excluded.base_domain,"
      " country = excluded.country, asn = excluded.asn, as_name = excluded.as_name,"
      " as_domain = excluded.as_domain, name = excluded.name, type = excluded.type",
      kRowsPerUpsert);
  if (!rows) return MakeError(rows.error());
  auto put = InWriteTransaction([&]() -> Result<bool> {
    using V = RowInserter::Value;
    for (const auto& src : changed) {
      DMARC_TRY(rows->Add({std::string_view(src.ip_address), std::string_view("unknown"), V(),
                           RowInserter::Maybe(src.base_domain), RowInserter::Maybe(src.country),
                           RowInserter::Maybe(src.asn), RowInserter::Maybe(src.as_name),
                           RowInserter::Maybe(src.as_domain), RowInserter::Maybe(src.name),
                           RowInserter::Maybe(src.type), std::int64_t{0}, std::int64_t{0}}));
    }
    return rows->Flush();
  });
  if (!put) return put;
  for (std::size_t i = 0; i < changed.size(); ++i) {
    put_sources_.insert_or_assign(std::move(changed[i].ip_address), std::move(details[i]));
  }
  return put;
}

Result<std::vector<std::string>> SqliteStore::SourceIpsToEnrich(std::int64_t enriched_before) {
  auto s = db_.Prepare(
      "SELECT source_ip FROM aggregate_records"
      " WHERE source_enriched_at IS NULL OR source_enriched_at < ?1"
      " UNION SELECT source_ip FROM failure_reports"
      " WHERE source_enriched_at IS NULL AND source_ip IS NOT NULL AND source_ip <> ''");
  if (!s) return MakeError(s.error());
  s->Bind(1, enriched_before);
  std::vector<std::string> out;
  for (;;) {
    auto row = s->Step();
    if (!row) return MakeError(row.error());
    if (!*row) break;
    out.push_back(s->Text(0));
  }
  return out;
}

Result<std::size_t> SqliteStore::UpdateSources(const std::vector<model::Source>& sources,
                                               std::int64_t enriched_at,
                                               std::int64_t enriched_before) {
  if (sources.empty()) return std::size_t{0};
  return InWriteTransaction([&]() -> Result<std::size_t> {
    // The new values go to a temporary table first, so one pass over the records updates all.
    DMARC_TRY(db_.Exec(
        "CREATE TEMP TABLE IF NOT EXISTS enrich_sources (ip TEXT PRIMARY KEY, country TEXT,"
        " reverse_dns TEXT, base_domain TEXT, name TEXT, type TEXT, asn INTEGER, as_name TEXT,"
        " as_domain TEXT) WITHOUT ROWID;"
        "DELETE FROM enrich_sources;"));
    auto ins =
        db_.Prepare("INSERT OR REPLACE INTO enrich_sources VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)");
    if (!ins) return MakeError(ins.error());
    for (const auto& src : sources) {
      ins->Bind(1, src.ip_address)
          .Bind(2, src.country)
          .Bind(3, src.reverse_dns)
          .Bind(4, src.base_domain)
          .Bind(5, src.name)
          .Bind(6, src.type)
          .Bind(7, src.asn)
          .Bind(8, src.as_name)
          .Bind(9, src.as_domain);
      DMARC_TRY(ins->Run());
    }
    auto upd = db_.Prepare(
        "UPDATE aggregate_records SET source_country = u.country,"
        " source_reverse_dns = u.reverse_dns, source_base_domain = u.base_domain,"
        " source_name = u.name, source_type = u.type, source_asn = u.asn,"
        " source_as_name = u.as_name, source_as_domain = u.as_domain, source_enriched_at = "
        "NULLIF(?1, 0)"
        " FROM enrich_sources AS u WHERE aggregate_records.source_ip = u.ip AND"
        " (aggregate_records.source_enriched_at IS NULL OR"
        " aggregate_records.source_enriched_at < ?2)");
    if (!upd) return MakeError(upd.error());
    upd->Bind(1, enriched_at).Bind(2, enriched_before);
    DMARC_TRY(upd->Run());
    auto changed = static_cast<std::size_t>(db_.Changes());
    if (changed > 0) DMARC_TRY(BumpAggregateVersion());
    if (enriched_at != 0) {
      auto failures = UpdateFailureSources(sources, enriched_at);
      if (!failures) return std::move(failures).error_value();
      changed += *failures;
    }
    DMARC_TRY(db_.Exec("DELETE FROM enrich_sources"));
    return changed;
  });
}

// The failure reports never enriched whose source is one of `sources` (in enrich_sources):
// their data gets the source, and they are marked enriched. Inside UpdateSources' transaction.
Result<std::size_t> SqliteStore::UpdateFailureSources(const std::vector<model::Source>& sources,
                                                      std::int64_t enriched_at) {
  std::unordered_map<std::string, const model::Source*> by_ip;
  for (const auto& src : sources) by_ip[src.ip_address] = &src;
  std::vector<std::pair<std::int64_t, std::string>> updated;
  {
    auto s = db_.Prepare(
        "SELECT f.id, f.data FROM failure_reports f JOIN enrich_sources u ON u.ip = f.source_ip"
        " WHERE f.source_enriched_at IS NULL");
    if (!s) return MakeError(s.error());
    for (;;) {
      auto row = s->Step();
      if (!row) return MakeError(row.error());
      if (!*row) break;
      auto data = FailureDataWithSource(s->Text(1), by_ip);
      if (!data) return MakeError(data.error());
      updated.emplace_back(s->Int(0), std::move(*data));
    }
  }
  auto upd =
      db_.Prepare("UPDATE failure_reports SET data = ?1, source_enriched_at = ?2 WHERE id = ?3");
  if (!upd) return MakeError(upd.error());
  for (const auto& [id, data] : updated) {
    upd->Reset();
    upd->Bind(1, data).Bind(2, enriched_at).Bind(3, id);
    DMARC_TRY(upd->Run());
  }
  return updated.size();
}

}  // namespace dmarc::store::sqlite_impl
