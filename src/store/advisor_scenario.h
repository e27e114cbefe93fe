// Test data of the enforcement advisor (docs/senders.md, "Enforcement advisor"): generated
// reports of one policy domain whose senders' outcomes are known by construction, for the
// store's, the API's and the CLI's tests. Dated relative to `now`, so tests of the program
// (whose period ends at the clock's now) can use it too.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "model/aggregate.h"
#include "store/senders_scenario.h"

namespace dmarc::store::advisor_scenario {

using senders_scenario::kDay;
using senders_scenario::kDomain;
using senders_scenario::kNow;  // 2026-01-01T00:00:00Z

// Messages of each part (days before now in brackets; every one in the last 30 days but kMcOld):
inline constexpr std::uint64_t kMcAligned = 400;   // Mailchimp, DKIM d=example.com [10]
inline constexpr std::uint64_t kMcUnaligned = 40;  // Mailchimp, DKIM d=mcsv.net only [5]
inline constexpr std::uint64_t kMcOld = 50;        // Mailchimp, aligned [40]: outside
inline constexpr std::uint64_t kOwn = 500;         // outbound.example, DKIM+SPF aligned [3]
inline constexpr std::uint64_t kOwnForwarded = 4;  // outbound.example, failing with an
                                                   // override reason "forwarded" [3]
inline constexpr std::uint64_t kList = 6;          // lists.example.org, override mailing_list [4]
inline constexpr std::uint64_t kForwarder = 12;    // forwarder.example (status forwarder) [6]
inline constexpr std::uint64_t kSpoof = 7;         // AS64500, nothing aligned, no DKIM [2]
inline constexpr std::uint64_t kBad = 3;           // badguy.example (unapproved) [8]
inline constexpr std::uint64_t kOnce = 1;          // smallhost.example, seen once, aligned [2]
inline constexpr std::uint64_t kOther = 1000;      // another policy domain [3]
// Forwarded mail no receiver said was forwarded (docs/senders.md, "Forwarded mail"), and a
// spoofer that looks like none of it:
inline constexpr std::uint64_t kGroups = 9;      // google.com hosts, envelope googlegroups.com: the
                                                 // known mailing list Google Groups [5]
inline constexpr std::uint64_t kListServer = 5;  // lists.uni.example (PTR): "lists.*" [7]
inline constexpr std::uint64_t kSurvived = 8;    // relay.example: DKIM d=example.com passed,
                                                 // SPF failed, DMARC failed [4]
inline constexpr std::uint64_t kResidential = 2;  // isp.example, a dynamic address: a forged
                                                  // DKIM signature fails, SPF fails [3]

using senders_scenario::Aligned;
using senders_scenario::Report;

inline model::Record Rec(std::int64_t now, const std::string& ip, std::uint64_t count,
                         std::int64_t days_ago) {
  return senders_scenario::RecAt(now, ip, count, days_ago);
}

// A record from a host known by its PTR base domain, with one DKIM and one SPF result, DKIM
// and SPF both aligned or both not.
inline model::Record Host(std::int64_t now, const std::string& ip, std::uint64_t count,
                          std::int64_t days_ago, const std::string& base_domain, bool aligned,
                          model::DkimAuthResult dkim, model::SpfAuthResult spf) {
  model::Record r = Rec(now, ip, count, days_ago);
  r.source.base_domain = base_domain;
  Aligned(r, aligned, aligned);
  r.dkim = {std::move(dkim)};
  r.spf = {std::move(spf)};
  return r;
}

// The forwarded mail of the list, the forwarder and the relay, and the residential spoofer.
inline void AddForwardedMail(std::int64_t now, std::vector<model::AggregateReport>& out) {
  auto add = [&](const std::string& id, model::Record r) {
    out.push_back(senders_scenario::Report(kDomain, id, std::move(r), "none", "100"));
  };
  model::Record groups =
      Host(now, "209.85.220.41", kGroups, 5, "google.com", false, {kDomain, "s1", "fail", {}},
           {"googlegroups.com", "mfrom", "pass", {}});
  groups.source.reverse_dns = "mail-sor-f41.google.com";
  add("groups", groups);
  model::Record list_server = Host(now, "198.51.100.40", kListServer, 7, "uni.example", false,
                                   {kDomain, "s1", "fail", {}}, {kDomain, "mfrom", "fail", {}});
  list_server.source.reverse_dns = "lists.uni.example";
  add("list-server", list_server);
  add("survived", Host(now, "198.51.100.50", kSurvived, 4, "relay.example", false,
                       {kDomain, "s1", "pass", {}}, {kDomain, "mfrom", "fail", {}}));
  model::Record residential = Host(now, "203.0.113.77", kResidential, 3, "isp.example", false,
                                   {kDomain, "s1", "fail", {}}, {kDomain, "mfrom", "fail", {}});
  residential.source.reverse_dns = "dsl-203-0-113-77.dynamic.isp.example";
  add("residential", residential);
}

// The failing causes and fixes the advisor names for the scenario.
inline constexpr const char* kMcCause =
    "DKIM signs with d=mcsv.net, not example.com; SPF domain mcsv.net not aligned";
inline constexpr const char* kMcRemedy =
    "set up custom DKIM so that it signs with d=example.com (the CNAME/TXT records of the "
    "provider's instructions); or have the envelope-from (return-path) under example.com: a "
    "custom return-path at the sender";
inline constexpr const char* kSpoofCause = "no DKIM signature; SPF fail for example.com";
inline constexpr const char* kResidentialCause =
    "DKIM signature of d=example.com fails (fail); SPF fail for example.com";
inline constexpr const char* kBadCause =
    "DKIM signs with d=badguy.example, not example.com; SPF domain badguy.example not aligned";

// The reports (see the constants above). Statuses are not part of them: the tests set
// Mailchimp and outbound.example approved, badguy.example unapproved and forwarder.example a
// forwarder as they need.
inline std::vector<model::AggregateReport> Reports(std::int64_t now = kNow) {
  std::vector<model::AggregateReport> out;
  auto add = [&](const std::string& id, model::Record r) {
    out.push_back(Report(kDomain, id, std::move(r), "none", "100"));
  };
  // Mailchimp named by enrichment: aligned DKIM, two addresses.
  for (const auto& [ip, count, days] :
       {std::tuple{"198.2.128.1", kMcAligned / 2, 10},
        std::tuple{"198.2.128.2", kMcAligned / 2, 10}, std::tuple{"198.2.128.1", kMcOld, 40}}) {
    model::Record r = Rec(now, ip, count, days);
    r.source.name = "Mailchimp";
    r.source.type = "Marketing";
    Aligned(r, true, false);
    r.dkim = {{kDomain, "k1", "pass", {}}, {"mcsv.net", "k2", "pass", {}}};
    r.spf = {{"mcsv.net", "mfrom", "pass", {}}};
    add("mc-" + std::string(ip) + "-" + std::to_string(days), r);
  }
  // Mailchimp found by its signing domain: a list sent without the custom DKIM.
  model::Record mc = Rec(now, "198.2.129.7", kMcUnaligned, 5);
  Aligned(mc, false, false);
  mc.dkim = {{"mcsv.net", "k2", "pass", {}}};
  mc.spf = {{"mcsv.net", "mfrom", "pass", {}}};
  add("mc-unaligned", mc);
  // The domain's own servers, and their mail a receiver says was forwarded.
  add("own", Host(now, "192.0.2.10", kOwn, 3, "outbound.example", true, {kDomain, "s1", "pass", {}},
                  {kDomain, "mfrom", "pass", {}}));
  model::Record own_fwd = Host(now, "192.0.2.11", kOwnForwarded, 3, "outbound.example", false,
                               {kDomain, "s1", "fail", {}}, {kDomain, "mfrom", "fail", {}});
  own_fwd.policy_evaluated.policy_override_reasons = {{"forwarded", "relayed"}};
  add("own-forwarded", own_fwd);
  // A mailing list: the receiver's override reason says so.
  model::Record list =
      Host(now, "198.51.100.20", kList, 4, "lists.example.org", false, {kDomain, "s1", "fail", {}},
           {"lists.example.org", "mfrom", "pass", {}});
  list.policy_evaluated.policy_override_reasons = {{"mailing_list", "list"}};
  add("list", list);
  // A forwarder (by its status): no override reason.
  add("forwarder", Host(now, "198.51.100.30", kForwarder, 6, "forwarder.example", false,
                        {kDomain, "s1", "fail", {}}, {kDomain, "mfrom", "fail", {}}));
  // A spoofer without PTR name.
  model::Record spoof = Rec(now, "203.0.113.9", kSpoof, 2);
  spoof.source.asn = 64500;
  spoof.spf = {{kDomain, "mfrom", "fail", {}}};
  add("spoofer", spoof);
  // A sender the administrator rejected.
  add("badguy", Host(now, "203.0.113.66", kBad, 8, "badguy.example", false,
                     {"badguy.example", "x", "pass", {}}, {"badguy.example", "mfrom", "pass", {}}));
  // Seen once, aligned.
  add("once", Host(now, "192.0.2.50", kOnce, 2, "smallhost.example", true,
                   {kDomain, "small", "pass", {}}, {kDomain, "mfrom", "pass", {}}));
  AddForwardedMail(now, out);
  model::Record other = Rec(now, "198.51.100.1", kOther, 3);
  other.source.base_domain = "elsewhere.example";
  out.push_back(Report("other.example", "other", other));
  return out;
}

// A newer report of the domain publishing `p` at `pct`, with one aligned message of
// outbound.example (a day before now).
inline model::AggregateReport PolicyReport(const std::string& p, const std::string& pct,
                                           std::int64_t now = kNow) {
  model::Record r = Host(now, "192.0.2.10", 1, 1, "outbound.example", true,
                         {kDomain, "s1", "pass", {}}, {kDomain, "mfrom", "pass", {}});
  return Report(kDomain, "policy-" + p + "-" + pct, r, p, pct);
}

}  // namespace dmarc::store::advisor_scenario
