// The page of `dmarc-report report --html FILE`: one self-contained HTML file (inline script, style
// and data, no requests) with the overview, sources and domains views, to open offline or mail.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "store/dashboard.h"
#include "store/forwarders.h"
#include "store/store.h"

namespace dmarc::web {

// The filters of the page (as the dashboard's).
struct HtmlReportOptions {
  std::string domain;
  std::string from;  // YYYY-MM-DD
  std::string to;
  // The advisor's known forwarders; null: the bundled list.
  std::shared_ptr<const store::Forwarders> forwarders;
};

// The page for the filters, answered by store and queries.
Result<std::string> BuildHtmlReport(store::ReportStore& store, store::DashboardQueries& queries,
                                    const HtmlReportOptions& options);

}  // namespace dmarc::web
