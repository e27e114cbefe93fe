// Internal to the SQLite DashboardQueries: a DashboardFilter as SQL (WHERE clauses over the
// record, rollup and report tables, with the same numbered parameters everywhere) and the loops
// that run a statement over its rows. Column names in SQL come from fixed tables, never from a
// request.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/dashboard_common.h"
#include "store/sqlite/sqlite_db.h"

namespace dmarc::store::sqlite {

// Bound parameter numbers shared by every records query.
enum FilterParam {
  kFrom = 1,
  kTo,
  kDomain,
  kHeaderFrom,
  kSourceValue,
  kOrg,
  kLimit,
  kOffset,
  kSearch
};

// WHERE clause over aggregate_records aliased `r`.
std::string RecordWhere(const DashboardFilter& f);
// WHERE clause over daily_sources aliased `r` (no header-from, drill-down or reporter there).
std::string SourcesWhere(const DashboardFilter& f);
// WHERE clause over aggregate_reports aliased `a`.
std::string ReportWhere(const DashboardFilter& f);

// FROM and WHERE of the per-address rollup that answers filter (which has no header-from,
// drill-down or reporter): without days, the all-days rollups (one row per address, and per
// policy domain with a domain); else the daily one. Its columns: ip (a source_ips id), messages,
// dmarc_pass, spf_aligned, dkim_aligned, records.
std::string PerAddressFrom(const DashboardFilter& filter);

void BindFilter(Statement& s, const DashboardFilter& f);

// " AND (column LIKE ?9 ESCAPE '\' OR ...)" over columns (fixed names) when search is not empty
// (SQLite's LIKE compares ASCII letters without case, as ListPage::search means); ?9 is bound to
// SearchLikePattern(search) by Rows.
std::string SearchWhere(std::string_view search, std::initializer_list<const char*> columns);

// Calls f(s) for each row of s; an f that returns a Result stops at its first error.
template <class F>
Result<bool> Each(Statement& s, F&& f) {
  for (;;) {
    auto row = s.Step();
    if (!row) return MakeError(row.error());
    if (!*row) return true;
    if constexpr (std::is_void_v<decltype(f(s))>) {
      f(s);
    } else {
      DMARC_TRY(f(s));
    }
  }
}

// Prepares sql, binds the filter (and limit, offset, a search when given) and calls f for each
// row.
template <class F>
Result<bool> Rows(Database& db, const std::string& sql, const DashboardFilter& filter, F&& f,
                  std::optional<std::int64_t> limit = std::nullopt,
                  std::optional<std::int64_t> offset = std::nullopt, std::string_view search = {}) {
  auto s = db.Prepare(sql);
  if (!s) return MakeError(s.error());
  BindFilter(*s, filter);
  if (limit) s->Bind(kLimit, *limit);
  if (offset) s->Bind(kOffset, *offset);
  const std::string like = search.empty() ? std::string() : SearchLikePattern(search);
  if (!search.empty()) s->Bind(kSearch, like);  // bound as is: like lives until the rows are read
  return Each(*s, f);
}

// A count or offset for SQL.
inline std::int64_t SqlInt(std::size_t n) {
  return static_cast<std::int64_t>(std::min<std::size_t>(n, INT64_MAX));
}

}  // namespace dmarc::store::sqlite
