// What the REST mail sources ([graph], [gmail]) share: requests with an OAuth2 bearer token on
// kept-alive sessions, kInFlight of them at once, throttled answers (429, 503, and what else the
// API says is throttling) waited out as their Retry-After says, a refused token replaced once,
// and errors that name the source, the request and what the API answered.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "collect/oauth_token.h"
#include "collect/source.h"
#include "http/request.h"

namespace dmarc::collect::rest {

// Requests in flight at once: Exchange Online allows an app 4 concurrent requests per mailbox;
// Gmail's per-user quota is met sooner by more.
constexpr std::size_t kInFlight = 4;
constexpr std::size_t kMaxJsonBytes = 8u * 1024 * 1024;  // a listing page, a folder, an error

using Sessions = std::vector<std::unique_ptr<http::Session>>;

// kInFlight sessions.
Sessions MakeSessions();

// job(i, session) for every i below n, at most sessions.size() at once, each thread with a
// session of its own.
template <class Job>
void RunInParallel(std::size_t n, Sessions& sessions, const Job& job) {
  std::atomic<std::size_t> next{0};
  const auto work = [&](http::Session& session) {
    for (std::size_t i = next++; i < n; i = next++) job(i, session);
  };
  const std::size_t threads = std::min(n, sessions.size());
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work, std::ref(*sessions[t]));
  if (threads > 0) work(*sessions[0]);
  for (auto& thread : pool) thread.join();
}

// job(i, session) for every i below n as RunInParallel; the first error of them, else Ok.
Status ForEachInParallel(std::size_t n, Sessions& sessions,
                         const std::function<Status(std::size_t, http::Session&)>& job);

// Some mails fetched with one session, one per id and in their order: nullopt for one gone
// meanwhile (moved or deleted by someone else). Fewer than the ids (one at least) when their bytes
// would be too many at once: the others are for later.
using FetchSome = std::function<Result<std::vector<std::optional<MailItem>>>(
    const std::vector<std::string>& ids, http::Session& session)>;

// The next batch of `ids` from `next` on (which moves past what was taken): `group` ids to a
// fetch, kInFlight fetches at a time, at most batch_size mails, and no further wave once
// kMaxBatchMailBytes are held. Ids a fetch left for later go to the end of `ids`.
Result<std::vector<MailItem>> NextBatch(std::vector<std::string>& ids, std::size_t& next,
                                        int batch_size, std::size_t group, Sessions& sessions,
                                        const FetchSome& fetch);

// Base64 (RFC 4648 §4, or the URL-safe alphabet of §5; padding optional) decoded; nullopt when
// it is not.
std::optional<std::string> FromBase64(const std::string& text);

// Where a committed mail goes: nullopt with after = keep; "" to delete it; else the folder (or
// label) path: archive_folder/CLASS, or move_to's expansion at `now`. A mail that holds no report
// is never deleted, but archived: a person should look at it.
std::optional<std::string> Destination(After after, const std::string& archive_folder,
                                       const std::string& move_to, MailClass mail_class,
                                       std::int64_t now);

// `text` escaped for a URL path segment or a query value; '@' stays (a mailbox reads as it is).
std::string Escape(const std::string& text);

bool Success(long status);

// obj[key] when obj is an object and that is a string, else "" (an answer's odd shape throws
// nothing).
std::string StringField(const nlohmann::json& obj, const char* key);

// "CODE: message" of an API's {"error": {"code", "message"}} (Graph's code is a string; Google's
// a number, with a "status" string), else the start of the body.
std::string ApiSaid(const http::Answer& a);

// Seconds to wait before retrying a throttled request: Retry-After (seconds or an HTTP-date),
// else 2^attempt; at most max_wait.
std::int64_t RetryDelay(const http::Answer& a, int attempt, std::int64_t max_wait);

// How one source talks to its API.
struct ClientOptions {
  std::string name;                   // Describe() of the source: errors start with it
  std::string ca_file;                // empty: the system's trusted certificates
  int timeout = 60;                   // seconds for any one request
  int max_retries = 5;                // throttled answers waited out before the request fails
  std::int64_t max_retry_wait = 120;  // seconds: a longer Retry-After is cut to this
  // Whether an answer says "slow down" beside 429 and 503 (Gmail: 403 rateLimitExceeded).
  std::function<bool(const http::Answer&)> also_throttled;
  // What to look at after an error answer (" (check ...)", or "").
  std::function<std::string(const http::Answer&)> hint;
};

class Client {
 public:
  Client(ClientOptions o, CachedToken token) : o_(std::move(o)), token_(std::move(token)) {}

  // A request for JSON: Accept (and Content-Type with a body), the timeout, the CA file, the
  // bound of kMaxJsonBytes.
  http::Request MakeRequest(const std::string& method, const std::string& url,
                            const std::string& body) const;

  // One request with the access token; throttled answers retried after their Retry-After, a
  // refused token (401) once with a new one. Thread-safe with a session per thread.
  Result<http::Answer> Call(http::Request request, http::Session& session);

  // A request whose answer must be a success holding JSON (an empty body: null).
  Result<nlohmann::json> CallJson(const http::Request& request, const std::string& what,
                                  http::Session& session);

  // "NAME: WHAT failed: METHOD URL answered STATUS: SAID (HINT)".
  Error Failed(const std::string& what, const std::string& method, const std::string& url,
               const http::Answer& a) const;

  const std::string& name() const { return o_.name; }

 private:
  bool Throttled(const http::Answer& a) const;
  Result<std::string> Token(bool refused);

  ClientOptions o_;
  std::mutex token_mu_;  // token_ is shared by the requests in flight
  CachedToken token_;
};

// What the REST sources share: the client, the sessions, the mail ids Open() listed, Next()'s
// batches of them, and the ids already read with after = keep.
class ListedSource : public Source {
 public:
  Result<std::vector<MailItem>> Next() override;

 protected:
  ListedSource(ClientOptions o, CachedToken token, std::size_t max_mail_bytes, int batch_size)
      : client_(std::move(o), std::move(token)),
        max_mail_bytes_(max_mail_bytes),
        batch_size_(batch_size) {}

  // One mail: nullopt when it is gone meanwhile.
  virtual Result<std::optional<MailItem>> Fetch(const std::string& id, http::Session& session) = 0;
  // Several (group_ of them at most), as FetchSome: here one Fetch() after the other; a source
  // whose API takes several requests in one does better.
  virtual Result<std::vector<std::optional<MailItem>>> FetchSome(
      const std::vector<std::string>& ids, http::Session& session);

  // Open()'s start: no id listed yet.
  void StartListing() {
    ids_.clear();
    next_ = 0;
  }
  // A listed id, unless it was kept before.
  void Listed(const std::string& id) {
    if (!id.empty() && !kept_.count(id)) ids_.push_back(id);
  }

  // How many Open() listed.
  std::size_t Listed() const { return ids_.size(); }

  // {id, Destination()} of each filed mail; the kept ones are remembered instead.
  std::vector<std::pair<std::string, std::string>> Destinations(const std::vector<Filing>& filings,
                                                                After after,
                                                                const std::string& archive_folder,
                                                                const std::string& move_to);

  // "… larger than the limit of N bytes", for a mail not read on.
  MailItem TooLarge(const std::string& id, std::string label) const;

  Client client_;
  Sessions sessions_ = MakeSessions();  // [0] also for the listing and the folders or labels
  std::size_t max_mail_bytes_;
  std::size_t group_ = 1;  // ids to a FetchSome()

 private:
  int batch_size_;
  std::vector<std::string> ids_;  // listed by Open()
  std::size_t next_ = 0;
  std::set<std::string> kept_;  // with after = keep: ids already read by this process
};

}  // namespace dmarc::collect::rest
