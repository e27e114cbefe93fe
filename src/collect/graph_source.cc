// The Microsoft Graph source: a folder of an Exchange Online mailbox read over REST as an app
// (client credentials grant). Open() finds the folder by its path, one displayName at a time
// from the mailbox's top, and lists its messages with a delta query, page by page
// (@odata.nextLink); with --watch, the next Open() asks the @odata.deltaLink of the last round for
// the messages added since instead of listing the folder again. Next() fetches
// each message's MIME (/$value); File() moves each to its archive folder (created when missing)
// or deletes it. Answers 429 and 503 are waited out as their Retry-After says, a few times.
// Fetches, moves and deletions go kInFlight at a time, each on a kept-alive connection of its own,
// and with batch_requests > 1 that many of them in one JSON batch
// (https://learn.microsoft.com/graph/json-batching): a round trip costs what 20 did.
//
// Endpoints (https://learn.microsoft.com/graph/api/resources/mail-api-overview):
//   GET    /users/{upn}/mailFolders?$filter=displayName eq 'X'       a top-level folder
//   GET    /users/{upn}/mailFolders/{id}/childFolders?$filter=...    a folder below another
//   POST   the same two, {"displayName": "X"}                         creates the folder
//   GET    /users/{upn}/mailFolders/{id}/messages/delta?$select=...  the listing (Prefer:
//          odata.maxpagesize=N), then, by its @odata.deltaLink, what was added since
//   GET    /users/{upn}/messages/{id}/$value                         the MIME of one message
//   POST   /users/{upn}/messages/{id}/move, {"destinationId": "..."}
//   DELETE /users/{upn}/messages/{id}
//   POST   /$batch, {"requests": [{"id", "method", "url" (below /v1.0), "headers", "body"}]}
//          answers {"responses": [{"id", "status", "headers", "body"}]} in any order; a body that
//          is not JSON (a MIME /$value) comes base64-encoded; each one is throttled on its own
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "collect/device_code.h"
#include "collect/oauth_token.h"
#include "collect/rest_client.h"
#include "collect/source.h"
#include "http/request.h"

namespace dmarc::collect {

namespace {

using nlohmann::json;

constexpr int kPageSize = 250;  // messages per listing page ($top)
// The most a $batch answer may hold: kInFlight of them stay within what a batch of mails may hold.
// A larger one (a big mail among them) is given up, and its mails are fetched one by one, each
// within the limit of a mail.
constexpr std::size_t kMaxBatchAnswerBytes = kMaxBatchMailBytes / rest::kInFlight;
using rest::Escape;
using rest::Success;

// An OData string literal: 'it''s'.
std::string ODataString(const std::string& text) {
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// What to look at after an error status.
std::string Hint(long status, bool delegated) {
  if (delegated && (status == 401 || status == 403)) {
    return " (the signed-in user's token was refused: the user needs access to graph.mailbox, "
           "and the app the delegated Mail.ReadWrite permission; dmarc-report login signs in "
           "again)";
  }
  switch (status) {
    case 401:
      return " (the access token was refused: check graph.tenant_id, graph.client_id and "
             "graph.client_secret)";
    case 403:
      return " (the app needs the Mail.ReadWrite application permission with admin consent, "
             "and an ApplicationAccessPolicy must not exclude this mailbox)";
    case 404:
      return " (check graph.mailbox, the mailbox's user principal name)";
    default:
      return "";
  }
}

class GraphSource : public rest::ListedSource {
 public:
  GraphSource(const GraphOptions& c, std::size_t max_mail_bytes)
      : ListedSource(
            rest::ClientOptions{Name(c), c.ca_file, c.timeout, c.max_retries, c.max_retry_wait,
                                nullptr,
                                [delegated = c.auth == "device_code"](const http::Answer& a) {
                                  return Hint(a.status, delegated);
                                }},
            Token(c), max_mail_bytes, c.batch_size),
        c_(c) {
    group_ = static_cast<std::size_t>(std::max(c.batch_requests, 1));
  }

  std::string Describe() const override { return Name(c_); }

  // The folder's messages with a delta query: the first time all of them, page by page; then,
  // with the deltaLink of the round before, only the ones added since (--watch).
  Result<std::size_t> Open() override {
    if (folder_id_.empty()) {
      auto id = FolderId(c_.folder, /*create=*/false);
      if (!id) return MakeError(id.error());
      folder_id_ = std::move(id).value();
      delta_link_.clear();
    }
    StartListing();
    std::string url = delta_link_.empty() ? fmt::format(
                                                "{}/mailFolders/{}/messages/delta?$select=id,"
                                                "internetMessageId,receivedDateTime",
                                                UserUrl(), Escape(folder_id_))
                                          : delta_link_;
    delta_link_.clear();
    while (!url.empty()) {
      http::Request r = MakeRequest("GET", url, "");
      r.headers.push_back(fmt::format("Prefer: odata.maxpagesize={}", kPageSize));
      auto page = CallJson(r, "listing the messages");
      if (!page) return MakeError(page.error());
      for (const auto& m : (*page)["value"]) {
        const std::string id = m.value("id", "");
        // "@removed": gone from the folder (filed by this program, or by someone else).
        if (!m.contains("@removed")) Listed(id);
      }
      auto next = Link(*page, "@odata.nextLink");
      auto delta = Link(*page, "@odata.deltaLink");
      if (!next || !delta) return MakeError(!next ? next.error() : delta.error());
      url = std::move(next).value();
      if (url.empty()) delta_link_ = std::move(delta).value();
    }
    return Listed();
  }

  Status File(const std::vector<Filing>& filings) override {
    // {id, folder ("": delete)}
    const auto moves = Destinations(filings, c_.after, c_.archive_folder, c_.move_to);
    // The folders first, one at a time (each made once); then the moves, kInFlight at a time.
    for (const auto& [id, folder] : moves) {
      if (folder.empty()) continue;
      auto made = FolderId(folder, /*create=*/true);
      if (!made) return MakeError(made.error());
    }
    if (group_ > 1) return FileInBatches(moves);
    return rest::ForEachInParallel(
        moves.size(), sessions_, [&](std::size_t i, http::Session& session) {
          const auto& [id, folder] = moves[i];
          return folder.empty() ? Remove(id, session) : MoveTo(id, folder, session);
        });
  }

  // The next Open() lists everything again: mails listed but not filed before a failure or a stop
  // are not among the changes a deltaLink gives.
  void Close() override {
    delta_link_.clear();
    folder_id_.clear();
    folder_ids_.clear();
  }

 private:
  static std::string Name(const GraphOptions& c) {
    return fmt::format("graph://{}/{}", c.mailbox, c.folder);
  }

  // The app's own token (client credentials), or, signed in with `dmarc-report login`, the
  // user's from the kept refresh token.
  static CachedToken Token(const GraphOptions& c) {
    if (c.auth != "device_code") return CachedToken(Credentials(c));
    return CachedToken(
        DelegatedGrant({c.login_url + "/" + Escape(c.tenant_id) + "/oauth2/v2.0/token", c.client_id,
                        "", "", c.scope, "graph", c.timeout, c.ca_file},
                       c.keeper));
  }

  static ClientCredentials Credentials(const GraphOptions& c) {
    return {c.login_url + "/" + Escape(c.tenant_id) + "/oauth2/v2.0/token",
            c.client_id,
            c.client_secret,
            c.scope,
            c.timeout,
            "graph.login_url",
            c.certificate_file.empty()
                ? "graph.tenant_id, graph.client_id and graph.client_secret"
                : "graph.tenant_id, graph.client_id and that the app registration holds "
                  "graph.certificate_file",
            c.ca_file,
            c.certificate_file,
            c.certificate_key_file.empty() ? c.certificate_file : c.certificate_key_file};
  }

  std::string UserUrl() const { return c_.graph_url + "/users/" + Escape(c_.mailbox); }

  std::string Label(const std::string& id) const {
    return fmt::format("graph://{}/{};id={}", c_.mailbox, c_.folder, id);
  }

  Error Failed(const std::string& what, const std::string& method, const std::string& url,
               const http::Answer& a) const {
    return client_.Failed(what, method, url, a);
  }

  Result<http::Answer> Call(const http::Request& request, http::Session& session) {
    return client_.Call(request, session);
  }

  http::Request MakeRequest(const std::string& method, const std::string& url,
                            const std::string& body) const {
    return client_.MakeRequest(method, url, body);
  }

  // A request whose answer must be a success holding JSON (an empty body: null).
  Result<json> CallJson(const std::string& method, const std::string& url, const std::string& body,
                        const std::string& what) {
    return CallJson(MakeRequest(method, url, body), what);
  }

  Result<json> CallJson(const http::Request& request, const std::string& what) {
    return client_.CallJson(request, what, *sessions_[0]);
  }

  // The page's link `key` (@odata.nextLink, @odata.deltaLink; "" when it has none); only a URL
  // below graph_url is followed, so that the token goes nowhere else.
  Result<std::string> Link(const json& page, const char* key) const {
    if (!page.is_object() || !page.contains(key) || !page[key].is_string()) return std::string();
    const std::string link = page[key].get<std::string>();
    if (!link.starts_with(c_.graph_url + "/")) {
      return MakeError(
          fmt::format("{}: listing the messages: {} {} is not below graph.graph_url {}", Describe(),
                      key, link, c_.graph_url));
    }
    return link;
  }

  // The MIME of one message; nullopt when it is gone (404).
  Result<std::optional<MailItem>> Fetch(const std::string& id, http::Session& session) override {
    const std::string url = fmt::format("{}/messages/{}/$value", UserUrl(), Escape(id));
    http::Request r = MakeRequest("GET", url, "");
    r.headers.clear();
    r.max_answer_bytes = max_mail_bytes_;
    r.stop_when_over = true;
    auto a = Call(r, session);
    if (!a) return MakeError(a.error());
    if (a->status == 404) return std::optional<MailItem>();
    if (a->truncated && Success(a->status)) {
      return std::optional<MailItem>(TooLarge(id, Label(id)));
    }
    if (!Success(a->status)) return Failed("fetching a message", "GET", url, *a);
    return std::optional<MailItem>(MailItem{id, Label(id), std::move(a->body), std::nullopt});
  }

  // The id of the folder at `path` ("Archive/Aggregate", from the mailbox's top), each level
  // created when missing and `create`.
  Result<std::string> FolderId(const std::string& path, bool create) {
    if (auto known = folder_ids_.find(path); known != folder_ids_.end()) return known->second;
    std::string id, walked;
    std::size_t start = 0;
    while (start <= path.size()) {
      const std::size_t slash = std::min(path.find('/', start), path.size());
      const std::string name = path.substr(start, slash - start);
      start = slash + 1;
      if (name.empty()) continue;
      walked += (walked.empty() ? "" : "/") + name;
      auto child = ChildId(id, name, walked, create);
      if (!child) return MakeError(child.error());
      id = std::move(child).value();
    }
    if (id.empty()) return MakeError(fmt::format("{}: no folder in \"{}\"", Describe(), path));
    folder_ids_[path] = id;
    return id;
  }

  // The folder `name` below `parent` ("": the top), created when missing and `create`.
  Result<std::string> ChildId(const std::string& parent, const std::string& name,
                              const std::string& walked, bool create) {
    const std::string base =
        parent.empty() ? UserUrl() + "/mailFolders"
                       : fmt::format("{}/mailFolders/{}/childFolders", UserUrl(), Escape(parent));
    const std::string what = fmt::format("looking up folder \"{}\"", walked);
    auto found = CallJson("GET", base + "?$filter=" + Escape("displayName eq " + ODataString(name)),
                          "", what);
    if (!found) return MakeError(found.error());
    for (const auto& f : (*found)["value"]) {
      if (f.value("displayName", "") == name) return f.value("id", "");
    }
    if (!create) {
      return MakeError(
          fmt::format("{}: folder \"{}\" not found in mailbox {} (check "
                      "graph.folder; a path from the mailbox's top, such as "
                      "\"Inbox/DMARC\")",
                      Describe(), walked, c_.mailbox));
    }
    auto made = CallJson("POST", base, json{{"displayName", name}}.dump(),
                         fmt::format("creating folder \"{}\"", walked));
    if (!made) return MakeError(made.error());
    return made->value("id", "");
  }

  // Moves a mail to a folder FolderId() already found.
  Status MoveTo(const std::string& id, const std::string& folder, http::Session& session) {
    const std::string target = folder_ids_.at(folder);
    const std::string url = fmt::format("{}/messages/{}/move", UserUrl(), Escape(id));
    auto a = Call(MakeRequest("POST", url, json{{"destinationId", target}}.dump()), session);
    if (!a) return MakeError(a.error());
    // 404: moved or deleted by someone else since it was read.
    if (!Success(a->status) && a->status != 404) {
      return Failed(fmt::format("moving a message to \"{}\"", folder), "POST", url, *a);
    }
    return Ok();
  }

  Status Remove(const std::string& id, http::Session& session) {
    const std::string url = fmt::format("{}/messages/{}", UserUrl(), Escape(id));
    auto a = Call(MakeRequest("DELETE", url, ""), session);
    if (!a) return MakeError(a.error());
    if (!Success(a->status) && a->status != 404) {
      return Failed("deleting a message", "DELETE", url, *a);
    }
    return Ok();
  }

  // One request of a $batch: its URL relative to graph_url ("/users/..."), a JSON body or "".
  struct Part {
    std::string method, url, body;
  };

  // The $batch's request of these parts: ids are their indexes + 1.
  http::Request BatchRequest(const std::vector<Part>& parts,
                             const std::vector<std::size_t>& which) const {
    json requests = json::array();
    for (const std::size_t i : which) {
      json r = {{"id", std::to_string(i + 1)}, {"method", parts[i].method}, {"url", parts[i].url}};
      if (!parts[i].body.empty()) {
        r["body"] = json::parse(parts[i].body);
        r["headers"] = {{"Content-Type", "application/json"}};
      }
      requests.push_back(std::move(r));
    }
    http::Request r = MakeRequest("POST", c_.graph_url + "/$batch",
                                  json{{"requests", std::move(requests)}}.dump());
    r.max_answer_bytes = kMaxBatchAnswerBytes;
    r.stop_when_over = true;
    // No "Expect: 100-continue" (libcurl's for a body over 1 KiB): a round trip of its own.
    r.headers.emplace_back("Expect:");
    return r;
  }

  // One response of a $batch answer as an answer of its own; the body as it came (a string: as
  // it is, base64 for a MIME; JSON: its text).
  static http::Answer PartAnswer(const json& response) {
    http::Answer a;
    a.status = response.contains("status") && response["status"].is_number_integer()
                   ? response["status"].get<long>()
                   : 0;
    if (response.contains("headers") && response["headers"].is_object()) {
      for (const auto& [name, value] : response["headers"].items()) {
        if (value.is_string()) a.headers.emplace_back(name, value.get<std::string>());
      }
    }
    if (response.contains("body") && response["body"].is_string()) {
      a.body = response["body"].get<std::string>();
    } else if (response.contains("body") && !response["body"].is_null()) {
      a.body = response["body"].dump();
    }
    return a;
  }

  // Each part's answer, in order, sent in one $batch; parts throttled inside it (429, 503) sent
  // again, alone, after the longest Retry-After among them, max_retries times at most. nullopt
  // when the batch's answer is over kMaxBatchAnswerBytes.
  using PartAnswers = std::optional<std::vector<http::Answer>>;
  Result<PartAnswers> Batch(const std::vector<Part>& parts, http::Session& session) {
    std::vector<std::optional<http::Answer>> got(parts.size());
    std::vector<std::size_t> pending(parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i) pending[i] = i;
    for (int attempt = 0; !pending.empty(); ++attempt) {
      const http::Request r = BatchRequest(parts, pending);
      auto a = Call(r, session);
      if (!a) return MakeError(a.error());
      const std::string what = fmt::format("sending a batch of {} requests", pending.size());
      if (!Success(a->status)) return Failed(what, "POST", r.url, *a);
      if (a->truncated) return PartAnswers();
      const json doc = json::parse(a->body, nullptr, false);
      if (!doc.is_object() || !doc.contains("responses") || !doc["responses"].is_array()) {
        return MakeError(fmt::format("{}: {} failed: POST {} answered {} with no responses",
                                     Describe(), what, r.url, a->status));
      }
      auto throttled = TakeResponses(doc["responses"], pending, attempt, got);
      if (!throttled)
        return MakeError(
            fmt::format("{}: {} failed: POST {}: {}", Describe(), what, r.url, throttled.error()));
      std::this_thread::sleep_for(std::chrono::seconds(throttled->first));
      pending = std::move(throttled->second);
    }
    std::vector<http::Answer> out;
    out.reserve(got.size());
    for (auto& answer : got) out.push_back(std::move(*answer));
    return PartAnswers(std::move(out));
  }

  // The responses to the `pending` parts filed in `got`: {seconds to wait, the throttled parts to
  // send again}; an error for a response to no pending part, or a part without a response.
  Result<std::pair<std::int64_t, std::vector<std::size_t>>> TakeResponses(
      const json& responses, const std::vector<std::size_t>& pending, int attempt,
      std::vector<std::optional<http::Answer>>& got) const {
    std::set<std::size_t> waiting(pending.begin(), pending.end());
    std::vector<std::size_t> again;
    std::int64_t wait = 0;
    for (const auto& response : responses) {
      const std::string id = rest::StringField(response, "id");
      std::size_t i = 0;
      const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), i);
      if (ec != std::errc() || end != id.data() + id.size() || i == 0 || !waiting.erase(i - 1)) {
        return MakeError(
            fmt::format("a response with id \"{}\", not one of a request sent", id.substr(0, 40)));
      }
      http::Answer a = PartAnswer(response);
      if ((a.status == 429 || a.status == 503) && attempt < c_.max_retries) {
        wait = std::max(wait, rest::RetryDelay(a, attempt, c_.max_retry_wait));
        again.push_back(i - 1);
      } else {
        got[i - 1] = std::move(a);
      }
    }
    if (!waiting.empty()) {
      return MakeError(fmt::format("no response to request {}", *waiting.begin() + 1));
    }
    std::sort(again.begin(), again.end());
    return std::make_pair(wait, std::move(again));
  }

  std::string Relative(const std::string& url) const { return url.substr(c_.graph_url.size()); }

  // The MIME of several messages in one $batch (as FetchSome); when its answer is too large, one
  // request per message instead.
  Result<std::vector<std::optional<MailItem>>> FetchSome(const std::vector<std::string>& ids,
                                                         http::Session& session) override {
    if (ids.size() == 1) return ListedSource::FetchSome(ids, session);
    std::vector<Part> parts;
    parts.reserve(ids.size());
    for (const auto& id : ids) parts.push_back({"GET", Relative(ValueUrl(id)), ""});
    auto answers = Batch(parts, session);
    if (!answers) return MakeError(answers.error());
    if (!*answers) return OneByOne(ids, session);
    std::vector<std::optional<MailItem>> out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const http::Answer& a = (**answers)[i];
      const std::string url = ValueUrl(ids[i]);
      if (a.status == 404) {
        out.emplace_back();
        continue;
      }
      if (!Success(a.status)) return Failed("fetching a message", "GET", url, a);
      auto mime = rest::FromBase64(a.body);
      if (!mime) {
        return MakeError(fmt::format(
            "{}: fetching a message failed: GET {} (in a $batch): the body is not base64",
            Describe(), url));
      }
      if (mime->size() > max_mail_bytes_) {
        out.emplace_back(TooLarge(ids[i], Label(ids[i])));
      } else {
        out.emplace_back(MailItem{ids[i], Label(ids[i]), std::move(*mime), std::nullopt});
      }
    }
    return out;
  }

  // The mails one request each, until they hold kMaxBatchAnswerBytes: the others are left for
  // later (as FetchSome), so that a batch of big mails is not all held at once.
  Result<std::vector<std::optional<MailItem>>> OneByOne(const std::vector<std::string>& ids,
                                                        http::Session& session) {
    std::vector<std::optional<MailItem>> out;
    std::size_t held = 0;
    for (std::size_t i = 0; i < ids.size() && held < kMaxBatchAnswerBytes; ++i) {
      auto mail = Fetch(ids[i], session);
      if (!mail) return MakeError(mail.error());
      if (*mail) held += (*mail)->bytes.size();
      out.push_back(std::move(mail).value());
    }
    return out;
  }

  // File()'s moves and deletions, group_ to a $batch, kInFlight batches at a time.
  Status FileInBatches(const std::vector<std::pair<std::string, std::string>>& moves) {
    const std::size_t batches = (moves.size() + group_ - 1) / group_;
    return rest::ForEachInParallel(batches, sessions_, [&](std::size_t b, http::Session& session) {
      std::vector<Part> parts;
      std::vector<std::string> what;
      for (std::size_t i = b * group_; i < std::min(moves.size(), (b + 1) * group_); ++i) {
        const auto& [id, folder] = moves[i];
        if (folder.empty()) {
          parts.push_back({"DELETE", Relative(MessageUrl(id)), ""});
          what.emplace_back("deleting a message");
        } else {
          parts.push_back({"POST", Relative(MessageUrl(id) + "/move"),
                           json{{"destinationId", folder_ids_.at(folder)}}.dump()});
          what.push_back(fmt::format("moving a message to \"{}\"", folder));
        }
      }
      auto answers = Batch(parts, session);
      if (!answers) return Status(MakeError(answers.error()));
      if (!*answers) {
        return Status(
            MakeError(fmt::format("{}: filing {} messages failed: the $batch answer is "
                                  "over {} bytes",
                                  Describe(), parts.size(), kMaxBatchAnswerBytes)));
      }
      for (std::size_t i = 0; i < parts.size(); ++i) {
        const http::Answer& a = (**answers)[i];
        // 404: moved or deleted by someone else since it was read.
        if (!Success(a.status) && a.status != 404) {
          return Status(Failed(what[i], parts[i].method, c_.graph_url + parts[i].url, a));
        }
      }
      return Ok();
    });
  }

  std::string MessageUrl(const std::string& id) const {
    return fmt::format("{}/messages/{}", UserUrl(), Escape(id));
  }
  std::string ValueUrl(const std::string& id) const { return MessageUrl(id) + "/$value"; }

  GraphOptions c_;
  std::string folder_id_;   // of c_.folder
  std::string delta_link_;  // where the next Open() asks for what changed ("": list everything)
  std::map<std::string, std::string> folder_ids_;  // path → id, of the archive folders
};

}  // namespace

std::unique_ptr<Source> MakeGraphSource(const GraphOptions& config, std::size_t max_mail_bytes) {
  return std::make_unique<GraphSource>(config, max_mail_bytes);
}

}  // namespace dmarc::collect
