#include "store/pg/pg_dashboard_sql.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "base/text.h"
#include "store/reporter_key.h"

namespace dmarc::store::pg {

namespace {

// The value SQLite compares an INTEGER column with when given this text (type affinity: a text
// that reads as an integer, perhaps with spaces around it, is that integer); nullopt: a text
// no integer equals.
std::optional<std::int64_t> AsInteger(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  if (v.empty() || v.front() == '+') return std::nullopt;
  return ParseSigned(v);
}

// The drill-down's condition on the record column of a source group.
std::string SourceCondition(Query& q, const char* col, const std::string& value) {
  const bool integer = std::string_view(col) == "source_asn";
  std::string equal;
  if (integer) {
    auto n = AsInteger(value);
    equal = n ? fmt::format("r.{} = {}", col, q.Value(*n)) : "FALSE";
  } else {
    equal = Comparable(value) ? fmt::format("r.{} = {}", col, q.Value(value)) : "FALSE";
  }
  // "" means unknown.
  if (value.empty()) return fmt::format(" AND (r.{} IS NULL OR {})", col, equal);
  return " AND " + equal;
}

// The filter's days, as DayRange gives them.
std::string DayCondition(const DashboardFilter& f, Query& q, const char* column) {
  const auto [from, to] = DayRange(f.range);
  return fmt::format("{0} >= {1} AND {0} < {2}", column, q.Value(from), q.Value(to));
}

}  // namespace

std::string Query::Value(std::int64_t v) {
  params.Add(v);
  return fmt::format("${}", ++count);
}

std::string Query::Value(std::string_view v) {
  params.Add(v);
  return fmt::format("${}", ++count);
}

bool Comparable(std::string_view v) {
  return v.find('\0') == std::string_view::npos && IsValidUtf8(v);
}

std::string TextEquals(Query& q, std::string_view column, std::string_view v) {
  if (!Comparable(v)) return " AND FALSE";
  return fmt::format(" AND {} = {}", column, q.Value(v));
}

std::string SearchWhere(Query& q, std::string_view search,
                        std::initializer_list<const char*> columns) {
  if (search.empty()) return {};
  if (!Comparable(search)) return " AND FALSE";
  const std::string like = q.Value(SearchLikePattern(search));
  std::string w;
  for (const char* c : columns) {
    w += w.empty() ? " AND (" : " OR ";
    // ASCII letters only in lower case (lower() would fold others too, unlike SQLite's LIKE).
    w += fmt::format(
        "translate({}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') LIKE {}"
        " ESCAPE '\\'",
        c, like);
  }
  return w + ")";
}

std::int64_t SqlInt(std::size_t n) {
  return static_cast<std::int64_t>(std::min<std::size_t>(n, INT64_MAX));
}

std::string RecordWhere(const DashboardFilter& f, Query& q) {
  // Without days, no condition on them (the index on source_ip answers a count alone).
  std::string w =
      " WHERE " + (f.range.from || f.range.to ? DayCondition(f, q, "r.day") : std::string("TRUE"));
  if (f.range.domain) w += TextEquals(q, "r.domain", *f.range.domain);
  if (f.only_failing) w += " AND r.dmarc_aligned = 0";
  if (f.header_from) w += TextEquals(q, "r.header_from", *f.header_from);
  if (f.source_group && f.source_value) {
    if (const char* col = SourceGroupColumn(*f.source_group)) {
      w += SourceCondition(q, col, *f.source_value);
    }
  }
  if (f.org_name) {  // the reporter under any of its names (store/reporter_key.h)
    const std::string key = ReporterKey(*f.org_name);
    w += Comparable(key) ? " AND r.report IN (SELECT id FROM aggregate_reports WHERE"
                           " reporter_key = " +
                               q.Value(key) + ")"
                         : " AND FALSE";
  }
  return w;
}

std::string SourcesWhere(const DashboardFilter& f, Query& q) {
  std::string w = " WHERE " + DayCondition(f, q, "r.day");
  if (f.range.domain) w += TextEquals(q, "r.domain", *f.range.domain);
  if (f.only_failing) w += " AND r.messages > r.dmarc_pass";
  return w;
}

std::string ReportWhere(const DashboardFilter& f, Query& q) {
  std::string w =
      f.range.from || f.range.to ? " WHERE " + DayCondition(f, q, "a.begin_ts") : " WHERE TRUE";
  if (f.range.domain) w += TextEquals(q, "a.domain", *f.range.domain);
  if (f.org_name) w += TextEquals(q, "a.reporter_key", ReporterKey(*f.org_name));
  if (f.only_failing) {  // reports with messages that failed DMARC, from their totals
    w += " AND EXISTS (SELECT 1 FROM report_totals x WHERE x.report = a.id AND"
         " x.messages > x.dmarc_pass)";
  }
  return w;
}

std::string PerAddressFrom(const DashboardFilter& filter, Query& q, bool order) {
  if (filter.range.from || filter.range.to) {
    return " FROM daily_sources r" + SourcesWhere(filter, q) +
           (order ? " ORDER BY r.day, r.domain, r.ip" : "");
  }
  std::string sql = filter.range.domain ? " FROM source_totals r WHERE TRUE" +
                                              TextEquals(q, "r.domain", *filter.range.domain)
                                        : std::string(" FROM ip_totals r WHERE TRUE");
  if (filter.only_failing) sql += " AND r.messages > r.dmarc_pass";
  if (order) sql += " ORDER BY r.ip";
  return sql;
}

}  // namespace dmarc::store::pg
