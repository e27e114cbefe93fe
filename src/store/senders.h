// The sender inventory of a policy domain (docs/senders.md): every source of its aggregate
// records grouped into a *sender* — a known service (the record's service name from enrichment,
// else a DKIM signing domain or SPF domain of a known service, e.g. d=mcsv.net → Mailchimp),
// else the PTR base domain, else the AS number — with volume, trend, alignment rates, addresses,
// DKIM selectors and signing domains, SPF domains, the status an administrator gave it and the
// status suggested from its results. Computed from ReportStore::ForEachAggregate, so every back
// end gives the same answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/forwarders.h"
#include "store/store.h"

namespace dmarc::store {

// The longest sender key and domain a status is stored for.
inline constexpr std::size_t kMaxSenderKeyBytes = 255;
// Addresses, selectors and domains listed per sender (counts cover all of them).
inline constexpr std::size_t kMaxSenderExamples = 5;
// The share of a sender's messages with aligned DKIM from which it is suggested "approved".
inline constexpr double kSuggestApprovedDkimRate = 0.9;

// "approved", "unapproved", "forwarder" or "unknown".
bool IsSenderStatus(std::string_view status);

struct Sender {
  std::string key;   // what identifies it: a service name, a base domain, "AS64500", "unknown"
  std::string kind;  // "service", "base_domain", "asn" or "unknown"
  std::string type;  // the service's type when known ("Marketing", ...)
  std::int64_t first_seen = 0;  // Unix seconds: the earliest record interval begin
  std::int64_t last_seen = 0;   // the latest record interval end
  std::uint64_t messages = 0;
  std::uint64_t messages_last_30d = 0;   // records whose interval began in the 30 days to `now`
  std::uint64_t messages_prior_30d = 0;  // ... in the 30 days before those
  std::uint64_t spf_aligned = 0;         // messages
  std::uint64_t dkim_aligned = 0;
  std::uint64_t dmarc_pass = 0;
  std::size_t ip_count = 0;
  std::vector<std::string> ips;  // up to kMaxSenderExamples, most messages first
  std::vector<std::string> dkim_domains;
  std::vector<std::string> dkim_selectors;
  std::vector<std::string> spf_domains;
  std::string status = "unknown";
  std::optional<SenderStatusRow> status_row;  // who set the status and when
  std::string suggested = "unknown";          // "approved", "forwarder" or "unknown"
  // The messages from sources on the list of known forwarders (Forwarders::Match), and the name
  // of the one that sent most of them ("" when none).
  std::uint64_t forwarder_messages = 0;
  std::string known_forwarder;
};

struct InventoryOptions {
  std::string domain;    // the policy domain (required)
  std::int64_t now = 0;  // the end of the trend's periods (Unix seconds)
  std::string search;    // as ListPage::search over key, kind, type and the listed values
  std::string status;    // "" all; else only senders with this status
  // The known forwarders (forwarder_messages, the suggestion); nullptr: the bundled list.
  const Forwarders* forwarders = nullptr;
};

// The senders of opts.domain, most messages first (then by key). Reads every aggregate report
// of the domain.
Result<std::vector<Sender>> SenderInventory(ReportStore& store, const InventoryOptions& opts);

// The sender a record belongs to: (key, kind, type).
struct SenderIdentity {
  std::string key;
  std::string kind;
  std::string type;
};
SenderIdentity IdentifySender(const model::Record& record);

// Visits every record of the domain's aggregate reports, in the order stored, with its report
// and the sender it belongs to (IdentifySender); `on_report`, when given, sees each report
// first (records or not). The inventory and the advisor read through it.
using SenderRecordVisitor =
    std::function<void(const model::AggregateReport&, const model::Record&, SenderIdentity&&)>;
Result<std::size_t> ForEachSenderRecord(
    ReportStore& store, const std::string& domain, const SenderRecordVisitor& visit,
    const std::function<void(const model::AggregateReport&)>& on_report = {});

// The suggested status of a sender with these messages, of which dkim_aligned had aligned DKIM
// and forwarder_messages came from known forwarders: "approved" from kSuggestApprovedDkimRate,
// else "forwarder" when more than half came from known forwarders, else "unknown".
std::string SuggestedStatus(std::uint64_t messages, std::uint64_t dkim_aligned,
                            std::uint64_t forwarder_messages);

// Checks a status change before a back end stores it (kInvalid: the reason).
Result<bool> CheckSenderStatusRow(const SenderStatusRow& row);

// The known service behind a DKIM signing or SPF domain (or a parent of it), or nullptr.
const char* ServiceOfAuthDomain(std::string_view domain);

}  // namespace dmarc::store
