// Test data of the sender inventory (docs/senders.md): generated reports of one policy domain
// whose senders have known answers, for the store's, the API's and the CLI's tests.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "model/aggregate.h"

namespace dmarc::store::senders_scenario {

inline constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z
inline constexpr std::int64_t kDay = 86400;
inline constexpr const char* kDomain = "example.com";

// A record of kDomain from `ip`, `days_ago` days before `now`, nothing aligned yet.
inline model::Record RecAt(std::int64_t now, const std::string& ip, std::uint64_t count,
                           std::int64_t days_ago) {
  model::Record r;
  r.source.ip_address = ip;
  r.count = count;
  r.interval_begin = now - days_ago * kDay;
  r.interval_end = r.interval_begin + kDay - 1;
  r.identifiers.header_from = kDomain;
  r.policy_evaluated.disposition = "none";
  r.policy_evaluated.dkim = "fail";
  r.policy_evaluated.spf = "fail";
  return r;
}

inline model::Record Rec(const std::string& ip, std::uint64_t count, std::int64_t days_ago) {
  return RecAt(kNow, ip, count, days_ago);
}

inline void Aligned(model::Record& r, bool dkim, bool spf) {
  r.alignment.dkim = dkim;
  r.alignment.spf = spf;
  r.alignment.dmarc = dkim || spf;
  r.policy_evaluated.dkim = dkim ? "pass" : "fail";
  r.policy_evaluated.spf = spf ? "pass" : "fail";
}

// One report per record (each its own day), so the records' dates are the reports' too.
// Published: p (and sp) `p`, and `pct` unless empty.
inline model::AggregateReport Report(const std::string& domain, const std::string& id,
                                     model::Record rec, const std::string& p = "none",
                                     const std::string& pct = "") {
  model::AggregateReport rep;
  rep.xml_schema = "1.0";
  rep.report_metadata.org_name = "Scenario Receiver";
  rep.report_metadata.org_email = "dmarc@receiver.example";
  rep.report_metadata.report_id = id;
  rep.report_metadata.begin = rec.interval_begin;
  rep.report_metadata.end = rec.interval_end;
  rep.policy_published.domain = domain;
  rep.policy_published.p = p;
  rep.policy_published.sp = p;
  if (!pct.empty()) rep.policy_published.pct = pct;
  rec.identifiers.header_from = domain;
  rep.records.push_back(std::move(rec));
  return rep;
}

// The scenario:
// - "Mailchimp" (enrichment named it): 2 addresses, DKIM aligned (d=example.com) and signed
//   with d=mcsv.net too: 100 messages 10 days ago, 50 forty days ago → suggested approved.
// - "SendGrid" (no name from enrichment, found by its DKIM signing domain sendgrid.net): DKIM
//   passes but not aligned, 40 messages 5 days ago → suggested unknown.
// - "AS64500": a spoofer from an address without PTR name, 7 messages 2 days ago, nothing
//   aligned → unknown.
// - "smallhost.example" (PTR base domain): seen once, 1 message 70 days ago (outside both trend
//   periods), DKIM aligned → suggested approved.
// - A report of another domain, which the inventory of example.com never shows.
inline std::vector<model::AggregateReport> Reports() {
  std::vector<model::AggregateReport> out;
  for (const auto& [ip, count, days] :
       {std::tuple{"198.2.128.1", 60, 10}, std::tuple{"198.2.128.2", 40, 10},
        std::tuple{"198.2.128.1", 50, 40}}) {
    model::Record r = Rec(ip, static_cast<std::uint64_t>(count), days);
    r.source.name = "Mailchimp";
    r.source.type = "Marketing";
    r.source.base_domain = "rsgsv.net";
    Aligned(r, true, false);
    r.dkim = {{"example.com", "k1", "pass", {}}, {"mcsv.net", "k2", "pass", {}}};
    r.spf = {{"mcsv.net", "mfrom", "pass", {}}};
    out.push_back(Report(kDomain, "mc-" + std::string(ip) + "-" + std::to_string(days), r));
  }
  model::Record sg = Rec("167.89.0.1", 40, 5);
  Aligned(sg, false, false);
  sg.dkim = {{"sendgrid.net", "s1", "pass", {}}};
  sg.spf = {{"bounces.sendgrid.net", "mfrom", "pass", {}}};
  out.push_back(Report(kDomain, "sendgrid", sg));
  model::Record spoof = Rec("203.0.113.9", 7, 2);
  spoof.source.asn = 64500;
  spoof.source.as_name = "Residential ISP";
  Aligned(spoof, false, false);
  spoof.spf = {{kDomain, "mfrom", "fail", {}}};
  out.push_back(Report(kDomain, "spoofer", spoof));
  model::Record once = Rec("192.0.2.50", 1, 70);
  once.source.base_domain = "smallhost.example";
  once.source.reverse_dns = "mx.smallhost.example";
  Aligned(once, true, true);
  once.dkim = {{kDomain, "small", "pass", {}}};
  once.spf = {{kDomain, "mfrom", "pass", {}}};
  out.push_back(Report(kDomain, "once", once));
  model::Record other = Rec("198.51.100.1", 1000, 3);
  other.source.base_domain = "elsewhere.example";
  out.push_back(Report("other.example", "other", other));
  return out;
}

}  // namespace dmarc::store::senders_scenario
