// Internal to the PostgreSQL DashboardQueries: a DashboardFilter as SQL (WHERE clauses over the
// record, rollup and report tables) with its values as parameters ($1, $2, ... numbered as they
// are added), and the snapshot every answer is read in. Column names in SQL come from fixed
// tables, never from a request. Mirrors store/sqlite/sqlite_dashboard_sql.h: the same
// conditions, so both back ends give the same answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "store/dashboard.h"
#include "store/dashboard_common.h"
#include "store/pg/pg_db.h"

namespace dmarc::store::pg {

// One statement being written: its text and its parameters.
struct Query {
  std::string sql;
  Params params;
  int count = 0;

  // Adds a parameter and returns its placeholder ("$n").
  std::string Value(std::int64_t v);
  std::string Value(std::string_view v);
};

// Whether a text from a request can equal a stored text at all: PostgreSQL's text holds neither
// NUL nor invalid UTF-8 (SQLite compares such a text and finds nothing; here it is not sent).
bool Comparable(std::string_view v);

// " AND r.column = $n" for a filter on text column (or " AND FALSE" when v cannot match).
std::string TextEquals(Query& q, std::string_view column, std::string_view v);

// " AND (ascii_lower(column) LIKE $n ESCAPE '\' OR ...)" over columns (fixed names) when search is
// not empty, $n being SearchLikePattern(search): ListPage::search, as SQLite's LIKE answers it.
std::string SearchWhere(Query& q, std::string_view search,
                        std::initializer_list<const char*> columns);

// A count or offset for SQL.
std::int64_t SqlInt(std::size_t n);

// WHERE clause over aggregate_records aliased `r` (also over daily_results, whose columns have
// the same names, when the filter has no drill-down or reporter).
std::string RecordWhere(const DashboardFilter& f, Query& q);
// WHERE clause over daily_sources aliased `r`.
std::string SourcesWhere(const DashboardFilter& f, Query& q);
// WHERE clause over aggregate_reports aliased `a`.
std::string ReportWhere(const DashboardFilter& f, Query& q);

// FROM and WHERE of the per-address rollup that answers filter (which has no header-from,
// drill-down or reporter), as the SQLite store reads it; its columns: ip, messages, dmarc_pass,
// spf_aligned, dkim_aligned, records. `order` is the order SQLite reads the rows in (the first
// appearance of each address decides the order of equal groups' descriptions; daily_sources'
// domain is in byte order, so its primary key gives that order without a sort).
std::string PerAddressFrom(const DashboardFilter& filter, Query& q, bool order);

}  // namespace dmarc::store::pg
