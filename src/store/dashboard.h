// DashboardQueries: the read-only questions the web dashboard and the HTML report ask of a store.
// Answers are plain values (dashboard_rows.h); the HTTP API's JSON (docs/api.md) is built from
// them in web/, so a back end only answers the questions. Every text in them comes from reports
// (written by strangers): consumers must render it as text, never as markup.
//
// Thread-safety: one object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "store/dashboard_rows.h"
#include "store/store.h"

namespace dmarc::store {

// Whether records can be grouped by this source attribute (the API's `group` values: service,
// base_domain, ptr, ip, asn, country).
bool IsSourceGroup(std::string_view group);

struct DashboardFilter {
  Filter range;                             // policy domain and days
  bool only_failing = false;                // only records that failed DMARC
  std::optional<std::string> header_from;   // only this header-from domain
  std::optional<std::string> source_group;  // drill-down: records whose source attribute ...
  std::optional<std::string> source_value;  // ... equals this ("" matches an unknown value)
  std::optional<std::string> org_name;      // only reports from this reporter
};

// Which rows of a list to return: those matching search, skipping offset, at most limit.
struct ListPage {
  std::size_t offset = 0;
  std::size_t limit = 100;
  // "" matches every row; else a row matches when one of its list's search fields contains it,
  // ASCII letters compared without case (other characters as they are, wildcards none). Both
  // back ends and SearchMatches agree on this.
  std::string search;
};

// Whether text contains search as ListPage::search means it.
bool SearchMatches(std::string_view text, std::string_view search);
// search as a LIKE pattern: "%...%", ASCII letters in lower case, and '%', '_' and the backslash
// escaped with a backslash, for `ascii_lower(column) LIKE pattern ESCAPE '\\'`.
std::string SearchLikePattern(std::string_view search);

class DashboardQueries {
 public:
  virtual ~DashboardQueries() = default;

  // Totals, alignment, messages per day, dispositions, top sources, countries and the same
  // totals for the previous period of equal length (when the filter has both days).
  virtual Result<OverviewResult> Overview(const DashboardFilter& filter) = 0;
  // Records grouped by a source attribute (IsSourceGroup), largest first; one page, and how many
  // groups match. Search fields: the group's value and its descriptive columns (name, type,
  // reverse DNS name, country, AS number and name, base domain), as the answer shows them.
  virtual Result<SourcesResult> Sources(const DashboardFilter& filter, std::string_view group,
                                        const ListPage& page) = 0;
  // Records with every DKIM and SPF result, largest first; one page, and how many match. Search
  // fields: source IP, reverse DNS name, name, base domain, country, header from, envelope from,
  // envelope to, and the report's org name and report id.
  virtual Result<Page<RecordRow>> Records(const DashboardFilter& filter, const ListPage& page) = 0;
  // Header-from domains with volume and pass rate; policy domains with their published
  // policies over time.
  virtual Result<DomainsResult> Domains(const DashboardFilter& filter) = 0;
  // Per reporter, most reports first.
  virtual Result<std::vector<ReporterRow>> Reporters(const DashboardFilter& filter) = 0;
  // Reports newest first; one page, and how many match. Search fields: org name, report id,
  // policy domain.
  virtual Result<ReportsPage> Reports(const DashboardFilter& filter, const ListPage& page) = 0;
  // One aggregate report with all its rows; a kNotFound error when there is no such report.
  virtual Result<ReportDetail> Report(std::int64_t id) = 0;
  // The XML one aggregate report was parsed from (decompressed, as received) and the name to
  // download it as; a kNotFound error when there is no such report or no XML stored.
  virtual Result<std::pair<std::string, std::string>> ReportRaw(std::int64_t id) = 0;
  // Rejected inputs received in the filter's days, newest first; one page, and how many match.
  // Search fields: origin, reason, sha256.
  virtual Result<Page<RejectionRow>> Rejections(const DashboardFilter& filter,
                                                const ListPage& page) = 0;
  // The stored first bytes of one rejected input, and the name to download it as.
  virtual Result<std::pair<std::string, std::string>> RejectedRaw(std::int64_t id) = 0;
  // Failure (forensic) reports arrived in the filter's days for its domain, newest first; one
  // page, and how many match; whole, samples (the reported message) included. Search fields:
  // reported domain, source IP, feedback type, origin.
  virtual Result<Page<FailureRow>> FailureReports(const DashboardFilter& filter,
                                                  const ListPage& page) = 0;
  // One failure report, whole (as FailureReports' rows); a kNotFound error when there is none.
  virtual Result<FailureRow> FailureReport(std::int64_t id) = 0;
  // SMTP TLS sessions per day, failure types, and per policy.
  virtual Result<SmtpTlsResult> SmtpTls(const DashboardFilter& filter) = 0;
  // The domains the store holds reports for (aggregate reports' policy domains, failure
  // reports' reported domains, SMTP TLS policy domains): distinct, sorted, at most limit.
  virtual Result<std::vector<std::string>> DomainNames(std::size_t limit) = 0;
};

// Opens the dashboard's own read connection to the store named by url (as OpenStore), after
// OpenStore has created or migrated it.
Result<std::unique_ptr<DashboardQueries>> OpenDashboard(const std::string& url,
                                                        const OpenOptions& options = {});

}  // namespace dmarc::store
