// `dmarc-report report --html FILE`: one self-contained HTML file (inline script, style and
// data, no requests) with the overview, sources and domains views, to open offline or mail.
#pragma once

#include <string>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/store.h"

namespace dmarc::web {

struct HtmlReportOptions {
  std::string db;
  std::string output;  // the HTML file to write
  std::string domain;
  std::string from;  // YYYY-MM-DD
  std::string to;
};

// The page for the filters, answered by store and queries.
Result<std::string> BuildHtmlReport(store::ReportStore& store, store::DashboardQueries& queries,
                                    const HtmlReportOptions& options);

// The command: exit status 0, or 2 when the store, a filter or the output file is unusable.
int RunHtmlReport(const HtmlReportOptions& options);

}  // namespace dmarc::web
