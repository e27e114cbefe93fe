// `dmarc-report advise --domain D`: the enforcement advisor of a policy domain (docs/senders.md,
// "Enforcement advisor"): the policy published, the readiness score, the recommended next step
// with its evidence, what p=quarantine or p=reject would have blocked, and what to fix.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/store_commands.h"
#include "base/time.h"
#include "store/advisor.h"
#include "web/api_advise.h"

namespace dmarc::app {

namespace {

struct AdviseOptions {
  StoreArgs store;
  std::string domain;
  int days = 30;
  std::string until;  // YYYY-MM-DD: the period ends at the end of this UTC day (default: now)
  bool json = false;
  std::vector<std::string> forwarders_files;  // read after the bundled list
  std::string simulate;                       // a DMARC record; empty: the next step
};

AdviseOptions& State() {
  static AdviseOptions state;
  return state;
}

void PrintBlocked(const char* title, std::uint64_t total,
                  const std::vector<store::BlockedSender>& senders, bool with_status) {
  fmt::print("  {}: {}\n", title, total);
  for (const auto& s : senders) {
    const std::string name = with_status ? fmt::format("{} ({})", s.key, s.status) : s.key;
    fmt::print("    {:<36} {:>8}  {}\n", name, s.messages,
               s.causes.empty() ? std::string() : s.causes.front().Text());
    for (const auto& r : s.reasons) fmt::print("      forwarded: {} ({})\n", r.Text(), r.messages);
  }
}

void PrintText(const store::Advice& a) {
  fmt::print("Enforcement advice for {}: the last {} days ({} to {})\n\n", a.domain, a.days,
             FormatUtcDate(a.since), FormatUtcDate(a.now));
  if (a.policy) {
    const auto& p = *a.policy;
    fmt::print("Published policy: p={} sp={} pct={}{} adkim={} aspf={} (newest report: {}, {})\n",
               p.p.empty() ? "?" : p.p, p.sp.empty() ? "-" : p.sp, p.pct.value_or("100"),
               p.np ? " np=" + *p.np : std::string(), p.adkim, p.aspf,
               FormatUtcDate(p.report_begin), p.reported_by);
  } else {
    fmt::print("Published policy: unknown (no report of {})\n", a.domain);
  }
  fmt::print("Mail: {} {}, {} passed DMARC, {} forwarded, {} failing\n", a.messages,
             a.messages == 1 ? "message" : "messages", a.dmarc_pass, a.forwarded, a.failing);
  if (const auto& fr = a.failure_reports; fr.reports > 0) {
    fmt::print(
        "Failure reports: {}, {} forwarded and {} from mailing lists (the receiver's arc=pass or "
        "a known forwarder), {} with ARC headers in the reported message\n",
        fr.reports, fr.forwarded, fr.mailing_list, fr.arc_headers);
  }
  if (a.readiness) {
    fmt::print("Readiness: {:.1f} % ({} of {} messages of approved senders passed DMARC)\n",
               *a.readiness, a.approved_pass, a.approved_messages);
  } else {
    fmt::print("Readiness: - (no approved sender sent mail in the period)\n");
  }
  fmt::print("\nRecommendation: {}\n  {}\n", a.recommendation.action, a.recommendation.evidence);
  if (a.recommendation.rule == "approve_senders") {
    for (const auto& s : a.recommendation.senders) {
      fmt::print("  dmarc-report senders approve {} '{}'\n", a.domain, s);
    }
  }
  const auto& sim = a.simulation;
  fmt::print(
      "\nSimulation: p=quarantine or p=reject at pct=100 (the same messages fail; quarantine "
      "delivers them as spam, reject refuses them)\n");
  if (!sim.note.empty()) fmt::print("  Note: {}\n", sim.note);
  fmt::print("  With {} (quarantined / rejected; the rest delivered):\n", sim.proposed.Text());
  auto effect = [](const char* group, const store::PolicyEffect& e) {
    fmt::print("    {:<36} {:>8} / {}\n", group, e.quarantined, e.rejected);
  };
  effect("approved senders' mail", sim.approved_effect);
  effect("forwarded mail", sim.forwarded_effect);
  effect("spoofing", sim.spoofing_effect);
  PrintBlocked("Approved senders' mail blocked", sim.approved_blocked, sim.approved, false);
  PrintBlocked("Forwarded mail hit", sim.forwarded_hit, sim.forwarded, true);
  PrintBlocked("Spoofing stopped (unapproved and unknown senders)", sim.spoofing_blocked,
               sim.unapproved, true);
  fmt::print("\nWhat to fix:\n");
  if (a.fixes.empty())
    fmt::print("  nothing: no approved sender's mail failed (forwarded mail aside)\n");
  for (std::size_t i = 0; i < a.fixes.size(); ++i) {
    fmt::print("  {}. {}\n", i + 1, a.fixes[i].text);
  }
}

}  // namespace

void AddAdviseOptions(CLI::App& cmd) {
  AdviseOptions& o = State();
  AddStoreOptions(cmd, o.store);
  cmd.add_option("--domain", o.domain, "The policy domain")->required();
  cmd.add_option("--days", o.days, "The period: records that began in the last N days")
      ->check(CLI::Range(1, web::kMaxAdviceDays))
      ->capture_default_str();
  cmd.add_option("--until", o.until,
                 "End the period with this UTC day, YYYY-MM-DD (default: now), e.g. to see the "
                 "advice of an earlier month");
  cmd.add_flag("--json", o.json, "Print JSON (the object of GET /api/advise)");
  AddForwardersFileOption(cmd, o.forwarders_files);
  cmd.add_option("--simulate", o.simulate,
                 "The DMARC record to simulate, e.g. \"p=reject; sp=none; t=y\" (tags p, sp, np, "
                 "t; default: the next step from the published policy)");
}

int RunAdviseCommand() {
  const AdviseOptions& o = State();
  auto st = OpenStoreOrSay(o.store, Access::kRead);
  if (!st) return 2;
  store::AdviceOptions opts;
  opts.domain = o.domain;
  opts.now = static_cast<std::int64_t>(std::time(nullptr));
  if (!o.until.empty()) {
    auto day = ParseDate(o.until);
    if (!day) {
      spdlog::error("--until: \"{}\" is not a date YYYY-MM-DD", o.until);
      return 1;
    }
    opts.now = *day + 86400;
  }
  opts.days = o.days;
  auto forwarders = ForwardersOrSay(o.forwarders_files);
  if (!forwarders) return 2;
  opts.forwarders = forwarders.get();
  if (!o.simulate.empty()) {
    auto proposed = store::ParseProposedPolicy(o.simulate);
    if (!proposed) {
      spdlog::error("--simulate: {}", proposed.error());
      return 1;
    }
    opts.proposed = *proposed;
  }
  auto advice = store::Advise(*st, opts);
  if (!advice) {
    spdlog::error("{}: {}", st->Describe(), advice.error());
    return 2;
  }
  if (o.json) {
    fmt::print("{}\n", web::AdviceJson(*advice).dump(2));
  } else {
    PrintText(*advice);
  }
  return 0;
}

}  // namespace dmarc::app
