// Reverse DNS with c-ares: many PTR queries in flight over one channel, each bounded by a
// timeout and a number of tries, so a dead or absent network costs seconds, never a hang.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "enrich/enrich.h"

namespace dmarc::enrich {

struct PtrResult {
  DnsStatus status = DnsStatus::kFailed;
  std::string name;    // lower case, no trailing dot; with kName only
  std::string detail;  // c-ares' reason for kNoName / kFailed
};

struct ResolverOptions {
  std::vector<std::string> nameservers;  // NormalizeNameserver'd; empty: /etc/resolv.conf
  unsigned concurrency = 64;
  int timeout_ms = 1500;
  int retries = 1;
};

// One result per address, in the order given. Addresses must be valid IPv4/IPv6 text.
// Errors only when c-ares cannot be set up at all (e.g. a bad nameserver list).
Result<std::vector<PtrResult>> ResolvePtr(const std::vector<std::string>& ips,
                                          const ResolverOptions& options);

}  // namespace dmarc::enrich
