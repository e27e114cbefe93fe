// The enforcement advisor of a policy domain (docs/senders.md, "Enforcement advisor"): on top of
// the sender inventory, what the domain publishes, how its senders' mail of the last days fared
// under DMARC, what p=quarantine or p=reject would have blocked (approved mail, forwarded mail,
// spoofing), a readiness score, the recommended next step with its evidence in words, and what
// to fix first. Computed from ReportStore::ForEachAggregate, so every back end gives the same
// answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/forwarders.h"
#include "store/store.h"

namespace dmarc::store {

// The readiness (approved senders' mail passing DMARC, in %) from which the advisor recommends
// p=quarantine (from p=none, or pct=100 at a lower pct), and p=reject.
inline constexpr double kReadyForQuarantinePercent = 98.0;
inline constexpr double kReadyForRejectPercent = 99.5;
// Per sender, the causes listed in the simulation (the rest are summed in its messages).
inline constexpr std::size_t kMaxAdviceCauses = 3;

// A DMARC record to simulate (docs/senders.md, "The simulation"): `p`, `sp` and `np` are
// "none", "quarantine" or "reject"; `sp` empty: `p` applies to subdomains; `np` empty: `sp`.
// `testing`: RFC 9989's t=y, under which receivers apply one step less (reject as quarantine,
// quarantine as none).
struct ProposedPolicy {
  std::string p;
  std::string sp;
  std::string np;
  bool testing = false;
  std::string Text() const;  // "p=reject; sp=none; t=y"
};

// The longest record ParseProposedPolicy reads.
inline constexpr std::size_t kMaxProposedRecordBytes = 1024;

// Reads the tags p, sp, np and t of a DMARC record ("v=DMARC1; p=reject; sp=none; t=y"; other
// tags are ignored, and so is v), as a user types it; kInvalid names the tag that is wrong. p is
// required.
Result<ProposedPolicy> ParseProposedPolicy(std::string_view record);

struct AdviceOptions {
  std::string domain;    // the policy domain (required)
  std::int64_t now = 0;  // the end of the period (Unix seconds)
  int days = 30;         // the period: records whose interval began in [now - days, now)
  // The known forwarders (rule 3 below); nullptr: the bundled list.
  const Forwarders* forwarders = nullptr;
  // The record the simulation applies; nullopt: the next step from the published policy
  // (DefaultProposal).
  std::optional<ProposedPolicy> proposed;
};

// The policy published, as the newest report of the domain that began before the period's end
// states it.
struct PublishedPolicy {
  std::string p;
  std::string sp;
  std::optional<std::string> pct;
  std::optional<std::string> np;
  std::string adkim;
  std::string aspf;
  std::int64_t report_begin = 0;  // of the report it was read from
  std::string reported_by;        // that report's org_name
};

// Why a DMARC-failing message counts as forwarded (docs/senders.md, "Forwarded mail"), the first
// that applies: 1. `override`: the receiver's override reason is forwarded, mailing_list or
// trusted_forwarder (detail: the type); 2. `arc`: an override reason's comment says arc=pass
// (detail: the comment); 3. `sender_status`: the sender's status is "forwarder"; then, for a
// sender neither approved nor unapproved: 4. `known_forwarder`: the source is on the list of
// known forwarders (detail: its name and kind); 5. `dkim_survived`: a DKIM signature of the From
// domain itself passed, from an address of another organisation (its PTR base domain is not the
// From domain's) — the receiver's DMARC result failed all the same (detail: d=DOMAIN).
// A receiver's `local_policy` alone is not forwarding: it is the receiver's own decision.
struct ForwardReason {
  std::string reason;
  std::string detail;
  std::uint64_t messages = 0;
  std::string Text() const;  // in words
};

// A sender's mail of the period. DMARC-failing messages are either `forwarded` (ForwardReason)
// or `failing` (the rest).
struct SenderOutcome {
  std::string key;
  std::string kind;
  std::string status;     // as the inventory (senders.h)
  std::string suggested;  // as the inventory: over all of the sender's stored mail
  std::uint64_t messages = 0;
  std::uint64_t dmarc_pass = 0;
  std::uint64_t dmarc_fail = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t failing = 0;
};

// Why failing messages failed DMARC (no aligned DKIM and no aligned SPF), in words.
struct FailCause {
  std::string dkim;    // "DKIM signs with d=mcsv.net, not example.com", "no DKIM signature", ...
  std::string spf;     // "SPF domain mcsv.net not aligned", "SPF fails for example.com", ...
  std::string remedy;  // what the domain owner can do
  std::uint64_t messages = 0;
  std::size_t ip_count = 0;  // distinct source addresses
  std::string Text() const { return dkim + "; " + spf; }
};

// What a proposed record does to a group of DMARC-failing messages (the rest are delivered).
struct PolicyEffect {
  std::uint64_t quarantined = 0;
  std::uint64_t rejected = 0;
};

// A sender's messages that an enforcing policy would hit.
struct BlockedSender {
  std::string key;
  std::string status;
  std::uint64_t messages = 0;
  std::vector<FailCause> causes;       // most messages first, up to kMaxAdviceCauses
  std::vector<ForwardReason> reasons;  // forwarded messages: why, most messages first
};

// What p=quarantine or p=reject (at pct=100, on the domain and its subdomains alike) would have
// done to the period's mail: the same messages fail either way; quarantine delivers them as
// spam, reject refuses them.
struct Simulation {
  std::uint64_t approved_blocked = 0;  // approved senders' failing (not forwarded) messages
  std::vector<BlockedSender> approved;
  std::uint64_t forwarded_hit = 0;  // forwarded messages of any sender
  std::vector<BlockedSender> forwarded;
  std::uint64_t spoofing_blocked = 0;  // failing messages of unapproved and unknown senders
  std::vector<BlockedSender> unapproved;
  // Of the messages above, those whose From is a subdomain of the policy domain (sp governs
  // them; the simulation applies the same policy).
  std::uint64_t subdomain_messages = 0;
  std::string note;  // the published pct is below 100; subdomains' mail is counted
  // The record simulated, and what it does to each of the three groups above: the policy domain's
  // own mail under p, its subdomains' under sp, one step less under t=y.
  ProposedPolicy proposed;
  PolicyEffect approved_effect, forwarded_effect, spoofing_effect;
};

// The next step: `rule` is one of no_data, approve_senders, fix_first, move_to_quarantine,
// raise_pct, move_to_reject, keep_reject (docs/senders.md).
struct Recommendation {
  std::string rule;
  std::string action;    // "move to p=quarantine", ...
  std::string evidence;  // why, in words
  // approve_senders: the senders suggested for approval; fix_first: the senders to fix (all of
  // them, the action names the first 3). Most messages first.
  std::vector<std::string> senders;
};

// One thing to fix: an approved sender's failing mail, with its main cause and the remedy.
struct FixItem {
  std::string sender;
  std::uint64_t messages = 0;  // its failing (not forwarded) messages
  std::size_t ip_count = 0;
  std::string cause;
  std::string remedy;
  std::string text;  // "Mailchimp: 40 messages from 1 address: DKIM signs ...: set up ..."
};

// The failure reports of the period (their arrival in it, reported for the domain), and how many
// of them ClassifyFailure (forwarders.h) counts as forwarded or from a mailing list.
struct FailureReportCounts {
  std::uint64_t reports = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t mailing_list = 0;
  std::uint64_t arc_headers = 0;  // whose reported message carries an ARC set (unverified)
};

struct Advice {
  std::string domain;
  std::int64_t now = 0;
  int days = 30;
  std::int64_t since = 0;                 // now - days
  std::optional<PublishedPolicy> policy;  // none: no report of the domain
  std::uint64_t messages = 0;             // the period's, all senders
  std::uint64_t dmarc_pass = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t failing = 0;
  std::vector<SenderOutcome> senders;  // seen in the period, most messages first
  std::uint64_t approved_messages = 0;
  std::uint64_t approved_pass = 0;
  std::optional<double> readiness;  // approved_pass / approved_messages in %; none: no approved
  Simulation simulation;
  Recommendation recommendation;
  std::vector<FixItem> fixes;  // most messages first
  FailureReportCounts failure_reports;
};

// The record simulated when none is given: p one step past the published one (none or no report:
// quarantine; quarantine or reject: reject), the published sp and np kept, t=n.
ProposedPolicy DefaultProposal(const std::optional<PublishedPolicy>& published);

// The advice for opts.domain. Reads every aggregate report of the domain, and its failure reports
// of the period.
Result<Advice> Advise(ReportStore& store, const AdviceOptions& opts);

// Why a record's messages count as forwarded, given its sender's status and policy domain;
// nullopt: they passed DMARC, or they failed and are not forwarded.
std::optional<ForwardReason> ForwardedBecause(const model::Record& record,
                                              const std::string& status, const std::string& domain,
                                              const Forwarders& forwarders);

// The parts of ForwardedBecause that do not depend on the sender's status, for a DMARC-failing
// record: rules 1 and 2 (the receiver's word), and rules 4 and 5 (`forwarder`: forwarders.Match
// of the record, or nullptr).
std::optional<ForwardReason> ForwardedByReceiver(const model::Record& record);
std::optional<ForwardReason> ForwardedByListOrDkim(const model::Record& record,
                                                   const KnownForwarder* forwarder,
                                                   const std::string& domain);
// Which rule decides, given those two and the status: 1-2 (the receiver), 3 (the status), 4-5
// (the list or the signature), or none (the messages fail).
enum class ForwardRule { kReceiver, kStatus, kListOrDkim, kNone };
// Rule 3's reason (sender_status).
ForwardReason SenderStatusReason();
ForwardRule DecideForwarded(bool by_receiver, const std::string& status, bool by_list_or_dkim);

// Why one DMARC-failing record failed (FailCause without counts), given its policy domain.
FailCause CauseOfFailure(const model::Record& record, const std::string& domain);

}  // namespace dmarc::store
