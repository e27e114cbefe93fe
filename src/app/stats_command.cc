// `dmarc-report stats`: the totals of a store, as a table or JSON.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "app/cli.h"
#include "app/store_commands.h"
#include "store/store.h"
#include "web/api.h"

namespace dmarc::app {

namespace {

std::string Percent(std::uint64_t part, std::uint64_t whole) {
  return whole ? fmt::format("{:.1f}%",
                             100.0 * static_cast<double>(part) / static_cast<double>(whole))
               : "-";
}

}  // namespace

int RunStats(const StatsCommandOptions& options) {
  auto target = OpenForQuery(options.store, options.filter);
  if (!target) return 2;
  auto stats = target->store->QueryStats(target->filter);
  if (!stats) {
    spdlog::error("{}: {}", target->store->Describe(), stats.error());
    return 2;
  }
  const store::Stats& s = *stats;
  if (options.json) {
    fmt::print("{}\n", web::StatsJson(s).dump(2));
    return 0;
  }
  fmt::print("{:<22}{:>14}\n", "Aggregate reports", s.reports);
  fmt::print("{:<22}{:>14}\n", "Records", s.records);
  fmt::print("{:<22}{:>14}\n", "Messages", s.messages);
  fmt::print("{:<22}{:>14}  {}\n", "DMARC pass", s.dmarc_pass, Percent(s.dmarc_pass, s.messages));
  fmt::print("{:<22}{:>14}  {}\n", "DMARC fail", s.dmarc_fail, Percent(s.dmarc_fail, s.messages));
  fmt::print("{:<22}{:>14}\n", "Source IPs", s.source_ips);
  fmt::print("{:<22}{:>14}\n", "Failure reports", s.failure_reports);
  fmt::print("{:<22}{:>14}\n", "SMTP TLS reports", s.smtp_tls_reports);
  fmt::print("{:<22}{:>14}\n", "Rejected inputs", s.rejected_inputs);
  if (!s.by_disposition.empty()) {
    fmt::print("\nDisposition           Messages\n");
    for (const auto& [k, v] : s.by_disposition) {
      fmt::print("  {:<20}{:>14}  {}\n", k, v, Percent(v, s.messages));
    }
  }
  if (!s.by_domain.empty()) {
    fmt::print("\nHeader-From domain    Messages\n");
    std::vector<std::pair<std::string, std::uint64_t>> domains(s.by_domain.begin(),
                                                               s.by_domain.end());
    std::stable_sort(domains.begin(), domains.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [k, v] : domains) {
      fmt::print("  {:<20}{:>14}  {}\n", k.empty() ? "(none)" : k, v, Percent(v, s.messages));
    }
  }
  return 0;
}

// ---- The command line of `stats`. ----

namespace {

StatsCommandOptions& StatsState() {
  static StatsCommandOptions state;
  return state;
}

}  // namespace

void AddStatsOptions(CLI::App& cmd) {
  StatsCommandOptions& stats = StatsState();
  AddStoreOptions(cmd, stats.store);
  AddFilterOptions(cmd, stats.filter);
  cmd.add_flag("--json", stats.json, "Print the totals as JSON");
}

int RunStatsCommand() { return RunStats(StatsState()); }

}  // namespace dmarc::app
