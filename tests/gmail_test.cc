// `fetch` from a [gmail] source (issue #19) against a local HTTPS server that plays the Gmail API
// (gmail.googleapis.com) and Google's OAuth 2.0 token endpoint (oauth2.googleapis.com/token). No
// Google service runs here: the server answers as Google's documentation says
// (https://developers.google.com/gmail/api/reference/rest/v1/users.messages list, get
// format=raw, modify, trash; users.labels list and create; .../gmail/api/guides/handle-errors;
// https://developers.google.com/identity/protocols/oauth2/service-account for the JWT bearer
// grant, .../oauth2/native-app for the refresh token grant), and CHECKS every request against it:
// paths, query parameters, the bearer token, JSON bodies, the token request's form, the JWT's
// signature (with the key's public half) and claims. Whatever it finds wrong is in Problems().
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/base64.h"
#include "testing/fake_api_fetch.h"
#include "testing/https_server.h"
#include "testing/jwt_check.h"
#include "testing/process.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kUser = "dmarc@example.com";
constexpr const char* kAccount = "dmarc-reader@example-project.iam.gserviceaccount.com";
constexpr const char* kClientId = "123456789012-abc.apps.googleusercontent.com";
constexpr const char* kClientSecret = "GOCSPX-client-s3cret";
constexpr const char* kRefreshToken = "1//0refresh-token-value";
constexpr const char* kScope = "https://www.googleapis.com/auth/gmail.modify";

// The fake Gmail API and token endpoint: a mailbox of labels and messages.
class FakeGmail {
 public:
  explicit FakeGmail(const fs::path& dir) : https_(dir) {
    EXPECT_TRUE(https_.made()) << "openssl req: no certificate";
    for (const char* system : {"INBOX", "SPAM", "TRASH", "UNREAD", "SENT"})
      labels_[system] = system;
    labels_["Label_7"] = "DMARC";
    Routes();
    https_.Start();
  }

  std::string Base() const { return https_.Base(); }
  std::string Cert() const { return https_.Cert(); }

  // A message with these labels.
  void Deliver(const std::string& mime, std::set<std::string> labels = {"INBOX", "UNREAD"}) {
    std::lock_guard lock(mu_);
    ++made_;
    messages_["18c" + std::to_string(1000 + made_) + "ab"] = {mime, std::move(labels)};
  }
  // How many messages carry the label of this name (-1: no such label).
  int Count(const std::string& name) {
    std::lock_guard lock(mu_);
    std::string id;
    for (const auto& [lid, lname] : labels_) id = lname == name ? lid : id;
    if (id.empty()) return -1;
    int n = 0;
    for (const auto& [mid, m] : messages_) n += m.labels.count(id) ? 1 : 0;
    return n;
  }
  std::vector<std::string> Problems() {
    std::lock_guard lock(mu_);
    return problems_;
  }
  // "METHOD /path" of every Gmail API request, in order.
  std::vector<std::string> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int Count(const std::string& method, const std::string& suffix) {
    int n = 0;
    for (const auto& r : Requests()) n += r.starts_with(method + " ") && r.ends_with(suffix);
    return n;
  }
  int TokenRequests() {
    std::lock_guard lock(mu_);
    return tokens_issued_;
  }

  // The service account's public key (PEM), which its JWTs must verify with.
  std::string public_key;
  // Knobs.
  std::atomic<int> page_size{2};
  std::atomic<int> throttle_first_gets{1};    // the first fetch answers 429 Retry-After: 1
  std::atomic<int> retry_after{1};            // seconds, in the 429's Retry-After
  std::atomic<int> rate_limit_first_gets{0};  // then this many answer 403 rateLimitExceeded
  std::atomic<int> fail_get_number{0};        // the n-th fetch answers 500 (0: none)
  std::atomic<bool> refuse_grant{false};      // the token endpoint says unauthorized_client
  std::atomic<bool> api_disabled{false};      // every Gmail request: 403 accessNotConfigured
  std::string expect_label = "INBOX";         // labelIds the listing must ask for ("": none)
  std::string expect_query;                   // q the listing must ask for ("": none)

 private:
  struct Message {
    std::string mime;
    std::set<std::string> labels;
  };

  void Problem(const std::string& what) { problems_.push_back(what); }

  void Routes() {
    auto& r = https_.routes();
    r.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      if (req.path == "/token") return httplib::Server::HandlerResponse::Unhandled;
      requests_.push_back(req.method + " " + req.path);
      if (!valid_tokens_.count(req.get_header_value("Authorization"))) {
        Problem(req.method + " " + req.path + ": Authorization is not a bearer token issued: \"" +
                req.get_header_value("Authorization") + "\"");
      }
      if (!req.path.starts_with(std::string("/gmail/v1/users/") + kUser + "/")) {
        Problem(req.path + ": not below /gmail/v1/users/" + kUser);
      }
      if (!api_disabled) return httplib::Server::HandlerResponse::Unhandled;
      GoogleError(res, 403, "accessNotConfigured",
                  "Gmail API has not been used in project 109876543210 before or it is disabled.",
                  "PERMISSION_DENIED");
      return httplib::Server::HandlerResponse::Handled;
    });
    r.Post("/token", [this](const auto& req, auto& res) { Token(req, res); });
    const std::string user = std::string("/gmail/v1/users/") + kUser;
    r.Get(user + "/labels", [this](const auto& req, auto& res) { ListLabels(req, res); });
    r.Post(user + "/labels", [this](const auto& req, auto& res) { CreateLabel(req, res); });
    r.Get(user + "/messages", [this](const auto& req, auto& res) { List(req, res); });
    r.Get(user + R"(/messages/([^/]+))", [this](const auto& req, auto& res) { Get(req, res); });
    r.Post(user + R"(/messages/([^/]+)/modify)",
           [this](const auto& req, auto& res) { Modify(req, res); });
    r.Post(user + R"(/messages/([^/]+)/trash)",
           [this](const auto& req, auto& res) { Trash(req, res); });
  }

  // Google's error shape: {"error": {"code", "message", "errors": [{"reason"}], "status"}}.
  static void GoogleError(httplib::Response& res, int status, const std::string& reason,
                          const std::string& message, const std::string& code_name) {
    res.status = status;
    res.set_content(
        json{{"error",
              {{"code", status},
               {"message", message},
               {"errors", {{{"message", message}, {"domain", "global"}, {"reason", reason}}}},
               {"status", code_name}}}}
            .dump(),
        "application/json");
  }

  // What is wrong with a service account's assertion; "" when nothing is.
  std::string CheckAssertion(const std::string& jwt) const {
    const auto checked = dmarc::testing::CheckRs256Jwt(jwt, public_key);
    if (!checked) return "the signature does not verify with the service account's key";
    const json& h = checked->header;
    const json& c = checked->claims;
    if (h.value("alg", "") != "RS256" || h.value("kid", "") != "key-id-1") return "alg, kid";
    if (c.value("iss", "") != kAccount) return "iss " + c.value("iss", "");
    if (c.value("sub", "") != kUser) return "sub " + c.value("sub", "");
    if (c.value("scope", "") != kScope) return "scope " + c.value("scope", "");
    if (c.value("aud", "") != Base() + "/token") return "aud " + c.value("aud", "");
    const std::int64_t now = std::time(nullptr);
    const std::int64_t iat = c.value("iat", std::int64_t{0});
    if (iat > now + 5 || iat < now - 60 || c.value("exp", std::int64_t{0}) != iat + 3600) {
      return "iat, exp";
    }
    return "";
  }

  // POST /token: the JWT bearer grant, or the refresh token grant.
  void Token(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (req.get_header_value("Content-Type") != "application/x-www-form-urlencoded") {
      Problem("token: Content-Type " + req.get_header_value("Content-Type"));
    }
    std::map<std::string, std::string> got(req.params.begin(), req.params.end());
    std::string why;
    if (got["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      why = got.size() != 2 ? "jwt-bearer: grant_type and assertion only"
                            : CheckAssertion(got["assertion"]);
    } else if (got["grant_type"] == "refresh_token") {
      const std::map<std::string, std::string> want = {{"grant_type", "refresh_token"},
                                                       {"client_id", kClientId},
                                                       {"client_secret", kClientSecret},
                                                       {"refresh_token", kRefreshToken}};
      why = got == want ? "" : "refresh_token: not the form expected";
    } else {
      why = "grant_type " + got["grant_type"];
    }
    if (!why.empty()) Problem("token: " + why);
    if (!why.empty() || refuse_grant) {
      res.status = 401;
      res.set_content(R"({"error": "unauthorized_client", "error_description": "Client is )"
                      R"(unauthorized to retrieve access tokens using this method, or client )"
                      R"(not authorized for any of the scopes requested."})",
                      "application/json");
      return;
    }
    const std::string token = "ya29.gmail-token-" + std::to_string(++tokens_issued_);
    valid_tokens_.insert("Bearer " + token);
    res.set_content(
        json{{"access_token", token}, {"expires_in", 3599}, {"token_type", "Bearer"}}.dump(),
        "application/json");
  }

  void ListLabels(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!req.params.empty()) Problem("labels.list takes no query: " + req.target);
    json labels = json::array();
    for (const auto& [id, name] : labels_) {
      labels.push_back({{"id", id}, {"name", name}, {"type", id == name ? "system" : "user"}});
    }
    res.set_content(json{{"labels", labels}}.dump(), "application/json");
  }

  void CreateLabel(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    const json body = json::parse(req.body, nullptr, false);
    if (req.get_header_value("Content-Type") != "application/json" || !body.is_object() ||
        !body.contains("name") || !body["name"].is_string() ||
        body.value("labelListVisibility", "") != "labelShow" ||
        body.value("messageListVisibility", "") != "show") {
      Problem("labels.create: not a JSON label: " + req.body);
      return GoogleError(res, 400, "invalidArgument", "Invalid label", "INVALID_ARGUMENT");
    }
    for (const auto& [id, name] : labels_) {
      if (name == body["name"]) {
        Problem("labels.create: the label exists: " + name);
        return GoogleError(res, 409, "failedPrecondition", "Label name exists or conflicts",
                           "FAILED_PRECONDITION");
      }
    }
    const std::string id = "Label_" + std::to_string(100 + labels_.size());
    labels_[id] = body["name"];
    res.set_content(json{{"id", id}, {"name", body["name"]}, {"type", "user"}}.dump(),
                    "application/json");
  }

  // GET .../messages?labelIds=ID&q=Q&maxResults=500&pageToken=OFFSET
  void List(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    std::set<std::string> keys;
    for (const auto& [k, v] : req.params) keys.insert(k);
    const std::set<std::string> allowed = {"labelIds", "q", "maxResults", "pageToken"};
    for (const auto& k : keys) {
      if (!allowed.count(k)) Problem("messages.list: unknown parameter " + k);
    }
    if (req.get_param_value("maxResults") != "500") Problem("messages.list: maxResults not 500");
    if (req.get_param_value("labelIds") != expect_label ||
        req.get_param_value("q") != expect_query) {
      Problem("messages.list: labelIds, q: " + req.target);
    }
    const int offset = req.has_param("pageToken") ? std::stoi(req.get_param_value("pageToken")) : 0;
    std::vector<std::string> ids;
    for (const auto& [id, m] : messages_) {
      if (!m.labels.count("TRASH") && (expect_label.empty() || m.labels.count(expect_label))) {
        ids.push_back(id);
      }
    }
    json messages = json::array();
    for (int i = offset; i < std::min<int>(offset + page_size, static_cast<int>(ids.size())); ++i) {
      messages.push_back({{"id", ids[i]}, {"threadId", ids[i]}});
    }
    json page = {{"resultSizeEstimate", ids.size()}};
    if (!messages.empty()) page["messages"] = messages;
    if (offset + page_size < static_cast<int>(ids.size())) {
      page["nextPageToken"] = std::to_string(offset + page_size);
    }
    res.set_content(page.dump(), "application/json");
  }

  // GET .../messages/{id}?format=raw
  void Get(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (req.params.size() != 1 || req.get_param_value("format") != "raw") {
      Problem("messages.get: expected format=raw only: " + req.target);
    }
    if (throttle_first_gets > 0) {
      --throttle_first_gets;
      res.set_header("Retry-After", std::to_string(retry_after.load()));
      return GoogleError(res, 429, "rateLimitExceeded", "Too many concurrent requests for user",
                         "RESOURCE_EXHAUSTED");
    }
    if (rate_limit_first_gets > 0) {
      --rate_limit_first_gets;
      return GoogleError(res, 403, "userRateLimitExceeded", "User-rate limit exceeded.",
                         "PERMISSION_DENIED");
    }
    if (fail_get_number > 0 && ++gets_ == fail_get_number) {
      return GoogleError(res, 500, "backendError", "Backend Error", "INTERNAL");
    }
    const auto it = messages_.find(req.matches[1]);
    if (it == messages_.end()) {
      return GoogleError(res, 404, "notFound", "Requested entity was not found.", "NOT_FOUND");
    }
    res.set_content(json{{"id", it->first},
                         {"threadId", it->first},
                         {"labelIds", it->second.labels},
                         {"snippet", ""},
                         {"sizeEstimate", it->second.mime.size() + 40},
                         {"historyId", "4711"},
                         {"internalDate", "1772445600000"},
                         {"raw", dmarc::testing::Base64UrlEncode(it->second.mime)}}
                        .dump(),
                    "application/json");
  }

  Message* Find(const httplib::Request& req, httplib::Response& res) {
    const auto it = messages_.find(req.matches[1]);
    if (it != messages_.end()) return &it->second;
    GoogleError(res, 404, "notFound", "Requested entity was not found.", "NOT_FOUND");
    return nullptr;
  }

  // POST .../modify {"addLabelIds": [...], "removeLabelIds": [...]}
  void Modify(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    const json body = json::parse(req.body, nullptr, false);
    bool ok = req.get_header_value("Content-Type") == "application/json" && body.is_object();
    for (const char* key : {"addLabelIds", "removeLabelIds"}) {
      ok = ok && body.contains(key) && body[key].is_array();
      for (const auto& id : ok ? body[key] : json::array()) {
        ok = ok && id.is_string() && labels_.count(id.get<std::string>());
      }
    }
    if (!ok || body.size() != 2) {
      Problem("modify: not {\"addLabelIds\", \"removeLabelIds\"} of existing labels: " + req.body);
      return GoogleError(res, 400, "invalidArgument", "Invalid label", "INVALID_ARGUMENT");
    }
    Message* m = Find(req, res);
    if (!m) return;
    for (const auto& id : body["addLabelIds"]) m->labels.insert(id.get<std::string>());
    for (const auto& id : body["removeLabelIds"]) m->labels.erase(id.get<std::string>());
    res.set_content(json{{"id", req.matches[1]}, {"labelIds", m->labels}}.dump(),
                    "application/json");
  }

  void Trash(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!req.body.empty()) Problem("trash with a body: " + req.body);
    Message* m = Find(req, res);
    if (!m) return;
    m->labels.insert("TRASH");
    m->labels.erase("INBOX");
    res.set_content(json{{"id", req.matches[1]}, {"labelIds", m->labels}}.dump(),
                    "application/json");
  }

  std::mutex mu_;
  std::map<std::string, std::string> labels_;  // id → name
  std::map<std::string, Message> messages_;
  std::set<std::string> valid_tokens_;
  std::vector<std::string> problems_, requests_;
  int made_ = 0, tokens_issued_ = 0, gets_ = 0;
  dmarc::testing::LoopbackHttpsServer https_;  // destroyed first: its thread ends before the rest
};

class GmailFetch : public dmarc::testing::FakeApiFetch<FakeGmail> {
 protected:
  GmailFetch() : FakeApiFetch("dmarc-gmail") {}
  void SetUp() override {
    FakeApiFetch::SetUp();
    gmail_ = server_.get();
    const auto [private_pem, public_pem] = dmarc::testing::MakeRsaKeyPem();
    gmail_->public_key = public_pem;
    key_file_ = (dir_ / "service-account.json").string();
    std::ofstream(key_file_) << json{
        {"type", "service_account"},
        {"project_id", "example-project"},
        {"private_key_id", "key-id-1"},
        {"private_key", private_pem},
        {"client_email", kAccount},
        {"client_id", "109876543210"},
        {"auth_uri", "https://accounts.google.com/o/oauth2/auth"},
        {"token_uri",
         gmail_->Base() + "/token"}}.dump(2);
    fs::permissions(key_file_, fs::perms::owner_read | fs::perms::owner_write);
  }

  // A [gmail] table with the service account's key, and `extra` keys.
  std::string Config(const std::string& extra, const std::string& credentials = "") {
    const fs::path p = dir_ / "fetch.toml";
    std::ofstream(p) << "[store]\nurl = \"sqlite:" << (dir_ / "store.db").string()
                     << "\"\n[enrich]\noffline = true\n[gmail]\nuser = \"" << kUser << "\"\n"
                     << (credentials.empty() ? "service_account_file = \"" + key_file_ + "\"\n"
                                             : credentials)
                     << "api_url = \"" << gmail_->Base() << "\"\nca_file = \"" << gmail_->Cert()
                     << "\"\n"
                     << extra;
    return p.string();
  }

  std::string key_file_;
  FakeGmail* gmail_ = nullptr;
};

TEST_F(GmailFetch, AServiceAccountPagesThroughTheInboxWaitsOutThrottlingAndArchives) {
  for (int i = 0; i < 5; ++i) gmail_->Deliver(dmarc::testing::SampleReportMail(i));
  FetchWaitingOutARetryAfter(Config("batch_size = 2\n"));
  if (HasFatalFailure()) return;
  EXPECT_EQ(gmail_->Count("INBOX"), 0) << Log();
  EXPECT_EQ(gmail_->Count("Archive/Aggregate"), 5) << Log();
  EXPECT_NE(Log().find("5 aggregate"), std::string::npos) << Log();
  // Three listing pages of two; five fetches and the throttled one; the label made once.
  EXPECT_EQ(gmail_->Count("GET", "/messages"), 3);
  EXPECT_EQ(gmail_->Count("GET", "ab"), 6);
  EXPECT_EQ(gmail_->Count("POST", "/modify"), 5);
  EXPECT_EQ(gmail_->Count("POST", "/labels"), 1);
  EXPECT_EQ(gmail_->TokenRequests(), 1);
  EXPECT_EQ(Log().find("gmail-token-"), std::string::npos) << "the token is never logged";
  EXPECT_EQ(Log().find("PRIVATE KEY"), std::string::npos) << "the key is never logged";

  // Read again: the label exists now, and nothing is left to fetch.
  gmail_->Deliver(dmarc::testing::SampleReportMail(0));
  ASSERT_EQ(Fetch(Config("")), 0) << Log();
  EXPECT_EQ(gmail_->Count("Archive/Aggregate"), 6) << Log();
  EXPECT_EQ(gmail_->Count("POST", "/labels"), 1);
}

TEST_F(GmailFetch, ALabelAndAQueryAreAskedForAndDeleteMovesReportsToTheTrash) {
  gmail_->throttle_first_gets = 0;
  gmail_->rate_limit_first_gets = 1;
  gmail_->expect_label = "Label_7";
  gmail_->expect_query = "has:attachment";
  gmail_->Deliver(dmarc::testing::SampleReportMail(1), {"Label_7"});
  gmail_->Deliver(dmarc::testing::SampleReportMail(2), {"Label_7", "INBOX"});
  gmail_->Deliver("From: a@example.com\r\nSubject: hello\r\n\r\nnot a report\r\n", {"Label_7"});
  ASSERT_EQ(Fetch(Config("label = \"DMARC\"\nquery = \"has:attachment\"\nafter = \"delete\"\n")), 0)
      << Log();
  EXPECT_EQ(gmail_->Count("TRASH"), 2) << Log();
  EXPECT_EQ(gmail_->Count("Archive/Invalid"), 1) << "a mail without a report is never trashed";
  EXPECT_EQ(gmail_->Count("DMARC"), 2) << "only the archived one leaves the source label";
  EXPECT_EQ(gmail_->Count("POST", "/trash"), 2);
  EXPECT_EQ(gmail_->Count("GET", "ab"), 4) << "three fetches and the rate-limited one";
}

TEST_F(GmailFetch, ARefreshTokenStandsInForAServiceAccountAndKeepLeavesTheMails) {
  gmail_->throttle_first_gets = 0;
  gmail_->Deliver(dmarc::testing::SampleReportMail(0));
  gmail_->Deliver(dmarc::testing::SampleReportMail(1));
  const fs::path secret = dir_ / "client-secret", refresh = dir_ / "refresh-token";
  std::ofstream(secret) << kClientSecret << "\n";
  std::ofstream(refresh) << kRefreshToken << "\n";
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(refresh, fs::perms::owner_read | fs::perms::owner_write);
  const std::string credentials = std::string("client_id = \"") + kClientId +
                                  "\"\nclient_secret_file = \"" + secret.string() +
                                  "\"\nrefresh_token_file = \"" + refresh.string() +
                                  "\"\ntoken_url = \"" + gmail_->Base() + "/token\"\n";
  ASSERT_EQ(Fetch(Config("after = \"keep\"\n", credentials)), 0) << Log();
  EXPECT_NE(Log().find("2 aggregate"), std::string::npos) << Log();
  EXPECT_EQ(gmail_->Count("INBOX"), 2);
  EXPECT_EQ(gmail_->Count("POST", "/modify") + gmail_->Count("POST", "/trash"), 0);
  EXPECT_EQ(gmail_->TokenRequests(), 1);
  EXPECT_EQ(Log().find(kRefreshToken), std::string::npos) << "the refresh token is never logged";
  EXPECT_EQ(Log().find(kClientSecret), std::string::npos);
}

TEST_F(GmailFetch, AFailureBeforeTheCommitLeavesEveryMailUntouched) {
  for (int i = 0; i < 4; ++i) gmail_->Deliver(dmarc::testing::SampleReportMail(i));
  gmail_->throttle_first_gets = 0;
  gmail_->fail_get_number = 3;
  EXPECT_NE(Fetch(Config("")), 0) << Log();
  EXPECT_EQ(gmail_->Count("INBOX"), 4) << Log();
  EXPECT_EQ(gmail_->Count("POST", "/modify") + gmail_->Count("POST", "/trash"), 0);
  EXPECT_NE(Log().find(std::string("gmail://") + kUser + "/INBOX: fetching a message failed"),
            std::string::npos)
      << Log();
  EXPECT_NE(Log().find("answered 500: INTERNAL: Backend Error"), std::string::npos) << Log();

  // The next run takes them all.
  gmail_->fail_get_number = 0;
  ASSERT_EQ(Fetch(Config("")), 0) << Log();
  EXPECT_EQ(gmail_->Count("Archive/Aggregate"), 4) << Log();
}

TEST_F(GmailFetch, ARefusedServiceAccountIsNamedAndNoMailboxIsAsked) {
  gmail_->Deliver(dmarc::testing::SampleReportMail(0));
  gmail_->refuse_grant = true;
  EXPECT_NE(Fetch(Config("")), 0) << Log();
  EXPECT_NE(Log().find("gmail.service_account_file (token_uri): POST " + gmail_->Base() +
                       "/token answered 401: unauthorized_client: Client is unauthorized to "
                       "retrieve access tokens using this method"),
            std::string::npos)
      << Log();
  EXPECT_NE(Log().find(std::string("check that ") + kAccount + " is delegated the scope " + kScope +
                       " for the domain of gmail.user"),
            std::string::npos)
      << Log();
  EXPECT_TRUE(gmail_->Requests().empty());
  EXPECT_EQ(gmail_->Count("INBOX"), 1);
}

TEST_F(GmailFetch, AMailOverTheSizeLimitIsNotDecodedAndIsFiledAsInvalid) {
  gmail_->throttle_first_gets = 0;
  gmail_->Deliver(dmarc::testing::SampleReportMail(0));
  gmail_->Deliver("Subject: big\r\n\r\n" + std::string(200'000, 'x') + "\r\n");
  ASSERT_EQ(Fetch(Config(""), {"--max-input-bytes", "100000"}), 0) << Log();
  EXPECT_EQ(gmail_->Count("Archive/Aggregate"), 1) << Log();
  EXPECT_EQ(gmail_->Count("Archive/Invalid"), 1) << Log();
  EXPECT_NE(Log().find("larger than the limit of 100000 bytes"), std::string::npos) << Log();
}

TEST_F(GmailFetch, AForbiddenAnswerIsNotRetriedAndSaysWhatToCheck) {
  gmail_->Deliver(dmarc::testing::SampleReportMail(0));
  gmail_->api_disabled = true;
  EXPECT_NE(Fetch(Config("")), 0) << Log();
  EXPECT_NE(Log().find(std::string("gmail://") + kUser + "/INBOX: listing the labels failed: GET " +
                       gmail_->Base() + "/gmail/v1/users/" + kUser +
                       "/labels answered 403: PERMISSION_DENIED: Gmail API has not been used "
                       "in project 109876543210 before or it is disabled. (enable the Gmail API"),
            std::string::npos)
      << Log();
  EXPECT_EQ(gmail_->Requests().size(), 1u) << "a 403 that is no rate limit is not retried";
  EXPECT_EQ(gmail_->Count("INBOX"), 1);
}

TEST_F(GmailFetch, ThrottlingThatDoesNotEndFailsClearlyAndLeavesTheMail) {
  gmail_->Deliver(dmarc::testing::SampleReportMail(0));
  gmail_->throttle_first_gets = 1000;
  gmail_->retry_after = 0;
  EXPECT_NE(Fetch(Config("")), 0) << Log();
  EXPECT_NE(Log().find("answered 429: RESOURCE_EXHAUSTED: Too many concurrent requests for user "
                       "(Gmail's per-user rate limit, still reached after the retries"),
            std::string::npos)
      << Log();
  EXPECT_EQ(gmail_->Count("GET", "ab"), 6) << "the first try and 5 retries";
  EXPECT_EQ(gmail_->Count("INBOX"), 1);
  EXPECT_EQ(gmail_->Count("POST", "/modify"), 0);
}

TEST_F(GmailFetch, WatchListsTheLabelAgainEveryRoundAndTakesOnlyWhatArrived) {
  gmail_->throttle_first_gets = 0;
  gmail_->Deliver(dmarc::testing::SampleReportMail(0));
  log_ = dir_ / "fetch.log";
  const pid_t pid = dmarc::testing::Spawn(
      {"fetch", "--watch", "--config", Config("\n[fetch]\nwatch_interval = 1\n")}, log_);
  const auto archived_within_30s = [this](int want) {
    for (int i = 0; i < 600 && gmail_->Count("Archive/Aggregate") < want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return gmail_->Count("Archive/Aggregate");
  };
  EXPECT_EQ(archived_within_30s(1), 1) << Log();
  gmail_->Deliver(dmarc::testing::SampleReportMail(1));
  EXPECT_EQ(archived_within_30s(2), 2) << Log();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(dmarc::testing::Wait(pid), 0) << Log();
  EXPECT_EQ(gmail_->Count("GET", "ab"), 2) << "each mail fetched once";
  EXPECT_EQ(gmail_->Count("POST", "/labels"), 1);
  EXPECT_EQ(gmail_->TokenRequests(), 1) << "the token is kept across rounds";
}

TEST_F(GmailFetch, AMissingLabelIsNamed) {
  gmail_->Deliver(dmarc::testing::SampleReportMail(0));
  EXPECT_NE(Fetch(Config("label = \"Reports\"\n")), 0) << Log();
  EXPECT_NE(Log().find("label \"Reports\" not found in mailbox dmarc@example.com"),
            std::string::npos)
      << Log();
  EXPECT_EQ(gmail_->Count("INBOX"), 1);
}

}  // namespace
