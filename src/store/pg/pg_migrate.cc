// The PostgreSQL store's side of copying a whole store (`dmarc-report migrate`): everything
// stored, read back page by page (by id, so a long copy holds no transaction open) with what
// Store keeps beside each item (ForEachCopy), and copies written keeping it (StoreCopy).
#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "sinks/report_json.h"
#include "store/pg/pg_read_rows.h"
#include "store/pg/pg_store_impl.h"

namespace dmarc::store::pg_impl {

namespace {
// Selecting a page of rows by id ($1 after, $2 limit).
constexpr std::string_view kPage = "id > $1 ORDER BY id LIMIT $2";

Params PageParams(std::int64_t after, std::size_t limit) {
  return Params().Add(after).Add(static_cast<std::int64_t>(limit));
}
}  // namespace

Result<bool> PgStore::CopyAggregatePage(std::int64_t& after, std::size_t limit, CopyBatch& out) {
  std::vector<std::int64_t> ids;
  DMARC_TRY(ReadAggregateCopies(kPage, PageParams(after, limit), true, out, ids));
  if (ids.empty()) return false;
  after = ids.back();
  return true;
}

Result<bool> PgStore::ReadAggregateCopies(std::string_view where, const Params& params,
                                          bool with_raw, CopyBatch& out,
                                          std::vector<std::int64_t>& ids) {
  auto reports =
      conn_.Query(std::string("SELECT ") + kReportColumns +
                      ", origin, imported_at FROM aggregate_reports WHERE " + std::string(where),
                  params);
  if (!reports) return std::move(reports).error_value();
  if (reports->size() == 0) return true;
  const std::size_t first = ids.size();
  std::unordered_map<std::int64_t, std::size_t> index;  // report id → position in out
  for (int i = 0; i < reports->size(); ++i) {
    AggregateCopy c;
    auto report = ReadAggregateReport(*reports, i);
    if (!report) return std::move(report).error_value();
    c.report = std::move(report).value();
    c.origin = reports->Text(i, 24);
    c.imported_at = reports->Int(i, 25);
    ids.push_back(reports->Int(i, 0));
    index[ids.back()] = out.aggregates.size();
    out.aggregates.push_back(std::move(c));
  }
  const std::vector<std::int64_t> read(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end());
  auto records = conn_.Query(std::string("SELECT ") + kRecordColumns +
                                 ", coalesce(source_enriched_at, 0) FROM aggregate_records"
                                 " WHERE report = ANY($1::bigint[]) ORDER BY report, id",
                             Params().AddArray(read));
  if (!records) return std::move(records).error_value();
  for (int i = 0; i < records->size(); ++i) {
    AggregateCopy& c = out.aggregates[index.at(records->Int(i, 0))];
    auto rec = ReadRecord(*records, i);
    if (!rec) return std::move(rec).error_value();
    c.report.records.push_back(std::move(rec).value());
    c.sources_enriched_at.push_back(records->Int(i, 26));
  }
  if (!with_raw) return true;
  auto raw = conn_.Query(
      "SELECT report, size, bytes, encoding FROM aggregate_raw WHERE report ="
      " ANY($1::bigint[])",
      Params().AddArray(read));
  if (!raw) return std::move(raw).error_value();
  for (int i = 0; i < raw->size(); ++i) {
    AggregateCopy& c = out.aggregates[index.at(raw->Int(i, 0))];
    c.raw_xml_size = static_cast<std::uint64_t>(raw->Int(i, 1));
    c.raw_xml_packed = raw->Bytes(i, 2);
    c.raw_xml_encoding = raw->Text(i, 3);
  }
  return true;
}

Result<bool> PgStore::CopyFailurePage(std::int64_t& after, std::size_t limit, CopyBatch& out) {
  std::vector<std::int64_t> ids;
  DMARC_TRY(ReadFailureCopies(kPage, PageParams(after, limit), out, ids));
  if (ids.empty()) return false;
  after = ids.back();
  return true;
}

Result<bool> PgStore::ReadFailureCopies(std::string_view where, const Params& params,
                                        CopyBatch& out, std::vector<std::int64_t>& ids) {
  auto rows =
      conn_.Query("SELECT id, data, arrival_ts, origin, imported_at FROM failure_reports WHERE " +
                      std::string(where),
                  params);
  if (!rows) return std::move(rows).error_value();
  for (int i = 0; i < rows->size(); ++i) {
    auto j = nlohmann::ordered_json::parse(rows->View(i, 1), nullptr, /*allow_exceptions=*/false);
    auto report = sinks::FailureFromJson(j);
    if (!report) return MakeError(report.error());
    report->arrival_ts = rows->Int(i, 2);
    out.failures.push_back({rows->Text(i, 3), rows->Int(i, 4), std::move(report).value()});
    ids.push_back(rows->Int(i, 0));
  }
  return true;
}

Result<bool> PgStore::CopySmtpTlsPage(std::int64_t& after, std::size_t limit, CopyBatch& out) {
  std::vector<std::int64_t> ids;
  DMARC_TRY(ReadSmtpTlsCopies(kPage, PageParams(after, limit), out, ids));
  if (ids.empty()) return false;
  after = ids.back();
  return true;
}

Result<bool> PgStore::ReadSmtpTlsCopies(std::string_view where, const Params& params,
                                        CopyBatch& out, std::vector<std::int64_t>& ids) {
  auto reports = conn_.Query(
      "SELECT id, organization_name, report_id, begin_ts, end_ts, contact_info, errors, origin,"
      " imported_at FROM smtp_tls_reports WHERE " +
          std::string(where),
      params);
  if (!reports) return std::move(reports).error_value();
  if (reports->size() == 0) return true;
  const std::size_t first = ids.size();
  std::unordered_map<std::int64_t, std::size_t> index;
  for (int i = 0; i < reports->size(); ++i) {
    SmtpTlsCopy c;
    c.report.organization_name = reports->Text(i, 1);
    c.report.report_id = reports->Text(i, 2);
    c.report.begin = reports->Int(i, 3);
    c.report.end = reports->Int(i, 4);
    c.report.contact_info = reports->OptText(i, 5);
    c.report.errors = JsonStrings(reports->OptText(i, 6));
    c.origin = reports->Text(i, 7);
    c.imported_at = reports->Int(i, 8);
    ids.push_back(reports->Int(i, 0));
    index[ids.back()] = out.smtp_tls.size();
    out.smtp_tls.push_back(std::move(c));
  }
  const std::vector<std::int64_t> read(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end());
  auto policies = conn_.Query(
      "SELECT report, id, policy_domain, policy_type, policy_strings, mx_host_patterns,"
      " successful_session_count, failed_session_count FROM smtp_tls_policies"
      " WHERE report = ANY($1::bigint[]) ORDER BY report, id",
      Params().AddArray(read));
  if (!policies) return std::move(policies).error_value();
  std::vector<std::int64_t> policy_ids;
  std::vector<std::pair<std::size_t, std::size_t>> places;  // (report, policy) positions
  for (int i = 0; i < policies->size(); ++i) {
    const std::size_t k = index.at(policies->Int(i, 0));
    auto& r = out.smtp_tls[k].report;
    model::SmtpTlsPolicy p;
    p.policy_domain = policies->Text(i, 2);
    p.policy_type = policies->Text(i, 3);
    p.policy_strings = JsonStrings(policies->OptText(i, 4));
    p.mx_host_patterns = JsonStrings(policies->OptText(i, 5));
    p.successful_session_count = static_cast<std::uint64_t>(policies->Int(i, 6));
    p.failed_session_count = static_cast<std::uint64_t>(policies->Int(i, 7));
    r.policies.push_back(std::move(p));
    policy_ids.push_back(policies->Int(i, 1));
    places.emplace_back(k, r.policies.size() - 1);
  }
  // Pointers only once every vector has its final size.
  std::unordered_map<std::int64_t, model::SmtpTlsPolicy*> policy_of;
  for (std::size_t i = 0; i < policy_ids.size(); ++i) {
    policy_of[policy_ids[i]] = &out.smtp_tls[places[i].first].report.policies[places[i].second];
  }
  return ReadSmtpTlsFailureDetails(conn_, policy_ids, policy_of);
}

Result<bool> PgStore::CopyRejectionPage(std::int64_t& after, std::size_t limit, CopyBatch& out) {
  auto rows = conn_.Query(
      "SELECT i.id, i.received_at, i.origin, i.reason, i.sha256, b.size, b.raw"
      " FROM rejected_inputs i JOIN rejected_blobs b ON b.sha256 = i.sha256 WHERE i.id > $1"
      " ORDER BY i.id LIMIT $2",
      Params().Add(after).Add(static_cast<std::int64_t>(limit)));
  if (!rows) return std::move(rows).error_value();
  for (int i = 0; i < rows->size(); ++i) {
    out.rejections.push_back({rows->Int(i, 1), rows->Text(i, 2), rows->Text(i, 3), rows->Text(i, 4),
                              static_cast<std::uint64_t>(rows->Int(i, 5)), rows->Bytes(i, 6)});
    after = rows->Int(i, 0);
  }
  return rows->size() > 0;
}

Result<bool> PgStore::CopyIpInfoPage(std::string& after, std::size_t limit, CopyBatch& out) {
  auto rows = conn_.Query(
      "SELECT ip, status, reverse_dns, base_domain, country, asn, as_name, as_domain,"
      " resolved_at, expires_at, name, type FROM ip_info_cache WHERE ip > $1 ORDER BY ip"
      " LIMIT $2",
      Params().Add(after).Add(static_cast<std::int64_t>(limit)));
  if (!rows) return std::move(rows).error_value();
  for (int i = 0; i < rows->size(); ++i) {
    IpInfoCopy c;
    c.info = {rows->Text(i, 0),    rows->Text(i, 1),   rows->OptText(i, 2), rows->OptText(i, 3),
              rows->OptText(i, 4), rows->OptInt(i, 5), rows->OptText(i, 6), rows->OptText(i, 7),
              rows->Int(i, 8),     rows->Int(i, 9)};
    c.name = rows->OptText(i, 10);
    c.type = rows->OptText(i, 11);
    after = c.info.ip;
    out.ip_info.push_back(std::move(c));
  }
  return rows->size() > 0;
}

Result<std::size_t> PgStore::ForEachCopy(std::size_t batch_size,
                                         const std::function<Result<bool>(CopyBatch&&)>& visit) {
  if (batch_size == 0) batch_size = 1;
  std::size_t n = 0;
  // Reads pages with `page` until it finds none; false when visit asks to stop.
  auto each = [&](auto page) -> Result<bool> {
    for (;;) {
      CopyBatch batch;
      bool more = false;
      DMARC_TRY_ASSIGN(more, page(batch));
      if (!more || batch.Size() == 0) return true;
      n += batch.Size();
      bool go_on = false;
      DMARC_TRY_ASSIGN(go_on, visit(std::move(batch)));
      if (!go_on) return false;
    }
  };
  std::int64_t after = 0;
  bool go_on = false;
  DMARC_TRY_ASSIGN(go_on,
                   each([&](CopyBatch& b) { return CopyAggregatePage(after, batch_size, b); }));
  if (!go_on) return n;
  after = 0;
  DMARC_TRY_ASSIGN(go_on,
                   each([&](CopyBatch& b) { return CopyFailurePage(after, batch_size, b); }));
  if (!go_on) return n;
  after = 0;
  DMARC_TRY_ASSIGN(go_on,
                   each([&](CopyBatch& b) { return CopySmtpTlsPage(after, batch_size, b); }));
  if (!go_on) return n;
  after = 0;
  DMARC_TRY_ASSIGN(go_on,
                   each([&](CopyBatch& b) { return CopyRejectionPage(after, batch_size, b); }));
  if (!go_on) return n;
  std::string after_ip;
  DMARC_TRY(each([&](CopyBatch& b) { return CopyIpInfoPage(after_ip, batch_size, b); }));
  return n;
}

Result<BatchResult> PgStore::StoreCopy(const CopyBatch& copy) {
  const Batch batch = BatchOfCopies(copy);
  // The whole bytes the source kept, whatever this store's own limit for new rejections.
  const std::size_t max_raw = options_.max_raw_bytes;
  options_.max_raw_bytes = std::numeric_limits<std::size_t>::max();
  if (auto made = EnsurePartitions(batch); !made) {
    options_.max_raw_bytes = max_raw;
    return std::move(made).error_value();
  }
  pending_ip_ids_.clear();
  auto result = InTransaction<BatchResult>([&]() -> Result<BatchResult> {
    pending_ip_ids_.clear();
    BatchResult r;
    DMARC_TRY_ASSIGN(r, StoreOnce(batch));
    DMARC_TRY(FixCopiedTimes(copy, batch.sources_enriched_at));
    DMARC_TRY(StoreIpInfoCopies(copy.ip_info));
    // New reports only: the fixed import and enrichment times are not what ForEachAggregate reads.
    if (r.new_reports > 0) DMARC_TRY(BumpAggregateVersion());
    return r;
  });
  options_.max_raw_bytes = max_raw;
  if (result) ip_ids_.merge(pending_ip_ids_);
  pending_ip_ids_.clear();
  return result;
}

namespace {

// The copied aggregate reports' import times; the rows updated: (report row, position in copy).
Result<Rows> FixAggregateImportTimes(Connection& conn, const std::vector<AggregateCopy>& copies) {
  std::vector<std::string> orgs, ids, domains;
  std::vector<std::int64_t> begins, ends, times, positions;
  for (std::size_t i = 0; i < copies.size(); ++i) {
    const auto& a = copies[i];
    orgs.push_back(a.report.report_metadata.org_name);
    ids.push_back(a.report.report_metadata.report_id);
    domains.push_back(a.report.policy_published.domain);
    begins.push_back(a.report.report_metadata.begin);
    ends.push_back(a.report.report_metadata.end);
    times.push_back(a.imported_at);
    positions.push_back(static_cast<std::int64_t>(i));
  }
  return conn.Query(
      "UPDATE aggregate_reports a SET imported_at = v.t FROM unnest($1::text[], $2::text[],"
      " $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])"
      " AS v(o, r, d, b, e, t, i) WHERE a.org_name = v.o AND a.report_id = v.r AND"
      " a.domain = v.d AND a.begin_ts = v.b AND a.end_ts = v.e RETURNING a.id, v.i",
      Params()
          .AddArray(orgs)
          .AddArray(ids)
          .AddArray(domains)
          .AddArray(begins)
          .AddArray(ends)
          .AddArray(times)
          .AddArray(positions));
}

// The enrichment times of the copied reports' records that differ from enriched_at (what
// StoreOnce gave them all); `updated` as FixAggregateImportTimes returns it.
Result<bool> FixRecordEnrichmentTimes(Connection& conn, const std::vector<AggregateCopy>& copies,
                                      const Rows& updated, std::int64_t enriched_at) {
  // The records whose enrichment time is not Store's: (report row, 1-based position, time).
  std::vector<std::int64_t> reports, numbers, values, all_reports;
  for (int k = 0; k < updated.size(); ++k) {
    const auto& a = copies[static_cast<std::size_t>(updated.Int(k, 1))];
    bool any = false;
    for (std::size_t i = 0; i < a.sources_enriched_at.size(); ++i) {
      if (a.sources_enriched_at[i] == enriched_at) continue;
      reports.push_back(updated.Int(k, 0));
      numbers.push_back(static_cast<std::int64_t>(i + 1));
      values.push_back(a.sources_enriched_at[i]);
      any = true;
    }
    if (any) all_reports.push_back(updated.Int(k, 0));
  }
  if (reports.empty()) return true;
  // Records are numbered in the order stored (ids ascend within a report).
  DMARC_TRY(conn.Query(
      "UPDATE aggregate_records r SET source_enriched_at = nullif(v.t, 0)"
      " FROM (SELECT id, day, report, row_number() OVER (PARTITION BY report ORDER BY id)"
      " AS n FROM aggregate_records WHERE report = ANY($1::bigint[])) o"
      " JOIN unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS v(report, n, t)"
      " ON v.report = o.report AND v.n = o.n WHERE r.id = o.id AND r.day = o.day",
      Params().AddArray(all_reports).AddArray(reports).AddArray(numbers).AddArray(values)));
  return true;
}

Result<bool> FixFailureImportTimes(Connection& conn, const std::vector<FailureCopy>& copies) {
  std::vector<std::string> keys;
  std::vector<std::int64_t> times;
  keys.reserve(copies.size());
  times.reserve(copies.size());
  for (const auto& f : copies) {
    keys.push_back(FailureDedupKey(f.report));
    times.push_back(f.imported_at);
  }
  DMARC_TRY(conn.Query(
      "UPDATE failure_reports f SET imported_at = v.t FROM unnest($1::text[], $2::bigint[])"
      " AS v(k, t) WHERE f.dedup_key = v.k",
      Params().AddArray(keys).AddArray(times)));
  return true;
}

Result<bool> FixSmtpTlsImportTimes(Connection& conn, const std::vector<SmtpTlsCopy>& copies) {
  std::vector<std::string> orgs, ids;
  std::vector<std::int64_t> begins, ends, times;
  for (const auto& t : copies) {
    orgs.push_back(t.report.organization_name);
    ids.push_back(t.report.report_id);
    begins.push_back(t.report.begin);
    ends.push_back(t.report.end);
    times.push_back(t.imported_at);
  }
  DMARC_TRY(conn.Query(
      "UPDATE smtp_tls_reports s SET imported_at = v.t FROM unnest($1::text[], $2::text[],"
      " $3::bigint[], $4::bigint[], $5::bigint[]) AS v(o, r, b, e, t)"
      " WHERE s.organization_name = v.o AND s.report_id = v.r AND s.begin_ts = v.b AND"
      " s.end_ts = v.e",
      Params().AddArray(orgs).AddArray(ids).AddArray(begins).AddArray(ends).AddArray(times)));
  return true;
}

}  // namespace

Result<bool> PgStore::FixCopiedTimes(const CopyBatch& copy, std::int64_t enriched_at) {
  if (!copy.aggregates.empty()) {
    auto updated = FixAggregateImportTimes(conn_, copy.aggregates);
    if (!updated) return std::move(updated).error_value();
    DMARC_TRY(FixRecordEnrichmentTimes(conn_, copy.aggregates, *updated, enriched_at));
  }
  if (!copy.failures.empty()) DMARC_TRY(FixFailureImportTimes(conn_, copy.failures));
  if (!copy.smtp_tls.empty()) DMARC_TRY(FixSmtpTlsImportTimes(conn_, copy.smtp_tls));
  return true;
}

Result<bool> PgStore::StoreIpInfoCopies(const std::vector<IpInfoCopy>& rows) {
  if (rows.empty()) return true;
  std::vector<std::string> ips, statuses;
  std::vector<std::optional<std::string>> rdns, base, country, as_name, as_domain, name, type;
  std::vector<std::optional<std::int64_t>> asn;
  std::vector<std::int64_t> resolved, expires;
  for (const auto& c : rows) {
    const IpInfoRow& r = c.info;
    ips.push_back(r.ip);
    statuses.push_back(r.status);
    rdns.push_back(r.reverse_dns);
    base.push_back(r.base_domain);
    country.push_back(r.country);
    asn.push_back(r.asn);
    as_name.push_back(r.as_name);
    as_domain.push_back(r.as_domain);
    resolved.push_back(r.resolved_at);
    expires.push_back(r.expires_at);
    name.push_back(c.name);
    type.push_back(c.type);
  }
  DMARC_TRY(conn_.Query(
      "INSERT INTO ip_info_cache (ip, status, reverse_dns, base_domain, country, asn, as_name,"
      " as_domain, resolved_at, expires_at, name, type)"
      " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
      " $6::bigint[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[],"
      " $12::text[])"
      " ON CONFLICT (ip) DO UPDATE SET status = excluded.status,"
      " reverse_dns = excluded.reverse_dns, base_domain = excluded.base_domain,"
      " country = excluded.country, asn = excluded.asn, as_name = excluded.as_name,"
      " as_domain = excluded.as_domain, resolved_at = excluded.resolved_at,"
      " expires_at = excluded.expires_at, name = excluded.name, type = excluded.type",
      Params()
          .AddArray(ips)
          .AddArray(statuses)
          .AddArray(rdns)
          .AddArray(base)
          .AddArray(country)
          .AddArray(asn)
          .AddArray(as_name)
          .AddArray(as_domain)
          .AddArray(resolved)
          .AddArray(expires)
          .AddArray(name)
          .AddArray(type)));
  return true;
}

}  // namespace dmarc::store::pg_impl
