#include "enrich/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <functional>
#include <mutex>

#include "base/text.h"

namespace dmarc::enrich {

namespace {

std::once_flag g_ares_init;
int g_ares_init_status = ARES_SUCCESS;

// A PTR name as stored: lower case, no trailing dot, printable ASCII host characters only and
// at most 253 bytes; anything else is treated as no usable name.
bool CleanName(const char* raw, std::string& out) {
  if (!raw) return false;
  std::string name = ToLowerAscii(raw);
  while (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  out = std::move(name);
  return true;
}

struct Query {
  struct Run* run = nullptr;
  std::size_t index = 0;
  unsigned char addr[16] = {};
  int addr_len = 0;
  int family = 0;
};

struct Run {
  std::vector<PtrResult>* results = nullptr;
  std::size_t in_flight = 0;
  // Outcomes so far: replies of any kind (a name, NXDOMAIN, SERVFAIL...), queries that got none.
  std::size_t replies = 0, timeouts = 0;
  bool stopping = false;  // no new query; pending ones cancelled
  // Starts queries up to the limit. Called again from each answer's callback, so the window
  // slides (a slow answer never holds back the others); `refilling` stops the recursion a
  // callback run at once by ares_query would otherwise start.
  std::function<void()> refill;
  bool refilling = false;
};

void Record(Query* q, int status, unsigned char* abuf, int alen) {
  PtrResult& r = (*q->run->results)[q->index];
  if (status == ARES_ECANCELLED || status == ARES_EDESTRUCTION) {
    r.status = DnsStatus::kFailed;
    r.skipped = true;
    return;
  }
  if (status == ARES_ETIMEOUT) {
    ++q->run->timeouts;
    r.timed_out = true;
  } else {
    ++q->run->replies;
  }
  if (status == ARES_SUCCESS) {
    hostent* host = nullptr;
    const int rc = ares_parse_ptr_reply(abuf, alen, q->addr, q->addr_len, q->family, &host);
    if (rc == ARES_SUCCESS && host && CleanName(host->h_name, r.name)) {
      r.status = DnsStatus::kName;
    } else {
      r.status = DnsStatus::kNoName;
      r.detail = rc == ARES_SUCCESS ? "unusable PTR name" : ares_strerror(rc);
    }
    if (host) ares_free_hostent(host);
    return;
  }
  r.detail = ares_strerror(status);
  // NXDOMAIN and an empty answer are answers; everything else (timeout, SERVFAIL, refused,
  // connection errors) says nothing about the address.
  r.status = (status == ARES_ENOTFOUND || status == ARES_ENODATA) ? DnsStatus::kNoName
                                                                  : DnsStatus::kFailed;
}

void OnAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* q = static_cast<Query*>(arg);
  --q->run->in_flight;
  Record(q, status, abuf, alen);
  if (status != ARES_EDESTRUCTION && status != ARES_ECANCELLED) q->run->refill();
}

// The reverse name: "4.3.2.1.in-addr.arpa" or the 32 nibbles of an IPv6 address + "ip6.arpa".
std::string ReverseName(const unsigned char* addr, int family) {
  std::string name;
  if (family == AF_INET) {
    for (int i = 3; i >= 0; --i) name += std::to_string(addr[i]) + ".";
    return name + "in-addr.arpa";
  }
  static const char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    name += kHex[addr[i] & 0xf];
    name += '.';
    name += kHex[addr[i] >> 4];
    name += '.';
  }
  return name + "ip6.arpa";
}

struct ChannelCloser {
  void operator()(ares_channel c) const { ares_destroy(c); }
};

using Channel = std::unique_ptr<ares_channeldata, ChannelCloser>;

// A c-ares channel with the options' timeout, tries and nameservers.
Result<Channel> OpenChannel(const ResolverOptions& options) {
  ares_options opts{};
  opts.timeout = std::max(1, options.timeout_ms);
  opts.tries = std::max(1, options.retries + 1);
  ares_channel raw = nullptr;
  // STAYOPEN: keep the UDP socket while the count of queries touches zero between answers; a
  // new socket (a new source port) per round costs time and loses packets behind some NATs.
  opts.flags = ARES_FLAG_STAYOPEN;
  int rc = ares_init_options(&raw, &opts, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
  if (rc != ARES_SUCCESS) return MakeError(fmt::format("c-ares: {}", ares_strerror(rc)));
  Channel channel(raw);
  if (!options.nameservers.empty()) {
    std::string csv;
    for (const auto& ns : options.nameservers) csv += (csv.empty() ? "" : ",") + ns;
    rc = ares_set_servers_ports_csv(raw, csv.c_str());
    if (rc != ARES_SUCCESS) {
      return MakeError(fmt::format("nameservers \"{}\": {}", csv, ares_strerror(rc)));
    }
  }
  return channel;
}

// Fills in the address of q from `ip`; false when it is neither IPv4 nor IPv6.
bool ParseAddress(const std::string& ip, Query& q) {
  q.family = AF_INET;
  q.addr_len = 4;
  if (inet_pton(AF_INET, ip.c_str(), q.addr) == 1) return true;
  q.family = AF_INET6;
  q.addr_len = 16;
  return inet_pton(AF_INET6, ip.c_str(), q.addr) == 1;
}

// Waits for the channel's sockets (at most until its next timeout, and 200 ms, so that a stop is
// seen soon) and processes what is ready, or the timeouts when nothing is.
void PollOnce(ares_channel raw) {
  ares_socket_t socks[ARES_GETSOCK_MAXNUM];
  const int bits = ares_getsock(raw, socks, ARES_GETSOCK_MAXNUM);
  pollfd fds[ARES_GETSOCK_MAXNUM];
  nfds_t n = 0;
  for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
    short events = 0;
    if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
    if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
    if (!events) continue;
    fds[n++] = {socks[i], events, 0};
  }
  timeval max_wait{0, 200'000}, tv{};
  const timeval* t = ares_timeout(raw, &max_wait, &tv);
  const int ms = static_cast<int>(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
  const int ready = poll(fds, n, ms);
  if (ready <= 0) {
    ares_process_fd(raw, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
    return;
  }
  for (nfds_t i = 0; i < n; ++i) {
    if (!fds[i].revents) continue;
    const bool readable = fds[i].revents & (POLLIN | POLLERR | POLLHUP);
    const bool writable = fds[i].revents & POLLOUT;
    ares_process_fd(raw, readable ? fds[i].fd : ARES_SOCKET_BAD,
                    writable ? fds[i].fd : ARES_SOCKET_BAD);
  }
}

bool GaveUp(const Run& run, const ResolverOptions& options) {
  return options.give_up_after_failures > 0 && run.replies == 0 &&
         run.timeouts >= options.give_up_after_failures;
}

// Why the lookup is to stop now; empty while it goes on.
std::string StopReason(const Run& run, const ResolverOptions& options) {
  if (options.cancel && options.cancel->load()) return "stopping";
  if (GaveUp(run, options)) {
    return fmt::format("no answer from DNS ({} queries timed out, none answered)", run.timeouts);
  }
  if (options.deadline && std::chrono::steady_clock::now() >= *options.deadline) {
    return "the time budget for DNS lookups is spent";
  }
  return {};
}

}  // namespace

Result<ResolveOutcome> ResolvePtr(const std::vector<std::string>& ips,
                                  const ResolverOptions& options) {
  std::call_once(g_ares_init, [] { g_ares_init_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (g_ares_init_status != ARES_SUCCESS) {
    return MakeError(fmt::format("c-ares: {}", ares_strerror(g_ares_init_status)));
  }
  ResolveOutcome outcome;
  std::vector<PtrResult>& results = outcome.results;
  results.resize(ips.size());
  if (ips.empty()) return outcome;
  auto channel = OpenChannel(options);
  if (!channel) return MakeError(channel.error());
  ares_channel raw = channel->get();

  Run run;
  run.results = &results;
  std::vector<Query> queries(ips.size());
  const std::size_t limit = std::max(1u, options.concurrency);
  std::size_t next = 0;
  run.refill = [&] {
    if (run.refilling || run.stopping) return;
    run.refilling = true;
    while (run.in_flight < limit && next < ips.size()) {
      const std::size_t i = next++;
      Query& q = queries[i];
      q.run = &run;
      q.index = i;
      if (!ParseAddress(ips[i], q)) {
        results[i].status = DnsStatus::kFailed;
        results[i].detail = "not an IP address";
        continue;
      }
      ++run.in_flight;
      // The callback may run at once (e.g. no usable server); it decrements in_flight.
      ares_query(raw, ReverseName(q.addr, q.family).c_str(), ns_c_in, ns_t_ptr, OnAnswer, &q);
    }
    run.refilling = false;
  };

  run.refill();
  while (run.in_flight > 0) {
    if (std::string why = StopReason(run, options); !why.empty()) {
      outcome.stopped = std::move(why);
      outcome.gave_up = GaveUp(run, options);
      run.stopping = true;
      ares_cancel(raw);  // the pending queries' callbacks run now, marked skipped
      break;
    }
    PollOnce(raw);
    run.refill();
  }
  if (!outcome.stopped.empty()) {
    for (std::size_t i = next; i < ips.size(); ++i) {
      results[i].status = DnsStatus::kFailed;
      results[i].skipped = true;
    }
    for (auto& r : results) {
      if (r.skipped) r.detail = "not asked: " + outcome.stopped;
    }
  }
  return outcome;
}

}  // namespace dmarc::enrich
