#include "store/pg/pg_dashboard_records.h"

#include <fmt/format.h>

#include <string>

#include "store/auth_json.h"
#include "store/pg/pg_dashboard_sql.h"

namespace dmarc::store::pg {

namespace {

// The record columns RecordFrom reads, after the record's id, its report's id, org name and
// report id.
constexpr const char* kRecordColumns =
    " r.interval_begin, r.interval_end, r.source_ip, r.source_reverse_dns, r.source_country,"
    " r.source_name, r.source_base_domain, r.source_asn, r.count, r.disposition, r.policy_dkim,"
    " r.policy_spf, r.dmarc_aligned, r.spf_aligned, r.dkim_aligned, r.header_from,"
    " r.envelope_from, r.envelope_to, r.domain, r.dkim, r.spf, r.overrides";

// A row selected as "SELECT r.id, r.report, org_name, report_id," + kRecordColumns.
Result<RecordRow> RecordFrom(const Rows& s, int i) {
  RecordRow r;
  r.id = s.Int(i, 0);
  r.report = s.Int(i, 1);
  r.org_name = s.Text(i, 2);
  r.report_id = s.Text(i, 3);
  r.interval_begin = s.Int(i, 4);
  r.interval_end = s.Int(i, 5);
  r.source_ip = s.Text(i, 6);
  r.reverse_dns = s.OptText(i, 7);
  r.country = s.OptText(i, 8);
  r.name = s.OptText(i, 9);
  r.base_domain = s.OptText(i, 10);
  r.asn = s.OptInt(i, 11);
  r.count = s.Int(i, 12);
  r.disposition = s.Text(i, 13);
  r.policy_dkim = s.Text(i, 14);
  r.policy_spf = s.Text(i, 15);
  r.dmarc_aligned = s.Int(i, 16) != 0;
  r.spf_aligned = s.Int(i, 17) != 0;
  r.dkim_aligned = s.Int(i, 18) != 0;
  r.header_from = s.Text(i, 19);
  r.envelope_from = s.OptText(i, 20);
  r.envelope_to = s.OptText(i, 21);
  r.policy_domain = s.Text(i, 22);
  const auto column = [&](int col) {
    return s.IsNull(i, col) ? std::string_view() : s.View(i, col);
  };
  DMARC_TRY(ReadDkimJson(column(23), r.dkim));
  DMARC_TRY(ReadSpfJson(column(24), r.spf));
  DMARC_TRY(ReadOverridesJson(column(25), r.policy_override_reasons));
  return r;
}

// The report's own columns of Report's query, in order.
void ReadReportColumns(const Rows& s, ReportDetail& out) {
  out.id = s.Int(0, 0);
  out.org_name = s.Text(0, 1);
  out.org_email = s.Text(0, 2);
  out.org_extra_contact_info = s.OptText(0, 3);
  out.report_id = s.Text(0, 4);
  out.begin = s.Int(0, 5);
  out.end = s.Int(0, 6);
  out.xml_schema = s.Text(0, 8);
  out.generator = s.OptText(0, 9);
  out.errors_json = s.Text(0, 10);
  model::PolicyPublished& p = out.policy_published;
  p.domain = s.Text(0, 7);
  p.adkim = s.Text(0, 11);
  p.aspf = s.Text(0, 12);
  p.p = s.Text(0, 13);
  p.sp = s.Text(0, 14);
  p.pct = s.OptText(0, 15);
  p.fo = s.OptText(0, 16);
  p.np = s.OptText(0, 17);
  p.testing = s.OptText(0, 18);
  p.discovery_method = s.OptText(0, 19);
  out.origin = s.Text(0, 20);
  out.imported_at = s.Int(0, 21);
  if (!s.IsNull(0, 22)) out.raw_xml = ReportDetail::RawXml{s.Int(0, 22), s.Int(0, 23)};
}

}  // namespace

Result<Page<RecordRow>> RecordQueries::Records(const DashboardFilter& filter,
                                               const ListPage& page) {
  Page<RecordRow> out;
  // Each statement numbers its own parameters.
  auto from = [&](Query& q) {
    return " FROM aggregate_records r JOIN aggregate_reports a ON a.id = r.report" +
           RecordWhere(filter, q) +
           SearchWhere(q, page.search,
                       {"r.source_ip", "r.source_reverse_dns", "r.source_name",
                        "r.source_base_domain", "r.source_country", "r.header_from",
                        "r.envelope_from", "r.envelope_to", "a.org_name", "a.report_id"});
  };
  Query c;
  // Without a search, counted from the rows' facts: the daily rollups when the filter allows.
  const Facts facts = FactsFor(filter);
  c.sql = page.search.empty() ? fmt::format("SELECT coalesce(sum({}), 0)::bigint FROM {} r",
                                            facts.records, facts.table) +
                                    RecordWhere(filter, c)
                              : "SELECT count(*)" + from(c);
  auto counted = conn_.Query(c.sql, c.params);
  if (!counted) return std::move(counted).error_value();
  out.total = counted->Int(0, 0);
  Query q;
  q.sql = std::string("SELECT r.id, r.report, a.org_name, a.report_id,") + kRecordColumns +
          from(q) + " ORDER BY r.count DESC, r.id LIMIT " + q.Value(SqlInt(page.limit)) +
          " OFFSET " + q.Value(SqlInt(page.offset));
  auto found = conn_.Query(q.sql, q.params);
  if (!found) return std::move(found).error_value();
  for (int i = 0; i < found->size(); ++i) {
    RecordRow r;
    DMARC_TRY_ASSIGN(r, RecordFrom(*found, i));
    out.rows.push_back(std::move(r));
  }
  return out;
}

Result<ReportDetail> RecordQueries::Report(std::int64_t id) {
  Params p;
  p.Add(id);
  auto s = conn_.Query(
      "SELECT id, org_name, org_email, org_extra_contact_info, report_id, begin_ts, end_ts,"
      " domain, xml_schema, generator, errors, adkim, aspf, p, sp, pct, fo, np, testing,"
      " discovery_method, origin, imported_at, x.size, octet_length(x.bytes)"
      " FROM aggregate_reports a LEFT JOIN aggregate_raw x ON x.report = a.id WHERE a.id = $1",
      p);
  if (!s) return std::move(s).error_value();
  if (s->size() == 0) {
    return MakeError(ErrorKind::kNotFound, fmt::format("no aggregate report {}", id));
  }
  ReportDetail out;
  ReadReportColumns(*s, out);
  auto rs = conn_.Query(std::string("SELECT r.id, r.report, '', '',") + kRecordColumns +
                            " FROM aggregate_records r WHERE r.report = $1 ORDER BY r.id",
                        p);
  if (!rs) return std::move(rs).error_value();
  for (int i = 0; i < rs->size(); ++i) {
    RecordRow r;
    DMARC_TRY_ASSIGN(r, RecordFrom(*rs, i));
    out.records.push_back(std::move(r));
  }
  return out;
}

}  // namespace dmarc::store::pg
