// The enforcement advisor (advisor.h): one pass over the domain's aggregate reports, joined with
// the stored sender statuses, then the simulation, the score and the rules of docs/senders.md.
#include "store/advisor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "base/text.h"
#include "base/time.h"
#include "store/sender_index.h"
#include "store/senders.h"

namespace dmarc::store {

namespace {

constexpr std::int64_t kDay = 86400;

bool EndsWithDomain(std::string_view name, std::string_view domain) {
  return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
         EqualsIgnoreCase(name.substr(name.size() - domain.size()), domain);
}

// Rule 5: a passing signature of the From domain itself, from another organisation's address.
std::optional<ForwardReason> DkimSurvived(const model::Record& r, const std::string& from) {
  if (!r.source.base_domain || r.source.base_domain->empty()) return std::nullopt;
  const std::string& base = *r.source.base_domain;
  if (EqualsIgnoreCase(base, from) || EndsWithDomain(from, base) || EndsWithDomain(base, from)) {
    return std::nullopt;
  }
  for (const auto& d : r.dkim) {
    if (d.result == "pass" && EqualsIgnoreCase(d.domain, from)) {
      return ForwardReason{"dkim_survived", "d=" + d.domain};
    }
  }
  return std::nullopt;
}

// Equal numbers for the values of equal Text() (causes, reasons), in the index's order.
template <typename T>
std::vector<std::uint32_t> TextIds(const std::vector<T>& values, std::vector<std::string>& texts) {
  std::map<std::string, std::uint32_t> ids;
  std::vector<std::uint32_t> out;
  out.reserve(values.size());
  for (const auto& v : values) {
    std::string t = v.Text();
    auto [it, added] = ids.try_emplace(t, static_cast<std::uint32_t>(texts.size()));
    if (added) texts.push_back(std::move(t));
    out.push_back(it->second);
  }
  return out;
}

// What a query needs of the index beyond the facts: the texts by which causes and reasons are
// grouped.
struct Texts {
  const SenderIndex& index;
  std::vector<std::string> cause_texts, reason_texts;
  std::vector<std::uint32_t> cause_text, reason_text;  // by index id

  explicit Texts(const SenderIndex& i)
      : index(i),
        cause_text(TextIds(i.causes, cause_texts)),
        reason_text(TextIds(i.reasons, reason_texts)) {}
};

// The messages of one cause (the first record's cause stands for all of the same text), and the
// addresses they came from.
struct CauseAcc {
  std::uint32_t first = 0;  // index id
  std::uint64_t messages = 0;
  std::unordered_set<std::uint32_t> ips;
};
struct ReasonAcc {
  std::uint32_t first = 0;
  std::uint64_t messages = 0;
};

// One bucket (forwarded or failing) of a sender's DMARC-failing mail, by cause.
struct Bucket {
  std::uint64_t messages = 0;
  std::unordered_map<std::uint32_t, CauseAcc> causes;  // by cause text
  std::unordered_set<std::uint32_t> ips;
  std::uint64_t subdomain = 0;  // messages whose From is a subdomain of the policy domain
  std::unordered_map<std::uint32_t, ReasonAcc> reasons;  // forwarded: by reason text

  void Add(const SenderIndex::Failing& f, const Texts& t, std::int32_t why = -1) {
    if (why >= 0) {
      const auto id = static_cast<std::uint32_t>(why);
      ReasonAcc& r = reasons.try_emplace(t.reason_text[id], ReasonAcc{id, 0}).first->second;
      r.messages += f.count;
    }
    messages += f.count;
    ips.insert(f.ip);
    if (f.subdomain) subdomain += f.count;
    CauseAcc& a = causes.try_emplace(t.cause_text[f.cause], CauseAcc{f.cause, 0, {}}).first->second;
    a.messages += f.count;
    a.ips.insert(f.ip);
  }

  // The causes, most messages first.
  std::vector<FailCause> Sorted(const Texts& t) const {
    std::vector<FailCause> out;
    for (const auto& [text, a] : causes) {
      out.push_back(t.index.causes[a.first]);
      out.back().messages = a.messages;
      out.back().ip_count = a.ips.size();
    }
    std::sort(out.begin(), out.end(), [](const FailCause& x, const FailCause& y) {
      return x.messages != y.messages ? x.messages > y.messages : x.Text() < y.Text();
    });
    return out;
  }

  // The reasons, most messages first.
  std::vector<ForwardReason> SortedReasons(const Texts& t) const {
    std::vector<std::pair<std::uint32_t, ForwardReason>> v;
    for (const auto& [text, r] : reasons) {
      v.emplace_back(text, t.index.reasons[r.first]);
      v.back().second.messages = r.messages;
    }
    std::sort(v.begin(), v.end(), [&](const auto& x, const auto& y) {
      return x.second.messages != y.second.messages
                 ? x.second.messages > y.second.messages
                 : t.reason_texts[x.first] < t.reason_texts[y.first];
    });
    std::vector<ForwardReason> out;
    out.reserve(v.size());
    for (auto& [text, r] : v) out.push_back(std::move(r));
    return out;
  }
};

struct SenderAcc {
  SenderOutcome out;
  Bucket forwarded;
  Bucket failing;
};

// The newest report's policy: the latest begin, then end, then report id (the same choice
// whatever order a back end visits the reports in).
bool Newer(const SenderIndex::ReportPolicy& rep, const PublishedPolicy& p, std::int64_t end,
           const std::string& id) {
  if (rep.policy.report_begin != p.report_begin) return rep.policy.report_begin > p.report_begin;
  if (rep.end != end) return rep.end > end;
  return rep.report_id > id;
}

BlockedSender Blocked(const SenderAcc& a, const Bucket& b, const Texts& t) {
  BlockedSender s{a.out.key, a.out.status, b.messages, b.Sorted(t), b.SortedReasons(t)};
  if (s.causes.size() > kMaxAdviceCauses) s.causes.resize(kMaxAdviceCauses);
  return s;
}

void SortBlocked(std::vector<BlockedSender>& v) {
  std::sort(v.begin(), v.end(), [](const BlockedSender& x, const BlockedSender& y) {
    return x.messages != y.messages ? x.messages > y.messages : x.key < y.key;
  });
}

std::string Percent(double p) { return fmt::format("{:.1f} %", p); }

std::string Plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// "99.8 % of approved senders' mail (499 of 500 messages) passed DMARC in the last 30 days; of
// the 1 failing, 1 forwarded and 0 to fix".
std::string ScoreEvidence(const Advice& a) {
  std::string s = fmt::format("{} of approved senders' mail ({} of {}) passed DMARC in the last {}",
                              Percent(*a.readiness), a.approved_pass,
                              Plural(a.approved_messages, "message", "messages"),
                              Plural(static_cast<std::uint64_t>(a.days), "day", "days"));
  const std::uint64_t failed = a.approved_messages - a.approved_pass;
  if (failed > 0) {
    const std::uint64_t forwarded = failed - a.simulation.approved_blocked;
    s += fmt::format("; of the {} failing, {} forwarded and {} to fix", failed, forwarded,
                     a.simulation.approved_blocked);
  }
  return s;
}

std::string SimulationEvidence(const Advice& a, std::string_view policy) {
  const Simulation& sim = a.simulation;
  return fmt::format(
      "at p={}, {} of approved senders, {} and {} of other senders (spoofing) would have "
      "failed",
      policy, Plural(sim.approved_blocked, "message", "messages"),
      Plural(sim.forwarded_hit, "forwarded message", "forwarded messages"),
      Plural(sim.spoofing_blocked, "message", "messages"));
}

Recommendation FixFirst(const Advice& a, double needed, std::string_view next) {
  std::string what;
  std::vector<std::string> senders;
  for (const auto& f : a.fixes) {
    if (senders.size() < 3) what += (senders.empty() ? "" : ", ") + f.sender;
    senders.push_back(f.sender);
  }
  if (senders.size() > 3) what += fmt::format(" and {} more", senders.size() - 3);
  return {"fix_first",
          what.empty() ? "fix first: the approved senders' forwarded mail (see the simulation)"
                       : "fix first: " + what,
          fmt::format("{}; {} needs {}", ScoreEvidence(a), next, Percent(needed)),
          std::move(senders)};
}

Recommendation Recommend(const Advice& a) {
  if (a.messages == 0) {
    return {"no_data", "wait for reports",
            fmt::format("no aggregate report of {} has records that began in the last {}", a.domain,
                        Plural(static_cast<std::uint64_t>(a.days), "day", "days"))};
  }
  if (!a.readiness) {
    std::vector<std::string> suggested;
    for (const auto& s : a.senders) {
      // Never "unknown" (no name, no PTR, no ASN): approving it would approve any such source.
      if (s.suggested == "approved" && s.kind != "unknown" && s.status != "unapproved" &&
          s.status != "forwarder") {
        suggested.push_back(s.key);
      }
    }
    return {"approve_senders", "approve your senders first",
            suggested.empty()
                ? fmt::format("no sender of {} in the last {} is approved, and none is suggested "
                              "(none signs 90 % of its mail with aligned DKIM): review `senders "
                              "list`",
                              a.domain, Plural(static_cast<std::uint64_t>(a.days), "day", "days"))
                : fmt::format("no sender of {} in the last {} is approved; suggested from their "
                              "aligned DKIM: {}",
                              a.domain, Plural(static_cast<std::uint64_t>(a.days), "day", "days"),
                              fmt::join(suggested, ", ")),
            suggested};
  }
  const double score = *a.readiness;
  const std::string p = a.policy ? a.policy->p : "";
  const bool full = !a.policy || !a.policy->pct || *a.policy->pct == "100";
  const std::string evidence = ScoreEvidence(a);
  if (p == "reject") {
    if (score < kReadyForRejectPercent) return FixFirst(a, kReadyForRejectPercent, "p=reject");
    if (!full) {
      return {"raise_pct", "raise pct to 100 (p=reject)",
              fmt::format("{}; {}", evidence, SimulationEvidence(a, "reject"))};
    }
    return {"keep_reject", "keep p=reject", evidence};
  }
  if (p == "quarantine") {
    if (!full) {
      if (score < kReadyForQuarantinePercent) {
        return FixFirst(a, kReadyForQuarantinePercent, "p=quarantine at pct=100");
      }
      return {"raise_pct", "raise pct to 100 (p=quarantine)",
              fmt::format("{}; {}", evidence, SimulationEvidence(a, "quarantine"))};
    }
    if (score < kReadyForRejectPercent) return FixFirst(a, kReadyForRejectPercent, "p=reject");
    return {"move_to_reject", "move to p=reject",
            fmt::format("{}; {}", evidence, SimulationEvidence(a, "reject"))};
  }
  if (score < kReadyForQuarantinePercent) {
    return FixFirst(a, kReadyForQuarantinePercent, "p=quarantine");
  }
  return {"move_to_quarantine", "move to p=quarantine",
          fmt::format("{}; {}", evidence, SimulationEvidence(a, "quarantine"))};
}

// The newest report's policy among those that began before the period's end.
struct PolicyPick {
  std::optional<PublishedPolicy> policy;
  std::int64_t end = 0;
  std::string id;

  void Offer(const SenderIndex::ReportPolicy& report, std::int64_t now) {
    if (report.policy.report_begin >= now || (policy && !Newer(report, *policy, end, id))) return;
    policy = report.policy;
    end = report.end;
    id = report.report_id;
  }
};

FixItem FixOf(const SenderOutcome& o, const Bucket& failing, const Texts& t) {
  const std::vector<FailCause> causes = failing.Sorted(t);
  FixItem f{o.key, o.failing, failing.ips.size(), causes.front().Text(), causes.front().remedy, ""};
  f.text =
      fmt::format("{}: {} from {}: {}: {}", f.sender, Plural(f.messages, "message", "messages"),
                  Plural(f.ip_count, "address", "addresses"), f.cause, f.remedy);
  if (causes.size() > 1) f.text += fmt::format(" (and {} more causes)", causes.size() - 1);
  return f;
}

int Level(const std::string& policy) {
  return policy == "reject" ? 2 : policy == "quarantine" ? 1 : 0;
}

// What the proposed record does to a bucket: its messages from the domain itself under p, from
// subdomains under sp (p when there is none), one step less under t=y.
void AddEffect(PolicyEffect& e, const ProposedPolicy& pp, const Bucket& b) {
  auto apply = [&](const std::string& policy, std::uint64_t n) {
    const int level = Level(policy) - (pp.testing ? 1 : 0);
    if (level == 1) e.quarantined += n;
    if (level == 2) e.rejected += n;
  };
  apply(pp.p, b.messages - b.subdomain);
  apply(pp.sp.empty() ? pp.p : pp.sp, b.subdomain);
}

// Counts a sender of the period into the totals, the score, the simulation and what to fix.
void AddSender(Advice& a, SenderAcc& s, const Texts& t) {
  SenderOutcome& o = s.out;
  o.forwarded = s.forwarded.messages;
  o.failing = s.failing.messages;
  o.dmarc_fail = o.forwarded + o.failing;
  a.messages += o.messages;
  a.dmarc_pass += o.dmarc_pass;
  a.forwarded += o.forwarded;
  a.failing += o.failing;
  Simulation& sim = a.simulation;
  const bool approved = o.status == "approved";
  if (approved) {
    a.approved_messages += o.messages;
    a.approved_pass += o.dmarc_pass;
  }
  sim.subdomain_messages += s.forwarded.subdomain + s.failing.subdomain;
  if (o.forwarded > 0) {
    sim.forwarded_hit += o.forwarded;
    sim.forwarded.push_back(Blocked(s, s.forwarded, t));
    AddEffect(sim.forwarded_effect, sim.proposed, s.forwarded);
  }
  if (o.failing > 0 && approved) {
    sim.approved_blocked += o.failing;
    sim.approved.push_back(Blocked(s, s.failing, t));
    AddEffect(sim.approved_effect, sim.proposed, s.failing);
    a.fixes.push_back(FixOf(o, s.failing, t));
  } else if (o.failing > 0) {
    sim.spoofing_blocked += o.failing;
    sim.unapproved.push_back(Blocked(s, s.failing, t));
    AddEffect(sim.spoofing_effect, sim.proposed, s.failing);
  }
  a.senders.push_back(std::move(o));
}

// Orders the lists, then the score, the note and the recommendation.
void Finish(Advice& a) {
  std::sort(a.senders.begin(), a.senders.end(), [](const auto& x, const auto& y) {
    return x.messages != y.messages ? x.messages > y.messages : x.key < y.key;
  });
  Simulation& sim = a.simulation;
  SortBlocked(sim.approved);
  SortBlocked(sim.forwarded);
  SortBlocked(sim.unapproved);
  std::sort(a.fixes.begin(), a.fixes.end(), [](const FixItem& x, const FixItem& y) {
    return x.messages != y.messages ? x.messages > y.messages : x.sender < y.sender;
  });
  if (a.approved_messages > 0) {
    a.readiness =
        100.0 * static_cast<double>(a.approved_pass) / static_cast<double>(a.approved_messages);
  }
  std::vector<std::string> notes;
  if (a.policy && a.policy->pct && *a.policy->pct != "100") {
    notes.push_back(
        fmt::format("the policy publishes pct={}; the simulation is of pct=100", *a.policy->pct));
  }
  const ProposedPolicy& pp = sim.proposed;
  if (sim.subdomain_messages > 0) {
    notes.push_back(fmt::format(
        "{} of these messages {} from subdomains of {}, which follow sp ({}) rather than p: the "
        "counts include them, and the proposed record's effect applies {} to them",
        sim.subdomain_messages, sim.subdomain_messages == 1 ? "is" : "are", a.domain,
        a.policy && !a.policy->sp.empty() ? "sp=" + a.policy->sp : "none published",
        pp.sp.empty() ? "its p (it has no sp)" : "sp=" + pp.sp));
  }
  if (!pp.np.empty() && pp.np != (pp.sp.empty() ? pp.p : pp.sp)) {
    notes.push_back(fmt::format(
        "np={} applies to subdomains that do not exist in DNS; the reports do not tell which "
        "those are, so the effect counts every subdomain under sp",
        pp.np));
  }
  if (pp.testing) {
    notes.push_back(
        "t=y: receivers apply one step less (reject as quarantine, quarantine as none)");
  }
  sim.note = fmt::format("{}", fmt::join(notes, "; "));
  a.recommendation = Recommend(a);
}

}  // namespace

std::string ProposedPolicy::Text() const {
  std::string s = "p=" + p;
  if (!sp.empty()) s += "; sp=" + sp;
  if (!np.empty()) s += "; np=" + np;
  if (testing) s += "; t=y";
  return s;
}

Result<ProposedPolicy> ParseProposedPolicy(std::string_view record) {
  if (record.size() > kMaxProposedRecordBytes) {
    return MakeError(ErrorKind::kInvalid,
                     fmt::format("the record is longer than {} bytes", kMaxProposedRecordBytes));
  }
  ProposedPolicy out;
  bool has_p = false;
  while (!record.empty()) {
    const auto semi = record.find(';');
    const std::string_view part = Trim(record.substr(0, semi));
    record.remove_prefix(semi == std::string_view::npos ? record.size() : semi + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) {
      return MakeError(ErrorKind::kInvalid, fmt::format("\"{}\" is not TAG=VALUE", part));
    }
    const std::string tag = ToLowerAscii(Trim(part.substr(0, eq)));
    const std::string value = ToLowerAscii(Trim(part.substr(eq + 1)));
    if (tag == "p" || tag == "sp" || tag == "np") {
      if (value != "none" && value != "quarantine" && value != "reject") {
        return MakeError(ErrorKind::kInvalid,
                         fmt::format("{}: none, quarantine or reject, not \"{}\"", tag, value));
      }
      (tag == "p" ? out.p : tag == "sp" ? out.sp : out.np) = value;
      has_p = has_p || tag == "p";
    } else if (tag == "t") {
      if (value != "y" && value != "n") {
        return MakeError(ErrorKind::kInvalid, fmt::format("t: y or n, not \"{}\"", value));
      }
      out.testing = value == "y";
    }
  }
  if (!has_p) return MakeError(ErrorKind::kInvalid, "p: the record must have a p tag");
  return out;
}

ProposedPolicy DefaultProposal(const std::optional<PublishedPolicy>& published) {
  ProposedPolicy pp;
  pp.p = published && (published->p == "quarantine" || published->p == "reject") ? "reject"
                                                                                 : "quarantine";
  if (published) {
    pp.sp = ToLowerAscii(published->sp);
    if (published->np) pp.np = ToLowerAscii(*published->np);
    if (Level(pp.sp) == 0 && pp.sp != "none") pp.sp.clear();  // unknown values: not kept
    if (Level(pp.np) == 0 && pp.np != "none") pp.np.clear();
  }
  return pp;
}

std::string ForwardReason::Text() const {
  if (reason == "override") return "the receiver's override reason " + detail;
  if (reason == "arc") return fmt::format("ARC passed (the receiver's comment: {})", detail);
  if (reason == "sender_status") return "the sender's status is forwarder";
  if (reason == "known_forwarder") return "a known forwarder: " + detail;
  if (reason == "dkim_survived") {
    return fmt::format("the DKIM signature ({}) survived, from another organisation's address",
                       detail);
  }
  return reason;
}

std::optional<ForwardReason> ForwardedByReceiver(const model::Record& r) {
  const auto& reasons = r.policy_evaluated.policy_override_reasons;
  for (const auto& o : reasons) {
    if (o.type &&
        (*o.type == "forwarded" || *o.type == "mailing_list" || *o.type == "trusted_forwarder")) {
      return ForwardReason{"override", *o.type};
    }
  }
  for (const auto& o : reasons) {
    if (o.comment && ToLowerAscii(*o.comment).find("arc=pass") != std::string::npos) {
      return ForwardReason{"arc", *o.comment};
    }
  }
  return std::nullopt;
}

std::optional<ForwardReason> ForwardedByListOrDkim(const model::Record& r,
                                                   const KnownForwarder* forwarder,
                                                   const std::string& domain) {
  if (forwarder) {
    return ForwardReason{"known_forwarder",
                         fmt::format("{} ({})", forwarder->name, forwarder->kind)};
  }
  return DkimSurvived(r, r.identifiers.header_from.empty() ? domain : r.identifiers.header_from);
}

ForwardRule DecideForwarded(bool by_receiver, const std::string& status, bool by_list_or_dkim) {
  if (by_receiver) return ForwardRule::kReceiver;
  if (status == "forwarder") return ForwardRule::kStatus;
  // The administrator's word on a sender comes before the list and the pattern.
  if (status == "approved" || status == "unapproved") return ForwardRule::kNone;
  return by_list_or_dkim ? ForwardRule::kListOrDkim : ForwardRule::kNone;
}

std::optional<ForwardReason> ForwardedBecause(const model::Record& r, const std::string& status,
                                              const std::string& domain,
                                              const Forwarders& forwarders) {
  if (r.alignment.dmarc) return std::nullopt;
  auto by = ForwardedByReceiver(r);
  auto other = ForwardedByListOrDkim(r, forwarders.Match(r), domain);
  switch (DecideForwarded(by.has_value(), status, other.has_value())) {
    case ForwardRule::kReceiver:
      return by;
    case ForwardRule::kStatus:
      return SenderStatusReason();
    case ForwardRule::kListOrDkim:
      return other;
    case ForwardRule::kNone:
      break;
  }
  return std::nullopt;
}

FailCause CauseOfFailure(const model::Record& r, const std::string& domain) {
  const std::string& from = r.identifiers.header_from.empty() ? domain : r.identifiers.header_from;
  FailCause c;
  const model::DkimAuthResult* signed_pass = nullptr;
  for (const auto& d : r.dkim) {
    if (d.result == "pass") {
      signed_pass = &d;
      break;
    }
  }
  if (r.dkim.empty()) {
    c.dkim = "no DKIM signature";
    c.remedy = fmt::format("turn on DKIM signing with d={} at the sender", from);
  } else if (signed_pass && EqualsIgnoreCase(signed_pass->domain, from)) {
    c.dkim = fmt::format("DKIM passes for d={} but the receiver found it not aligned",
                         signed_pass->domain);
    c.remedy = "check the policy's adkim and the From domain";
  } else if (signed_pass) {
    c.dkim = fmt::format("DKIM signs with d={}, not {}", signed_pass->domain, from);
    c.remedy = fmt::format(
        "set up custom DKIM so that it signs with d={} (the CNAME/TXT records of the provider's "
        "instructions)",
        from);
  } else {
    const auto& d = r.dkim.front();
    c.dkim = fmt::format("DKIM signature of d={} fails ({})", d.domain, d.result);
    c.remedy = fmt::format("fix DKIM signing: publish the key of selector {} at {}",
                           d.selector.empty() ? "?" : d.selector, d.domain);
  }
  // The envelope (mfrom) result if there is one, else the first.
  const model::SpfAuthResult* spf = nullptr;
  for (const auto& s : r.spf) {
    if (!spf || (s.scope == "mfrom" && spf->scope != "mfrom")) spf = &s;
  }
  if (!spf) {
    c.spf = "no SPF result";
  } else if (spf->result == "pass") {
    c.spf = fmt::format("SPF domain {} not aligned", spf->domain);
    c.remedy += fmt::format(
        "; or have the envelope-from (return-path) under {}: a custom return-path at the sender",
        from);
  } else {
    const std::string result = spf->result.empty() ? "none" : spf->result;
    c.spf = spf->domain.empty() ? fmt::format("SPF {} (no domain)", result)
                                : fmt::format("SPF {} for {}", result, spf->domain);
    if (EqualsIgnoreCase(spf->domain, from)) {
      c.remedy += fmt::format("; or add the sender's addresses to the SPF record of {}", from);
    }
  }
  return c;
}

namespace {

Result<FailureReportCounts> CountFailureReports(ReportStore& store, const AdviceOptions& opts,
                                                const Forwarders& forwarders) {
  const std::int64_t since = opts.now - static_cast<std::int64_t>(opts.days) * kDay;
  Filter filter;
  filter.domain = opts.domain;
  filter.from = FloorDay(since);
  filter.to = FloorDay(opts.now);
  FailureReportCounts c;
  auto read = store.ForEachFailure(filter, [&](model::FailureReport&& report) {
    if (report.arrival_ts < since || report.arrival_ts >= opts.now) return;
    ++c.reports;
    const FailureForwarding f = ClassifyFailure(report, forwarders);
    if (f.kind == "forwarded") ++c.forwarded;
    if (f.kind == "mailing_list") ++c.mailing_list;
    for (const auto& e : f.evidence) {
      if (e.rfind("ARC ", 0) == 0) ++c.arc_headers;
    }
  });
  if (!read) return MakeError(read.error_kind(), read.error());
  return c;
}

}  // namespace

ForwardReason SenderStatusReason() { return ForwardReason{"sender_status", "forwarder"}; }

Advice Advise(const SenderIndex& index, const AdviceOptions& opts,
              const std::vector<SenderStatusRow>& statuses) {
  Advice a;
  a.domain = opts.domain;
  a.now = opts.now;
  a.days = opts.days;
  a.since = opts.now - static_cast<std::int64_t>(opts.days) * kDay;
  std::unordered_map<std::string_view, const std::string*> status_of;
  for (const auto& row : statuses) status_of[row.sender] = &row.status;

  PolicyPick policy;
  for (const auto& p : index.policies) policy.Offer(p, opts.now);
  a.policy = std::move(policy.policy);
  a.simulation.proposed = opts.proposed ? *opts.proposed : DefaultProposal(a.policy);

  const Texts texts(index);
  std::vector<SenderAcc> acc(index.senders.size());
  for (std::size_t i = 0; i < acc.size(); ++i) {
    const SenderIndex::SenderEntry& e = index.senders[i];
    SenderOutcome& o = acc[i].out;
    o.key = e.totals.key;
    o.kind = e.totals.kind;
    o.suggested = e.totals.suggested;
    auto st = status_of.find(o.key);
    o.status = st == status_of.end() ? "unknown" : *st->second;
    for (const auto& slot : e.slots) {
      if (slot.begin < a.since) continue;
      if (slot.begin >= opts.now) break;
      o.messages += slot.messages;
      o.dmarc_pass += slot.dmarc_pass;
    }
  }
  for (const auto& f : index.failing) {
    if (f.begin < a.since || f.begin >= opts.now) continue;
    SenderAcc& s = acc[f.sender];
    switch (DecideForwarded(f.by_receiver >= 0, s.out.status, f.by_list_or_dkim >= 0)) {
      case ForwardRule::kReceiver:
        s.forwarded.Add(f, texts, f.by_receiver);
        break;
      case ForwardRule::kStatus:
        s.forwarded.Add(f, texts, SenderIndex::kSenderStatusReason);
        break;
      case ForwardRule::kListOrDkim:
        s.forwarded.Add(f, texts, f.by_list_or_dkim);
        break;
      case ForwardRule::kNone:
        s.failing.Add(f, texts);
        break;
    }
  }
  for (auto& s : acc) {
    if (s.out.messages > 0) AddSender(a, s, texts);
  }
  Finish(a);
  return a;
}

Result<Advice> Advise(ReportStore& store, const SenderIndex& index, const AdviceOptions& opts) {
  auto statuses = store.SenderStatuses(opts.domain);
  if (!statuses) return MakeError(statuses.error_kind(), statuses.error());
  Advice a = Advise(index, opts, *statuses);
  auto failures = CountFailureReports(store, opts, *index.forwarders);
  if (!failures) return MakeError(failures.error_kind(), failures.error());
  a.failure_reports = *failures;
  return a;
}

Result<Advice> Advise(ReportStore& store, const AdviceOptions& opts) {
  auto index = SenderIndex::Build(store, opts.domain,
                                  opts.forwarders ? *opts.forwarders : Forwarders::BuiltIn());
  if (!index) return MakeError(index.error_kind(), index.error());
  return Advise(store, **index, opts);
}

}  // namespace dmarc::store
