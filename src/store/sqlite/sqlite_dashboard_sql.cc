#include "store/sqlite/sqlite_dashboard_sql.h"

#include <fmt/format.h>

#include "store/reporter_key.h"

namespace dmarc::store::sqlite {

std::string RecordWhere(const DashboardFilter& f) {
  // Without days, no condition on them (as ReportWhere): a count of one address's records is
  // then read from the index on source_ip alone, not from every record's row.
  std::string w = f.range.from || f.range.to ? " WHERE r.day >= ?1 AND r.day < ?2" : " WHERE 1";
  if (f.range.domain) w += " AND r.domain = ?3";
  if (f.only_failing) w += " AND r.dmarc_aligned = 0";
  if (f.header_from) w += " AND r.header_from = ?4";
  if (f.source_group && f.source_value) {
    if (const char* col = SourceGroupColumn(*f.source_group)) {
      // A plain equality lets SQLite use the index on source_ip; "" means unknown.
      w += f.source_value->empty() ? fmt::format(" AND (r.{0} IS NULL OR r.{0} = ?5)", col)
                                   : fmt::format(" AND r.{} = ?5", col);
    }
  }
  if (f.org_name) {
    w += " AND r.report IN (SELECT id FROM aggregate_reports WHERE reporter_key = ?6)";
  }
  return w;
}

std::string SourcesWhere(const DashboardFilter& f) {
  std::string w = " WHERE r.day >= ?1 AND r.day < ?2";
  if (f.range.domain) w += " AND r.domain = ?3";
  if (f.only_failing) w += " AND r.messages > r.dmarc_pass";
  return w;
}

std::string ReportWhere(const DashboardFilter& f) {
  // Without days, no condition on them: a scan of the reports beats the index on begin_ts.
  std::string w =
      f.range.from || f.range.to ? " WHERE a.begin_ts >= ?1 AND a.begin_ts < ?2" : " WHERE 1";
  if (f.range.domain) w += " AND a.domain = ?3";
  if (f.org_name) w += " AND a.reporter_key = ?6";
  if (f.only_failing) {  // reports with messages that failed DMARC, from their totals
    w += " AND EXISTS (SELECT 1 FROM report_totals x WHERE x.report = a.id AND"
         " x.messages > x.dmarc_pass)";
  }
  return w;
}

std::string PerAddressFrom(const DashboardFilter& filter) {
  if (filter.range.from || filter.range.to) return " FROM daily_sources r" + SourcesWhere(filter);
  std::string sql = filter.range.domain ? " FROM source_totals r WHERE r.domain = ?3"
                                        : " FROM ip_totals r WHERE 1";
  if (filter.only_failing) sql += " AND r.messages > r.dmarc_pass";
  return sql;
}

void BindFilter(Statement& s, const DashboardFilter& f) {
  const auto [from, to] = DayRange(f.range);
  s.Bind(kFrom, from).Bind(kTo, to);
  if (f.range.domain) s.Bind(kDomain, *f.range.domain);
  if (f.header_from) s.Bind(kHeaderFrom, *f.header_from);
  if (f.source_value) s.Bind(kSourceValue, *f.source_value);
  // The reporter under any of its names (store/reporter_key.h).
  if (f.org_name) s.BindCopy(kOrg, ReporterKey(*f.org_name));
}

std::string SearchWhere(std::string_view search, std::initializer_list<const char*> columns) {
  if (search.empty()) return {};
  std::string w;
  for (const char* c : columns) {
    w += w.empty() ? " AND (" : " OR ";
    w += fmt::format("{} LIKE ?{} ESCAPE '\\'", c, static_cast<int>(kSearch));
  }
  return w + ")";
}

}  // namespace dmarc::store::sqlite
