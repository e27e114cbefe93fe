// The Gmail API source: the messages of a Gmail (Google Workspace) mailbox under a label and/or
// matching a search, read over REST as a service account acting for the mailbox (domain-wide
// delegation: a JWT signed RS256, exchanged at the key's token_uri) or as an installed app with a
// refresh token. Open() lists the message ids page by page (nextPageToken); Next() fetches each
// message raw (base64url in JSON) and decodes it; File() labels each (archive, move: the label is
// created when missing, and the source label removed) or moves it to the trash. Answers 429, 503
// and 403 rateLimitExceeded are waited out as their Retry-After says, a few times. Fetches and
// relabellings go rest::kInFlight at a time, each on a kept-alive connection of its own.
//
// Endpoints (https://developers.google.com/gmail/api/reference/rest):
//   GET  /gmail/v1/users/{user}/labels                          every label: name → id
//   POST /gmail/v1/users/{user}/labels, {"name": "Archive/Aggregate", ...}   creates a label
//   GET  /gmail/v1/users/{user}/messages?labelIds=ID&q=Q&maxResults=500&pageToken=T
//   GET  /gmail/v1/users/{user}/messages/{id}?format=raw        {"raw": base64url, "sizeEstimate"}
//   POST /gmail/v1/users/{user}/messages/{id}/modify, {"addLabelIds": [...], "removeLabelIds":
//   [...]} POST /gmail/v1/users/{user}/messages/{id}/trash
#include <fmt/format.h>

#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "collect/oauth_token.h"
#include "collect/rest_client.h"
#include "collect/source.h"
#include "http/request.h"

namespace dmarc::collect {

namespace {

using nlohmann::json;
using rest::Escape;
using rest::Success;

constexpr int kPageSize = 500;  // maxResults: the most a listing page holds

// 403 with the reason rateLimitExceeded or userRateLimitExceeded: Gmail's "slow down"
// (https://developers.google.com/gmail/api/guides/handle-errors).
bool RateLimited(const http::Answer& a) {
  if (a.status != 403) return false;
  const json doc = json::parse(a.body, nullptr, false);
  const json* errors = doc.is_object() && doc.contains("error") && doc["error"].is_object() &&
                               doc["error"].contains("errors")
                           ? &doc["error"]["errors"]
                           : nullptr;
  if (!errors || !errors->is_array()) return false;
  for (const auto& e : *errors) {
    const std::string reason = rest::StringField(e, "reason");
    if (reason == "rateLimitExceeded" || reason == "userRateLimitExceeded") return true;
  }
  return false;
}

// What to look at after an error answer.
std::string Hint(const http::Answer& a) {
  if (a.status == 429 || RateLimited(a)) {
    return " (Gmail's per-user rate limit, still reached after the retries: the next run goes on "
           "where this one stopped)";
  }
  switch (a.status) {
    case 401:
      return " (the access token was refused: check the service account's key or the refresh "
             "token)";
    case 403:
      return " (enable the Gmail API in the key's Cloud project, and delegate the scope "
             "https://www.googleapis.com/auth/gmail.modify to the service account in the "
             "Workspace admin console)";
    case 404:
      return " (check gmail.user, the mailbox's address)";
    default:
      return "";
  }
}

std::int64_t UnixNow() { return static_cast<std::int64_t>(std::time(nullptr)); }

CachedToken::Grant GrantOf(const GmailOptions& c) {
  if (!c.service_account_file.empty()) {
    return [c] {
      return RequestServiceAccountToken(
          {c.service_account_file, c.user, c.scope, "gmail", c.timeout, c.ca_file}, UnixNow());
    };
  }
  return [c] {
    return RequestRefreshToken({c.token_url, c.client_id, c.client_secret, c.refresh_token, "gmail",
                                c.timeout, c.ca_file});
  };
}

class GmailSource : public rest::ListedSource {
 public:
  GmailSource(const GmailOptions& c, std::size_t max_mail_bytes)
      : ListedSource(rest::ClientOptions{Name(c), c.ca_file, c.timeout, c.max_retries,
                                         c.max_retry_wait, RateLimited, Hint},
                     CachedToken(GrantOf(c)), max_mail_bytes, c.batch_size),
        c_(c) {}

  std::string Describe() const override { return Name(c_); }

  Result<std::size_t> Open() override {
    StartListing();
    label_ids_.clear();
    source_label_id_.clear();
    if (!c_.label.empty()) {
      auto id = LabelId(c_.label, /*create=*/false);
      if (!id) return MakeError(id.error());
      source_label_id_ = std::move(id).value();
    }
    std::string page_token;
    do {
      auto page = client_.CallJson(client_.MakeRequest("GET", ListUrl(page_token), ""),
                                   "listing the messages", *sessions_[0]);
      if (!page) return MakeError(page.error());
      if (page->contains("messages") && (*page)["messages"].is_array()) {
        for (const auto& m : (*page)["messages"]) {
          Listed(rest::StringField(m, "id"));
        }
      }
      page_token = rest::StringField(*page, "nextPageToken");
    } while (!page_token.empty());
    return Listed();
  }

  Status File(const std::vector<Filing>& filings) override {
    // {id, label ("": to the trash)}
    const auto todo = Destinations(filings, c_.after, c_.archive_folder, c_.move_to);
    // The labels first, one at a time (each made once); then the mails, kInFlight at a time.
    for (const auto& [id, label] : todo) {
      if (label.empty()) continue;
      auto made = LabelId(label, /*create=*/true);
      if (!made) return MakeError(made.error());
    }
    return rest::ForEachInParallel(
        todo.size(), sessions_,
        [&](std::size_t i, http::Session& session) { return Dispose(todo[i], session); });
  }

 private:
  static std::string Name(const GmailOptions& c) {
    return fmt::format("gmail://{}/{}{}", c.user, c.label, c.query.empty() ? "" : "?q=" + c.query);
  }

  std::string UserUrl() const { return c_.api_url + "/gmail/v1/users/" + Escape(c_.user); }

  std::string ListUrl(const std::string& page_token) const {
    std::string url = fmt::format("{}/messages?maxResults={}", UserUrl(), kPageSize);
    if (!source_label_id_.empty()) url += "&labelIds=" + Escape(source_label_id_);
    if (!c_.query.empty()) url += "&q=" + Escape(c_.query);
    if (!page_token.empty()) url += "&pageToken=" + Escape(page_token);
    return url;
  }

  std::string Label(const std::string& id) const {
    return fmt::format("gmail://{}/{};id={}", c_.user, c_.label, id);
  }

  // One mail, as a MailItem; one over the size limit as one with an error; nullopt when it is gone
  // (404).
  Result<std::optional<MailItem>> Fetch(const std::string& id, http::Session& session) override {
    const std::string url = fmt::format("{}/messages/{}?format=raw", UserUrl(), Escape(id));
    http::Request r = client_.MakeRequest("GET", url, "");
    // base64 makes 4 bytes of 3; the JSON around it is small.
    r.max_answer_bytes = max_mail_bytes_ / 3 * 4 + 64 * 1024;
    r.stop_when_over = true;
    auto a = client_.Call(r, session);
    if (!a) return MakeError(a.error());
    if (a->status == 404) return std::optional<MailItem>();
    if (!Success(a->status)) return client_.Failed("fetching a message", "GET", url, *a);
    const json doc = a->truncated ? json() : json::parse(a->body, nullptr, false);
    const auto too_large = [&] { return std::optional<MailItem>(TooLarge(id, Label(id))); };
    if (a->truncated) return too_large();
    if (!doc.is_object() || !doc.contains("raw") || !doc["raw"].is_string()) {
      return MakeError(fmt::format("{}: fetching a message failed: GET {} answered {} with no raw",
                                   Describe(), url, a->status));
    }
    const auto estimate = doc.contains("sizeEstimate") && doc["sizeEstimate"].is_number_integer()
                              ? doc["sizeEstimate"].get<std::int64_t>()
                              : std::int64_t{0};
    if (estimate > 0 && static_cast<std::uint64_t>(estimate) > max_mail_bytes_) return too_large();
    auto mime = rest::FromBase64(doc["raw"].get<std::string>());
    if (!mime) {
      return MakeError(fmt::format("{}: fetching a message failed: GET {}: raw is not base64url",
                                   Describe(), url));
    }
    if (mime->size() > max_mail_bytes_) return too_large();
    return std::optional<MailItem>(MailItem{id, Label(id), std::move(*mime), std::nullopt});
  }

  // The id of the label `name`, created when missing and `create`. The labels are listed once
  // per Open().
  Result<std::string> LabelId(const std::string& name, bool create) {
    if (label_ids_.empty()) {
      auto listed = client_.CallJson(client_.MakeRequest("GET", UserUrl() + "/labels", ""),
                                     "listing the labels", *sessions_[0]);
      if (!listed) return MakeError(listed.error());
      if (listed->contains("labels") && (*listed)["labels"].is_array()) {
        for (const auto& l : (*listed)["labels"]) {
          label_ids_[rest::StringField(l, "name")] = rest::StringField(l, "id");
        }
      }
    }
    if (auto known = label_ids_.find(name); known != label_ids_.end()) return known->second;
    if (!create) {
      return MakeError(fmt::format(
          "{}: label \"{}\" not found in mailbox {} (check gmail.label: a label's name, such as "
          "\"INBOX\" or \"DMARC\")",
          Describe(), name, c_.user));
    }
    const json body = {
        {"name", name}, {"labelListVisibility", "labelShow"}, {"messageListVisibility", "show"}};
    auto made = client_.CallJson(client_.MakeRequest("POST", UserUrl() + "/labels", body.dump()),
                                 fmt::format("creating label \"{}\"", name), *sessions_[0]);
    if (!made) return MakeError(made.error());
    const std::string id = rest::StringField(*made, "id");
    if (id.empty()) {
      return MakeError(
          fmt::format("{}: creating label \"{}\": no id in the answer", Describe(), name));
    }
    label_ids_[name] = id;
    return id;
  }

  // Labels a mail (its label found by LabelId() already, the source label removed) or moves it
  // to the trash.
  Status Dispose(const std::pair<std::string, std::string>& d, http::Session& session) {
    const auto& [id, label] = d;
    const std::string base = fmt::format("{}/messages/{}", UserUrl(), Escape(id));
    std::string url = base + "/trash", body, what = "moving a message to the trash";
    if (!label.empty()) {
      url = base + "/modify";
      json remove = json::array();
      if (!source_label_id_.empty()) remove.push_back(source_label_id_);
      body = json{{"addLabelIds", {label_ids_.at(label)}}, {"removeLabelIds", remove}}.dump();
      what = fmt::format("labelling a message \"{}\"", label);
    }
    auto a = client_.Call(client_.MakeRequest("POST", url, body), session);
    if (!a) return MakeError(a.error());
    // 404: deleted by someone else since it was read.
    if (!Success(a->status) && a->status != 404) return client_.Failed(what, "POST", url, *a);
    return Ok();
  }

  GmailOptions c_;
  std::map<std::string, std::string> label_ids_;  // name → id, of every label
  std::string source_label_id_;                   // of c_.label ("": none)
};

}  // namespace

std::unique_ptr<Source> MakeGmailSource(const GmailOptions& config, std::size_t max_mail_bytes) {
  return std::make_unique<GmailSource>(config, max_mail_bytes);
}

}  // namespace dmarc::collect
