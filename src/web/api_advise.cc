// GET /api/advise (api_advise.h).
#include "web/api_advise.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <string>
#include <utility>

#include "base/time.h"

namespace dmarc::web {

namespace {

ApiAnswer Answer(int status, const nlohmann::json& j) {
  return {status, "application/json", DumpJson(j), ""};
}

nlohmann::ordered_json OrNull(const std::optional<std::string>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json CausesJson(const std::vector<store::FailCause>& causes) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& c : causes) {
    out.push_back({{"cause", c.Text()},
                   {"dkim", c.dkim},
                   {"spf", c.spf},
                   {"remedy", c.remedy},
                   {"messages", c.messages},
                   {"ip_count", c.ip_count}});
  }
  return out;
}

// Why forwarded messages count as forwarded (store::ForwardReason).
nlohmann::ordered_json ReasonsJson(const std::vector<store::ForwardReason>& reasons) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& r : reasons) {
    out.push_back(
        {{"reason", r.reason}, {"detail", r.detail}, {"text", r.Text()}, {"messages", r.messages}});
  }
  return out;
}

// A simulation's list; the forwarded one has each sender's `reasons` too.
nlohmann::ordered_json BlockedJson(const std::vector<store::BlockedSender>& senders,
                                   bool with_reasons = false) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& s : senders) {
    out.push_back({{"sender", s.key},
                   {"status", s.status},
                   {"messages", s.messages},
                   {"causes", CausesJson(s.causes)}});
    if (with_reasons) out.back()["reasons"] = ReasonsJson(s.reasons);
  }
  return out;
}

nlohmann::ordered_json EffectJson(const store::PolicyEffect& e) {
  return {{"quarantined", e.quarantined}, {"rejected", e.rejected}};
}

// An empty text as null.
nlohmann::ordered_json OrNull(const std::string& s) {
  return s.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(s);
}

nlohmann::ordered_json SimulationJson(const store::Simulation& sim) {
  return {{"policies", {"quarantine", "reject"}},
          {"pct", 100},
          {"note", sim.note.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(sim.note)},
          {"approved_blocked", sim.approved_blocked},
          {"approved", BlockedJson(sim.approved)},
          {"forwarded_hit", sim.forwarded_hit},
          {"forwarded", BlockedJson(sim.forwarded, true)},
          {"spoofing_blocked", sim.spoofing_blocked},
          {"unapproved", BlockedJson(sim.unapproved)},
          {"subdomain_messages", sim.subdomain_messages},
          {"proposed",
           {{"record", sim.proposed.Text()},
            {"p", sim.proposed.p},
            {"sp", OrNull(sim.proposed.sp)},
            {"np", OrNull(sim.proposed.np)},
            {"t", sim.proposed.testing ? "y" : "n"}}},
          {"effect",
           {{"approved", EffectJson(sim.approved_effect)},
            {"forwarded", EffectJson(sim.forwarded_effect)},
            {"spoofing", EffectJson(sim.spoofing_effect)}}}};
}

}  // namespace

nlohmann::ordered_json AdviceJson(const store::Advice& a) {
  nlohmann::ordered_json j;
  j["domain"] = a.domain;
  j["now"] = a.now;
  j["days"] = a.days;
  j["since"] = a.since;
  if (a.policy) {
    const auto& p = *a.policy;
    j["policy"] = {{"p", p.p},
                   {"sp", p.sp},
                   {"pct", OrNull(p.pct)},
                   {"np", OrNull(p.np)},
                   {"adkim", p.adkim},
                   {"aspf", p.aspf},
                   {"report_begin", p.report_begin},
                   {"reported_by", p.reported_by}};
  } else {
    j["policy"] = nullptr;
  }
  j["messages"] = a.messages;
  j["dmarc_pass"] = a.dmarc_pass;
  j["forwarded"] = a.forwarded;
  j["failing"] = a.failing;
  j["readiness"] = {
      {"approved_messages", a.approved_messages},
      {"approved_pass", a.approved_pass},
      {"percent", a.readiness ? nlohmann::ordered_json(*a.readiness) : nlohmann::ordered_json()}};
  j["recommendation"] = {{"rule", a.recommendation.rule},
                         {"action", a.recommendation.action},
                         {"evidence", a.recommendation.evidence},
                         {"senders", a.recommendation.senders}};
  j["simulation"] = SimulationJson(a.simulation);
  nlohmann::ordered_json fixes = nlohmann::ordered_json::array();
  for (const auto& f : a.fixes) {
    fixes.push_back({{"sender", f.sender},
                     {"messages", f.messages},
                     {"ip_count", f.ip_count},
                     {"cause", f.cause},
                     {"remedy", f.remedy},
                     {"text", f.text}});
  }
  j["fixes"] = std::move(fixes);
  nlohmann::ordered_json senders = nlohmann::ordered_json::array();
  for (const auto& s : a.senders) {
    senders.push_back({{"sender", s.key},
                       {"kind", s.kind},
                       {"status", s.status},
                       {"suggested_status", s.suggested},
                       {"messages", s.messages},
                       {"dmarc_pass", s.dmarc_pass},
                       {"dmarc_fail", s.dmarc_fail},
                       {"forwarded", s.forwarded},
                       {"failing", s.failing}});
  }
  j["senders"] = std::move(senders);
  const auto& fr = a.failure_reports;
  j["failure_reports"] = {{"reports", fr.reports},
                          {"forwarded", fr.forwarded},
                          {"mailing_list", fr.mailing_list},
                          {"arc_headers", fr.arc_headers}};
  return j;
}

ApiAnswer AdviseAnswer(store::ReportStore& store, const Params& params, std::int64_t now,
                       const store::Forwarders* forwarders, store::SenderIndexCache* indexes) {
  store::AdviceOptions opts;
  opts.now = now;
  auto domain = params.find("domain");
  if (domain == params.end() || domain->second.empty()) {
    return Answer(400, {{"error", "domain: a policy domain is required"}});
  }
  opts.domain = domain->second;
  if (auto it = params.find("days"); it != params.end() && !it->second.empty()) {
    const std::string& s = it->second;
    int days = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), days);
    if (ec != std::errc() || end != s.data() + s.size() || days < 1 || days > kMaxAdviceDays) {
      return Answer(400, {{"error", fmt::format("days: a number from 1 to {}", kMaxAdviceDays)}});
    }
    opts.days = days;
  }
  if (auto it = params.find("until"); it != params.end() && !it->second.empty()) {
    auto day = ParseDate(it->second);
    if (!day) {
      return Answer(400,
                    {{"error", fmt::format("until: \"{}\" is not a date YYYY-MM-DD", it->second)}});
    }
    opts.now = *day + 86400;
  }
  if (auto it = params.find("simulate"); it != params.end() && !it->second.empty()) {
    auto proposed = store::ParseProposedPolicy(it->second);
    if (!proposed) return Answer(400, {{"error", "simulate: " + proposed.error()}});
    opts.proposed = *proposed;
  }
  auto index = store::SenderIndexOf(store, opts.domain, forwarders, indexes);
  auto advice = index ? store::Advise(store, **index, opts)
                      : Result<store::Advice>(MakeError(index.error_kind(), index.error()));
  if (!advice) {
    spdlog::error("dashboard API: the store failed: {}", advice.error());
    return Answer(500, {{"error", "the report store failed; the details are in the log"}});
  }
  return {200, "application/json", DumpJson(AdviceJson(*advice)), ""};
}

}  // namespace dmarc::web
