// `dmarc-report report --html FILE`: the self-contained HTML report (web/html_report.h) of a
// store, for the shared filters.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <utility>
#include <vector>

#include "app/cli.h"
#include "app/store_commands.h"
#include "app/store_target.h"
#include "base/time.h"
#include "store/dashboard.h"
#include "store/store.h"
#include "web/html_report.h"

namespace dmarc::app {

namespace {

struct ReportCli {
  StoreArgs store;
  std::string output;  // the HTML file to write
  FilterOptions filter;
  std::vector<std::string> forwarders_files;
};

ReportCli& ReportState() {
  static ReportCli state;
  return state;
}

}  // namespace

void AddReportOptions(CLI::App& cmd) {
  ReportCli& report = ReportState();
  AddStoreOptions(cmd, report.store);
  cmd.add_option("--html", report.output, "The HTML file to write")->required();
  AddFilterOptions(cmd, report.filter);
  AddForwardersFileOption(cmd, report.forwarders_files);
}

// Exit status 0, or 2 when the store, a filter or the output file is unusable.
int RunReportCommand() {
  const ReportCli& options = ReportState();
  const FilterOptions& f = options.filter;
  for (const auto& [name, value] : {std::pair{"--from", f.from}, {"--to", f.to}}) {
    if (!value.empty() && !ParseDate(value)) {
      spdlog::error("{}: \"{}\" is not a date YYYY-MM-DD", name, value);
      return 2;
    }
  }
  auto forwarders = ForwardersOrSay(options.forwarders_files);
  if (!forwarders) return 2;
  StoreTarget target;
  auto st = OpenStoreOrSay(options.store, Access::kRead, &target);
  if (!st) return 2;
  auto q = store::OpenDashboard(target.ReadUrl(), target.ReadOptions());
  if (!q) {
    spdlog::error("{}", q.error());
    return 2;
  }
  auto html = web::BuildHtmlReport(
      *st, **q, {.domain = f.domain, .from = f.from, .to = f.to, .forwarders = forwarders});
  if (!html) {
    spdlog::error("{}: {}", st->Describe(), html.error());
    return 2;
  }
  std::ofstream out(options.output, std::ios::binary | std::ios::trunc);
  out.write(html->data(), static_cast<std::streamsize>(html->size()));
  out.close();
  if (!out) {
    spdlog::error("{}: cannot write", options.output);
    return 2;
  }
  return 0;
}

}  // namespace dmarc::app
