// Reverse DNS with c-ares: many PTR queries in flight over one channel, each bounded by a
// timeout and a number of tries, so a dead or absent network costs seconds, never a hang.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "enrich/enrich.h"

namespace dmarc::enrich {

struct PtrResult {
  DnsStatus status = DnsStatus::kFailed;
  std::string name;    // lower case, no trailing dot; with kName only
  std::string detail;  // c-ares' reason for kNoName / kFailed
  // Not answered because the lookup stopped first (ResolveOutcome::stopped says why): kFailed,
  // but it says nothing about the address or the server, and is not to be cached.
  bool skipped = false;
  bool timed_out = false;  // kFailed with no reply at all from the nameservers
};

struct ResolverOptions {
  std::vector<std::string> nameservers;  // NormalizeNameserver'd; empty: /etc/resolv.conf
  unsigned concurrency = 64;
  int timeout_ms = 1500;
  int retries = 1;
  // A silent nameserver: stop once this many queries have timed out before any got a reply (a
  // name, NXDOMAIN, or even SERVFAIL: a server that replies is not silent). 0: never.
  std::size_t give_up_after_failures = 0;
  // Stop at this time (a budget of time).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // Stop as soon as this is set (a signal); checked at least every 200 ms.
  const std::atomic<bool>* cancel = nullptr;
};

struct ResolveOutcome {
  std::vector<PtrResult> results;  // one per address, in the order given
  // Why the lookup stopped before every address was answered (results marked skipped); empty
  // when it did not.
  std::string stopped;
  bool gave_up = false;  // stopped because the nameservers gave no answer at all
};

// One result per address, in the order given. Addresses must be valid IPv4/IPv6 text.
// Errors only when c-ares cannot be set up at all (e.g. a bad nameserver list).
Result<ResolveOutcome> ResolvePtr(const std::vector<std::string>& ips,
                                  const ResolverOptions& options);

}  // namespace dmarc::enrich
