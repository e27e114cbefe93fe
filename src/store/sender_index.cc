// The sender index (sender_index.h): one pass over the domain's aggregate reports, and the
// cache that keeps indexes until the store's AggregateVersion changes.
#include "store/sender_index.h"

#include <malloc.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>

#include "base/text.h"

namespace dmarc::store {

namespace {

// What is summed per sender while the reports are read.
struct Acc {
  Sender s;
  std::unordered_map<std::string, std::uint64_t> ips;  // address → messages
  std::map<std::string, std::uint64_t> forwarders;     // known forwarder's name → messages
  std::set<std::string> dkim_domains, dkim_selectors, spf_domains;
  std::map<std::int64_t, SenderIndex::Slot> slots;  // by begin
};

// The first kMaxSenderExamples of a set, in order.
std::vector<std::string> Examples(const std::set<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    if (out.size() == kMaxSenderExamples) break;
    out.push_back(v);
  }
  return out;
}

void AddRecord(Acc& a, const model::Record& r, const KnownForwarder* forwarder) {
  Sender& s = a.s;
  const std::uint64_t n = r.count;
  if (forwarder) {
    s.forwarder_messages += n;
    a.forwarders[forwarder->name] += n;
  }
  if (s.messages == 0 || r.interval_begin < s.first_seen) s.first_seen = r.interval_begin;
  s.last_seen = std::max(s.last_seen, r.interval_end);
  s.messages += n;
  if (r.alignment.spf) s.spf_aligned += n;
  if (r.alignment.dkim) s.dkim_aligned += n;
  if (r.alignment.dmarc) s.dmarc_pass += n;
  SenderIndex::Slot& slot = a.slots[r.interval_begin];
  slot.begin = r.interval_begin;
  slot.messages += n;
  if (r.alignment.dmarc) slot.dmarc_pass += n;
  a.ips[r.source.ip_address] += n;
  for (const auto& d : r.dkim) {
    if (!d.domain.empty()) a.dkim_domains.insert(d.domain);
    if (!d.selector.empty()) a.dkim_selectors.insert(d.selector);
  }
  for (const auto& f : r.spf) {
    if (!f.domain.empty()) a.spf_domains.insert(f.domain);
  }
}

SenderIndex::SenderEntry Finish(Acc&& a) {
  SenderIndex::SenderEntry e;
  Sender& s = e.totals;
  s = std::move(a.s);
  std::vector<std::pair<std::string, std::uint64_t>> ips(a.ips.begin(), a.ips.end());
  std::sort(ips.begin(), ips.end(), [](const auto& x, const auto& y) {
    return x.second != y.second ? x.second > y.second : x.first < y.first;
  });
  s.ip_count = ips.size();
  for (std::size_t i = 0; i < ips.size() && i < kMaxSenderExamples; ++i) {
    s.ips.push_back(ips[i].first);
  }
  s.dkim_domains = Examples(a.dkim_domains);
  s.dkim_selectors = Examples(a.dkim_selectors);
  s.spf_domains = Examples(a.spf_domains);
  s.suggested = SuggestedStatus(s.messages, s.dkim_aligned, s.forwarder_messages);
  std::uint64_t most = 0;
  for (const auto& [name, messages] : a.forwarders) {
    if (messages > most) {
      most = messages;
      s.known_forwarder = name;
    }
  }
  e.slots.reserve(a.slots.size());
  for (const auto& [begin, slot] : a.slots) e.slots.push_back(slot);
  return e;
}

// Gives each distinct value a number, in the order first seen.
template <typename T, typename Key>
class Interner {
 public:
  explicit Interner(std::vector<T>& values) : values_(values) {}
  std::uint32_t Of(const Key& key, T&& value) {
    auto [it, added] = ids_.try_emplace(key, static_cast<std::uint32_t>(values_.size()));
    if (added) values_.push_back(std::move(value));
    return it->second;
  }

 private:
  std::vector<T>& values_;
  std::map<Key, std::uint32_t> ids_;
};

}  // namespace

Result<std::shared_ptr<const SenderIndex>> SenderIndex::Build(ReportStore& store,
                                                              const std::string& domain,
                                                              const Forwarders& forwarders) {
  auto index = std::make_shared<SenderIndex>();
  index->domain = domain;
  index->forwarders = &forwarders;
  auto version = store.AggregateVersion();
  if (!version) return MakeError(version.error_kind(), version.error());
  index->version = *version;

  std::vector<Acc> acc;
  std::unordered_map<std::string, std::uint32_t> sender_ids;
  std::unordered_map<std::string, std::uint32_t> ip_ids;
  Interner<FailCause, std::array<std::string, 3>> causes(index->causes);
  Interner<ForwardReason, std::pair<std::string, std::string>> reasons(index->reasons);
  {
    ForwardReason status = SenderStatusReason();
    reasons.Of({status.reason, status.detail}, std::move(status));  // kSenderStatusReason
  }
  auto reason_id = [&](std::optional<ForwardReason>&& why) -> std::int32_t {
    if (!why) return -1;
    auto key = std::make_pair(why->reason, why->detail);
    return static_cast<std::int32_t>(reasons.Of(key, std::move(*why)));
  };
  auto read = ForEachSenderRecord(
      store, domain,
      [&](const model::AggregateReport&, const model::Record& r, SenderIdentity&& id) {
        ++index->records;
        const KnownForwarder* forwarder = forwarders.Match(r);
        auto [sender, added_sender] =
            sender_ids.try_emplace(id.key, static_cast<std::uint32_t>(acc.size()));
        if (added_sender) {
          acc.emplace_back();
          acc.back().s.key = std::move(id.key);
          acc.back().s.kind = std::move(id.kind);
          acc.back().s.type = std::move(id.type);
        }
        if (!r.alignment.dmarc) {
          Failing f;
          f.sender = sender->second;
          f.begin = r.interval_begin;
          f.count = r.count;
          auto [ip, added] = ip_ids.try_emplace(r.source.ip_address,
                                                static_cast<std::uint32_t>(index->ips.size()));
          if (added) index->ips.push_back(r.source.ip_address);
          f.ip = ip->second;
          FailCause c = CauseOfFailure(r, domain);
          std::array<std::string, 3> key{c.dkim, c.spf, c.remedy};
          f.cause = causes.Of(key, std::move(c));
          f.by_receiver = reason_id(ForwardedByReceiver(r));
          f.by_list_or_dkim = reason_id(ForwardedByListOrDkim(r, forwarder, domain));
          const std::string& from = r.identifiers.header_from;
          f.subdomain = !from.empty() && !EqualsIgnoreCase(from, domain);
          index->failing.push_back(f);
        }
        AddRecord(acc[sender->second], r, forwarder);
      },
      [&](const model::AggregateReport& report) {
        const auto& m = report.report_metadata;
        const auto& pp = report.policy_published;
        index->policies.push_back(
            {m.end, m.report_id,
             PublishedPolicy{pp.p, pp.sp, pp.pct, pp.np, pp.adkim, pp.aspf, m.begin, m.org_name}});
      });
  if (!read) return MakeError(read.error_kind(), read.error());
  index->senders.reserve(acc.size());
  for (auto& a : acc) index->senders.push_back(Finish(std::move(a)));
  return std::shared_ptr<const SenderIndex>(std::move(index));
}

Result<std::shared_ptr<const SenderIndex>> SenderIndexCache::Get(ReportStore& store,
                                                                 const std::string& domain,
                                                                 const Forwarders& forwarders) {
  auto version = store.AggregateVersion();
  if (!version) return MakeError(version.error_kind(), version.error());
  if (!*version) return SenderIndex::Build(store, domain, forwarders);
  std::lock_guard lock(mu_);
  for (auto it = kept_.begin(); it != kept_.end(); ++it) {
    if ((*it)->domain != domain || (*it)->forwarders != &forwarders) continue;
    // The counter only grows: an index built at this version or later (by another connection's
    // request or the refresh) is current for this request too.
    if (*(*it)->version >= *version) {
      kept_.splice(kept_.begin(), kept_, it);
      return kept_.front();
    }
    kept_.erase(it);
    break;
  }
  auto built = SenderIndex::Build(store, domain, forwarders);
  if (!built) return built;
  // The build's reports and maps are freed by now; give their pages back rather than leave them
  // in the arena of whichever connection's thread built it (glibc).
  malloc_trim(0);
  ++builds_;
  kept_.push_front(*built);
  if (kept_.size() > kMaxCachedSenderIndexes) kept_.pop_back();
  return built;
}

Result<std::size_t> SenderIndexCache::Refresh(ReportStore& store) {
  auto version = store.AggregateVersion();
  if (!version) return MakeError(version.error_kind(), version.error());
  if (!*version) return std::size_t{0};
  std::vector<std::pair<std::string, const Forwarders*>> behind;
  {
    std::lock_guard lock(mu_);
    for (const auto& index : kept_) {
      if (*index->version < *version) behind.emplace_back(index->domain, index->forwarders);
    }
  }
  for (const auto& [domain, forwarders] : behind) {
    if (auto r = Get(store, domain, *forwarders); !r) return MakeError(r.error_kind(), r.error());
  }
  return behind.size();
}

std::uint64_t SenderIndexCache::builds() const {
  std::lock_guard lock(mu_);
  return builds_;
}

Result<std::shared_ptr<const SenderIndex>> SenderIndexOf(ReportStore& store,
                                                         const std::string& domain,
                                                         const Forwarders* forwarders,
                                                         SenderIndexCache* cache) {
  const Forwarders& f = forwarders ? *forwarders : Forwarders::BuiltIn();
  return cache ? cache->Get(store, domain, f) : SenderIndex::Build(store, domain, f);
}

}  // namespace dmarc::store
