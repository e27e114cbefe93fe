// The sender index of a policy domain (docs/senders.md, "Speed"): the sender inventory and the
// enforcement advisor read every aggregate record of the domain, about half a second of CPU at a
// million records. A SenderIndex is that read done once, kept in a compact form from which both
// answers are computed in milliseconds for any `now`, period and set of sender statuses:
//   - per sender, the totals over all stored mail (a Sender without its trend and status) and
//     its messages per record interval begin (the trend, the advisor's period);
//   - per DMARC-failing record, in the order stored: its sender, address, cause and the
//     status-independent reasons it may count as forwarded;
//   - per report, the policy it states.
// SenderIndexCache keeps one per domain until the store's AggregateVersion changes: the web
// dashboard shares one between its connections. Approving a sender does not change the index
// (statuses are applied when an answer is computed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "store/advisor.h"
#include "store/forwarders.h"
#include "store/senders.h"
#include "store/store.h"

namespace dmarc::store {

struct SenderIndex {
  // Messages of a sender's records that began at one time.
  struct Slot {
    std::int64_t begin = 0;
    std::uint64_t messages = 0;
    std::uint64_t dmarc_pass = 0;
  };
  struct SenderEntry {
    Sender totals;            // all stored mail; trend and status unset
    std::vector<Slot> slots;  // by begin
  };
  // One DMARC-failing record.
  struct Failing {
    std::int64_t begin = 0;
    std::uint64_t count = 0;
    std::uint32_t sender = 0;           // index into senders
    std::uint32_t ip = 0;               // index into ips
    std::uint32_t cause = 0;            // index into causes
    std::int32_t by_receiver = -1;      // index into reasons: override or arc (rules 1, 2)
    std::int32_t by_list_or_dkim = -1;  // known_forwarder or dkim_survived (rules 4, 5)
    bool subdomain = false;             // From is not the policy domain itself
  };
  // The policy one report states.
  struct ReportPolicy {
    std::int64_t end = 0;
    std::string report_id;
    PublishedPolicy policy;  // report_begin, reported_by set
  };

  std::string domain;
  const Forwarders* forwarders = nullptr;  // built with (not owned)
  std::optional<std::int64_t> version;     // the store's AggregateVersion it was read at
  std::vector<SenderEntry> senders;        // in the order first seen
  std::vector<Failing> failing;            // in the order stored
  std::vector<std::string> ips;
  std::vector<FailCause> causes;       // distinct (dkim, spf, remedy), messages unset
  std::vector<ForwardReason> reasons;  // distinct (reason, detail), messages unset
  static constexpr std::int32_t kSenderStatusReason = 0;  // reasons[0]: SenderStatusReason()
  std::vector<ReportPolicy> policies;                     // in the order stored
  std::uint64_t records = 0;

  // Reads the domain's aggregate reports (the store's AggregateVersion first, so an answer is
  // never newer than the version it is kept under).
  static Result<std::shared_ptr<const SenderIndex>> Build(ReportStore& store,
                                                          const std::string& domain,
                                                          const Forwarders& forwarders);
};

// The inventory (senders.h) from an index, with these statuses.
std::vector<Sender> SenderInventory(const SenderIndex& index, const InventoryOptions& opts,
                                    const std::vector<SenderStatusRow>& statuses);

// The advice (advisor.h) from an index, with these statuses; failure_reports unset.
Advice Advise(const SenderIndex& index, const AdviceOptions& opts,
              const std::vector<SenderStatusRow>& statuses);

// The same with the store's current sender statuses; the advice with the period's failure
// reports (read from the store each time, as the statuses).
Result<std::vector<Sender>> SenderInventory(ReportStore& store, const SenderIndex& index,
                                            const InventoryOptions& opts);
Result<Advice> Advise(ReportStore& store, const SenderIndex& index, const AdviceOptions& opts);

// Indexes shared by the connections of one store (the web dashboard), one per (domain, list of
// forwarders), the least recently used dropped beyond kMaxCachedSenderIndexes. Get returns the
// kept index while the store's AggregateVersion is the one it was built at, else builds it anew
// (one build at a time; others asking wait for it). A store without a version is never cached.
// The web server also refreshes them in the background after new reports (Refresh), so that a
// request seldom waits for a build.
inline constexpr std::size_t kMaxCachedSenderIndexes = 8;

// The Forwarders an index is built with must outlive the cache (the server's ApiOptions hold
// both).
class SenderIndexCache {
 public:
  Result<std::shared_ptr<const SenderIndex>> Get(ReportStore& store, const std::string& domain,
                                                 const Forwarders& forwarders);
  // Builds anew the kept indexes that are behind the store's AggregateVersion, so that the next
  // request finds them current (the server calls it every few seconds); returns how many.
  Result<std::size_t> Refresh(ReportStore& store);
  // Indexes built (not found kept) so far: for tests and the benchmark.
  std::uint64_t builds() const;

 private:
  mutable std::mutex mu_;
  std::list<std::shared_ptr<const SenderIndex>> kept_;  // most recently used first
  std::uint64_t builds_ = 0;
};

// cache->Get, or without a cache a new index; `forwarders` nullptr: the bundled list.
Result<std::shared_ptr<const SenderIndex>> SenderIndexOf(ReportStore& store,
                                                         const std::string& domain,
                                                         const Forwarders* forwarders,
                                                         SenderIndexCache* cache);

}  // namespace dmarc::store
