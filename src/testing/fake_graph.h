// Test helper: a fake Microsoft Graph and Microsoft identity platform token endpoint over HTTPS
// on a loopback port, for tests/graph_test.cc and bench/graph_bench.cc. No Microsoft service runs
// here: the server answers as Microsoft's documentation says
// (https://learn.microsoft.com/graph/api/resources/mail-api-overview, .../message-move,
// .../user-list-mailfolders, .../mailfolder-post-childfolders, .../opaque-message-get "$value",
// https://learn.microsoft.com/graph/json-batching, https://learn.microsoft.com/graph/throttling,
// and the client credentials grant of
// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow), and
// CHECKS every request against it: paths, query parameters, the bearer token, JSON bodies, the
// $batch envelope, the token request's form. Whatever it finds wrong is listed in Problems().
#pragma once

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/https_server.h"
#include "testing/jwt_check.h"

namespace dmarc::testing::graph {

namespace fs = std::filesystem;
using nlohmann::json;

inline constexpr const char* kUpn = "dmarc@example.com";
inline constexpr const char* kTenant = "contoso-tenant";
inline constexpr const char* kClientId = "11111111-2222-3333-4444-555555555555";
inline constexpr const char* kSecret = "app-s3cret-value~xyz";
inline constexpr const char* kDeviceCode = "GMMhmHCXhWEzkobqIHGG_EnNYYsAkukHspeYUk9E8";
inline constexpr const char* kDelegatedScope =
    "https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/Mail.ReadWrite.Shared "
    "offline_access";

// What is wrong with a client assertion (Microsoft's certificate credentials: a JWT signed RS256
// by the key of `cert_file`, x5t its SHA-1 thumbprint, aud the token URL, iss = sub = the client
// ID, a jti, valid now and for at most 10 minutes); "" when nothing is.
inline std::string CheckAssertionWith(const std::string& jwt, const std::string& cert_file,
                                      const std::string& audience) {
  const auto dot1 = jwt.find('.'), dot2 = jwt.rfind('.');
  if (dot1 == std::string::npos || dot1 == dot2) return "not a JWT";
  const json header = json::parse(Base64UrlDecode(jwt.substr(0, dot1)), nullptr, false);
  const json claims =
      json::parse(Base64UrlDecode(jwt.substr(dot1 + 1, dot2 - dot1 - 1)), nullptr, false);
  if (!header.is_object() || !claims.is_object()) return "header or claims not JSON";
  FILE* f = std::fopen(cert_file.c_str(), "rb");
  if (!f) return "no certificate";
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  unsigned char sha1[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  X509_digest(cert, EVP_sha1(), sha1, &size);
  const std::string x5t = Base64UrlEncode({reinterpret_cast<const char*>(sha1), size});
  EVP_PKEY* key = X509_get_pubkey(cert);
  const std::string signature = Base64UrlDecode(jwt.substr(dot2 + 1));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool verified =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(jwt.data()),
                       dot2) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  X509_free(cert);
  const std::int64_t now = std::time(nullptr);
  if (!verified) return "the signature does not verify with the certificate's key";
  if (header.value("alg", "") != "RS256" || header.value("typ", "") != "JWT") return "alg, typ";
  if (header.value("x5t", "") != x5t) return "x5t is not the certificate's SHA-1 thumbprint";
  if (claims.value("aud", "") != audience) return "aud " + claims.value("aud", "");
  if (claims.value("iss", "") != kClientId || claims.value("sub", "") != kClientId) {
    return "iss, sub";
  }
  if (claims.value("jti", "").empty()) return "no jti";
  const std::int64_t nbf = claims.value("nbf", std::int64_t{0});
  const std::int64_t exp = claims.value("exp", std::int64_t{0});
  if (nbf > now + 5 || exp < now || exp - nbf > 600) return "nbf, exp";
  return "";
}

// The fake Graph: a mailbox of folders and messages, over HTTPS with a certificate of its own.
class FakeGraph {
 public:
  explicit FakeGraph(const fs::path& dir) : https_(dir) {
    server_ = &https_.routes();
    server_->set_tcp_nodelay(true);  // as Microsoft's front ends answer: no Nagle delay
    folders_["inbox-AAMkAD=="] = {"Inbox", ""};
    folders_["dmarc-AAMkAE-_=="] = {"DMARC", "inbox-AAMkAD=="};
    Routes();
    https_.Start();
  }

  bool made() const { return https_.made(); }  // its certificate was made
  std::string Base() const { return https_.Base(); }
  std::string Cert() const { return https_.Cert(); }

  // A message in Inbox/DMARC.
  void Deliver(const std::string& mime) {
    std::lock_guard lock(mu_);
    ++made_;
    messages_["AAMkAGI2-msg_" + std::to_string(made_) + "="] = {"dmarc-AAMkAE-_==", mime, made_};
  }
  // How many messages the folder at this path holds (-1: no such folder).
  int Count(const std::string& path) {
    std::lock_guard lock(mu_);
    const std::string id = PathId(path);
    if (id.empty()) return -1;
    int n = 0;
    for (const auto& [mid, m] : messages_) n += m.folder == id;
    return n;
  }
  std::size_t Total() {
    std::lock_guard lock(mu_);
    return messages_.size();
  }
  std::vector<std::string> Problems() {
    std::lock_guard lock(mu_);
    return problems_;
  }
  // "METHOD /path" of every Graph request, in order.
  std::vector<std::string> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Delta rounds that listed the whole folder, and those from a deltaLink.
  int FullRounds() {
    std::lock_guard lock(mu_);
    return full_rounds_;
  }
  int DeltaRounds() {
    std::lock_guard lock(mu_);
    return delta_rounds_;
  }
  int TokenRequests() {
    std::lock_guard lock(mu_);
    return tokens_issued_;
  }
  int Count(const std::string& method, const std::string& suffix) {
    int n = 0;
    for (const auto& r : Requests()) {
      n += r.starts_with(method + " ") && r.ends_with(suffix);
    }
    return n;
  }

  // With certificate credentials: the certificate the app registration holds (PEM).
  std::string app_cert_file;

  // Knobs.
  std::atomic<int> page_size{2};
  std::atomic<int> throttle_first_values{1};  // $value answers 429 Retry-After: 1 first
  std::atomic<int> fail_value_number{0};      // the n-th $value answers 500 (0: none)
  std::atomic<bool> refuse_secret{false};
  std::atomic<int> retry_after{1};             // seconds, in the 429's Retry-After
  std::atomic<bool> foreign_next_link{false};  // @odata.nextLink points elsewhere
  std::atomic<int> most_in_flight{0};          // the most $value requests in flight at once
  // Delegated sign-in (device code): polls answered authorization_pending before the tokens, or
  // the error that ends the flow ("expired_token", "authorization_declined"; "": none).
  std::atomic<int> pending_polls{2};
  std::string device_error;
  // The one refresh token the token endpoint takes (the last it issued); revoke() refuses all.
  std::string Refresh() {
    std::lock_guard lock(mu_);
    return refresh_;
  }
  void Revoke() {
    std::lock_guard lock(mu_);
    refresh_ = "revoked";
  }
  std::atomic<int> value_delay_ms{20};      // how long a $value takes on the server
  std::atomic<int> latency_ms{0};           // added before every HTTP request is answered
  std::atomic<bool> reverse_batches{true};  // a $batch answers its requests last to first
  // $batch requests, and the most requests one held.
  int Batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  // Every HTTP request, the token's too.
  int HttpRequests() {
    std::lock_guard lock(mu_);
    return http_requests_;
  }
  int LargestBatch() {
    std::lock_guard lock(mu_);
    return largest_batch_;
  }

 private:
  struct Folder {
    std::string name, parent;
  };
  struct Message {
    std::string folder, mime;
    int seq = 0;  // when it arrived in its folder
  };

  void Problem(const std::string& what) { problems_.push_back(what); }

  std::string PathId(const std::string& path) const {
    std::string id;
    std::size_t start = 0;
    while (start <= path.size()) {
      const std::size_t slash = std::min(path.find('/', start), path.size());
      const std::string name = path.substr(start, slash - start);
      start = slash + 1;
      std::string found;
      for (const auto& [fid, f] : folders_) {
        if (f.parent == id && f.name == name) found = fid;
      }
      if (found.empty()) return "";
      id = found;
    }
    return id;
  }

  void Routes() {
    server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(latency_ms.load()));
      std::lock_guard lock(mu_);
      ++http_requests_;
      if (!req.path.starts_with("/v1.0/")) return httplib::Server::HandlerResponse::Unhandled;
      requests_.push_back(req.method + " " + req.path);
      if (req.path == "/v1.0/$batch") return httplib::Server::HandlerResponse::Unhandled;
      if (!valid_tokens_.count(req.get_header_value("Authorization"))) {
        Problem(req.method + " " + req.path + ": Authorization is not a bearer token issued: \"" +
                req.get_header_value("Authorization") + "\"");
      }
      if (!req.path.starts_with(std::string("/v1.0/users/") + kUpn + "/")) {
        Problem(req.path + ": not below /v1.0/users/" + kUpn);
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server_->Post(std::string("/") + kTenant + "/oauth2/v2.0/devicecode",
                  [this](const auto& req, auto& res) { DeviceCode(req, res); });
    server_->Post(std::string("/") + kTenant + "/oauth2/v2.0/token",
                  [this](const auto& req, auto& res) { Token(req, res); });
    const std::string user = std::string("/v1.0/users/") + kUpn;
    server_->Get(user + "/mailFolders", [this](const auto& req, auto& res) { Find(req, res, ""); });
    server_->Get(user + R"(/mailFolders/([^/]+)/childFolders)",
                 [this](const auto& req, auto& res) { Find(req, res, req.matches[1]); });
    server_->Post(user + "/mailFolders",
                  [this](const auto& req, auto& res) { Create(req, res, ""); });
    server_->Post(user + R"(/mailFolders/([^/]+)/childFolders)",
                  [this](const auto& req, auto& res) { Create(req, res, req.matches[1]); });
    server_->Get(user + R"(/mailFolders/([^/]+)/messages/delta)",
                 [this](const auto& req, auto& res) { Delta(req, res); });
    server_->Get(user + R"(/messages/([^/]+)/\$value)",
                 [this](const auto& req, auto& res) { Value(req, res); });
    server_->Post(user + R"(/messages/([^/]+)/move)",
                  [this](const auto& req, auto& res) { Move(req, res); });
    server_->Delete(user + R"(/messages/([^/]+))",
                    [this](const auto& req, auto& res) { Delete(req, res); });
    server_->Post(R"(/v1\.0/\$batch)", [this](const auto& req, auto& res) { Batch(req, res); });
  }

  // Standard base64 with padding (RFC 4648 §4), as $batch carries a body that is not JSON.
  static std::string Base64(const std::string& bytes) {
    std::string out = Base64UrlEncode(bytes);
    std::replace(out.begin(), out.end(), '-', '+');
    std::replace(out.begin(), out.end(), '_', '/');
    while (out.size() % 4 != 0) out += '=';
    return out;
  }

  // What is wrong with a $batch's body (https://learn.microsoft.com/graph/json-batching): a JSON
  // {"requests": [...]} of 1 to 20, each with a unique string id, a method, a url relative to
  // /v1.0, and a JSON body only with its Content-Type header; "" when nothing is.
  static std::string CheckBatch(const httplib::Request& req, const json& body) {
    if (req.get_header_value("Content-Type") != "application/json") return "Content-Type";
    if (!body.is_object() || !body.contains("requests") || !body["requests"].is_array()) {
      return "not {\"requests\": [...]}";
    }
    const json& requests = body["requests"];
    if (requests.empty() || requests.size() > 20) return "1 to 20 requests, not so many";
    std::set<std::string> ids;
    static const std::set<std::string> kMethods = {"GET", "POST", "PATCH", "PUT", "DELETE"};
    for (const auto& r : requests) {
      if (!r.is_object() || !r.contains("id") || !r["id"].is_string() ||
          !ids.insert(r["id"].get<std::string>()).second || r["id"].get<std::string>().empty()) {
        return "an id missing, not a string, or not unique";
      }
      if (!r.contains("method") || !r["method"].is_string() || !kMethods.count(r["method"])) {
        return "method";
      }
      const std::string url = r.value("url", "");
      if (!url.starts_with("/users/") || url.find('?') != std::string::npos) {
        return "url not relative to /v1.0 (or with a query): " + url;
      }
      const bool content_type = r.contains("headers") && r["headers"].is_object() &&
                                r["headers"].value("Content-Type", "") == "application/json";
      if (r.contains("body") != content_type) return "a body goes with Content-Type, only";
    }
    return "";
  }

  // POST /v1.0/$batch: each request answered as the route of its own would, in `responses` (last
  // to first with reverse_batches), with a body that is not JSON base64-encoded.
  void Batch(const httplib::Request& req, httplib::Response& res) {
    const json body = json::parse(req.body, nullptr, false);
    const std::string wrong = CheckBatch(req, body);
    {
      std::lock_guard lock(mu_);
      ++batches_;
      if (!wrong.empty()) Problem("$batch: " + wrong);
      if (wrong.empty()) largest_batch_ = std::max<int>(largest_batch_, body["requests"].size());
    }
    if (!wrong.empty()) return GraphError(res, 400, "BadRequest", "Invalid batch payload.");
    json responses = json::array();
    for (const auto& r : body["requests"]) responses.push_back(Part(req, r));
    if (reverse_batches) std::reverse(responses.begin(), responses.end());
    res.set_content(json{{"responses", responses}}.dump(), "application/json");
  }

  // One request of a $batch, answered by the handler of its route.
  json Part(const httplib::Request& batch, const json& r) {
    httplib::Request sub;
    sub.method = r["method"];
    // Decoded as the path of a request of its own is.
    sub.path = "/v1.0" + httplib::detail::decode_url(r["url"].get<std::string>(), false);
    sub.headers = batch.headers;
    if (r.contains("body")) sub.body = r["body"].dump();
    {
      std::lock_guard lock(mu_);
      requests_.push_back(sub.method + " " + sub.path);
    }
    const std::string user = std::string("/v1.0/users/") + kUpn;
    static const std::regex kValue(user + R"(/messages/([^/]+)/\$value)");
    static const std::regex kMove(user + R"(/messages/([^/]+)/move)");
    static const std::regex kMessage(user + R"(/messages/([^/]+))");
    httplib::Response res;
    res.status = 200;
    if (sub.method == "GET" && std::regex_match(sub.path, sub.matches, kValue)) {
      Value(sub, res);
    } else if (sub.method == "POST" && std::regex_match(sub.path, sub.matches, kMove)) {
      Move(sub, res);
    } else if (sub.method == "DELETE" && std::regex_match(sub.path, sub.matches, kMessage)) {
      Delete(sub, res);
    } else {
      std::lock_guard lock(mu_);
      Problem("$batch: no such request here: " + sub.method + " " + sub.path);
      GraphError(res, 400, "BadRequest", "Resource not found for the segment.");
    }
    json headers = json::object();
    const std::string type = res.get_header_value("Content-Type");
    if (!type.empty()) headers["Content-Type"] = type;
    if (res.has_header("Retry-After")) headers["Retry-After"] = res.get_header_value("Retry-After");
    json out = {{"id", r["id"]}, {"status", res.status}, {"headers", headers}};
    if (type.starts_with("application/json")) {
      out["body"] = json::parse(res.body, nullptr, false);
    } else if (!res.body.empty()) {
      out["body"] = Base64(res.body);
    }
    return out;
  }

  static void GraphError(httplib::Response& res, int status, const std::string& code,
                         const std::string& message) {
    res.status = status;
    res.set_content(json{{"error", {{"code", code}, {"message", message}}}}.dump(),
                    "application/json");
  }

  std::string CheckAssertion(const std::string& jwt, const std::string& audience) const {
    return CheckAssertionWith(jwt, app_cert_file, audience);
  }

  // POST /{tenant}/oauth2/v2.0/devicecode: client_id and scope (with offline_access).
  void DeviceCode(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    const std::map<std::string, std::string> got(req.params.begin(), req.params.end());
    if (got !=
        std::map<std::string, std::string>{{"client_id", kClientId}, {"scope", kDelegatedScope}}) {
      Problem("devicecode: unexpected form " + req.body);
    }
    res.set_content(json{{"user_code", "FD5TH7G9K"},
                         {"device_code", kDeviceCode},
                         {"verification_uri", "https://microsoft.com/devicelogin"},
                         {"expires_in", 900},
                         {"interval", 1},
                         {"message",
                          "To sign in, use a web browser to open the page "
                          "https://microsoft.com/devicelogin and enter the code FD5TH7G9K to "
                          "authenticate."}}
                        .dump(),
                    "application/json");
  }

  static void OAuthError(httplib::Response& res, const std::string& error,
                         const std::string& description) {
    res.status = 400;
    res.set_content(json{{"error", error}, {"error_description", description}}.dump(),
                    "application/json");
  }

  // The user's tokens: an access token valid for Graph, and a new refresh token (rotated).
  void DelegatedTokens(httplib::Response& res) {
    const std::string token = "eyJ0eXAi.graph-token-" + std::to_string(++tokens_issued_);
    valid_tokens_.insert("Bearer " + token);
    refresh_ = "0.AR8A-user-refresh-" + std::to_string(tokens_issued_);
    res.set_content(json{{"token_type", "Bearer"},
                         {"scope", kDelegatedScope},
                         {"expires_in", 3599},
                         {"access_token", token},
                         {"refresh_token", refresh_}}
                        .dump(),
                    "application/json");
  }

  void DeviceToken(const httplib::Request& req, httplib::Response& res) {
    const std::map<std::string, std::string> got(req.params.begin(), req.params.end());
    if (got != std::map<std::string, std::string>{
                   {"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                   {"client_id", kClientId},
                   {"device_code", kDeviceCode}}) {
      Problem("token (device code): unexpected form " + req.body);
    }
    const auto now = std::chrono::steady_clock::now();
    if (polls_ > 0 && now - last_poll_ < std::chrono::milliseconds(900)) {
      Problem("token (device code): polled faster than the interval of 1 s");
    }
    last_poll_ = now;
    if (polls_++ < pending_polls) {
      return OAuthError(res, "authorization_pending",
                        "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.");
    }
    if (!device_error.empty()) return OAuthError(res, device_error, "AADSTS70000: denied.");
    DelegatedTokens(res);
  }

  void RefreshToken(const httplib::Request& req, httplib::Response& res) {
    const std::map<std::string, std::string> got(req.params.begin(), req.params.end());
    if (got != std::map<std::string, std::string>{
                   {"grant_type", "refresh_token"},
                   {"client_id", kClientId},
                   {"refresh_token", got.count("refresh_token") ? got.at("refresh_token") : ""},
                   {"scope", kDelegatedScope}}) {
      Problem("token (refresh): unexpected form " + req.body);
    }
    if (req.get_param_value("refresh_token") != refresh_) {
      return OAuthError(res, "invalid_grant",
                        "AADSTS50173: The provided grant has expired due to it being revoked.");
    }
    DelegatedTokens(res);
  }

  void Token(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (req.get_header_value("Content-Type") != "application/x-www-form-urlencoded") {
      Problem("token: Content-Type " + req.get_header_value("Content-Type"));
    }
    if (req.get_param_value("grant_type") == "refresh_token") return RefreshToken(req, res);
    if (req.has_param("device_code")) return DeviceToken(req, res);
    const std::map<std::string, std::string> want = {
        {"grant_type", "client_credentials"},
        {"client_id", kClientId},
        {"client_secret", refuse_secret ? "never" : kSecret},
        {"scope", "https://graph.microsoft.com/.default"}};
    std::map<std::string, std::string> got(req.params.begin(), req.params.end());
    if (!app_cert_file.empty() && got.count("client_assertion")) {
      const std::string jwt = got["client_assertion"];
      if (got["client_assertion_type"] !=
          "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
        Problem("token: client_assertion_type " + got["client_assertion_type"]);
      }
      const std::string why = CheckAssertion(jwt, Base() + "/" + kTenant + "/oauth2/v2.0/token");
      if (!why.empty()) Problem("token: client_assertion: " + why);
      got.erase("client_assertion");
      got.erase("client_assertion_type");
      got["client_secret"] = why.empty() ? want.at("client_secret") : "refused";
    }
    if (got != want) {
      res.status = 401;
      res.set_content(R"({"error": "invalid_client", "error_description": "AADSTS7000215: )"
                      R"(Invalid client secret provided."})",
                      "application/json");
      return;
    }
    const std::string token = "eyJ0eXAi.graph-token-" + std::to_string(++tokens_issued_);
    valid_tokens_.insert("Bearer " + token);
    res.set_content(json{{"token_type", "Bearer"},
                         {"expires_in", 3599},
                         {"ext_expires_in", 3599},
                         {"access_token", token}}
                        .dump(),
                    "application/json");
  }

  // GET .../mailFolders or .../childFolders?$filter=displayName eq 'NAME'
  void Find(const httplib::Request& req, httplib::Response& res, const std::string& parent) {
    std::lock_guard lock(mu_);
    static const std::regex kFilter(R"(displayName eq '((?:[^']|'')*)')");
    std::smatch m;
    const std::string filter = req.get_param_value("$filter");
    if (req.params.size() != 1 || !std::regex_match(filter, m, kFilter)) {
      Problem("folders: query must be $filter=displayName eq '...', not " + req.target);
      return GraphError(res, 400, "BadRequest", "Invalid filter clause");
    }
    if (!parent.empty() && !folders_.count(parent)) {
      return GraphError(res, 404, "ErrorItemNotFound", "The specified object was not found.");
    }
    json value = json::array();
    for (const auto& [id, f] : folders_) {
      if (f.parent == parent && f.name == m[1].str()) {
        value.push_back({{"id", id}, {"displayName", f.name}, {"parentFolderId", parent}});
      }
    }
    res.set_content(json{{"value", value}}.dump(), "application/json");
  }

  void Create(const httplib::Request& req, httplib::Response& res, const std::string& parent) {
    std::lock_guard lock(mu_);
    const json body = json::parse(req.body, nullptr, false);
    if (req.get_header_value("Content-Type") != "application/json" || !body.is_object() ||
        body.size() != 1 || !body.contains("displayName") || !body["displayName"].is_string()) {
      Problem("create folder: not a JSON {\"displayName\": ...}: " + req.body);
      return GraphError(res, 400, "BadRequest", "Invalid request");
    }
    const std::string id = "folder-" + std::to_string(folders_.size()) + "-AAMk==";
    folders_[id] = {body["displayName"], parent};
    res.status = 201;
    res.set_content(json{{"id", id}, {"displayName", body["displayName"]}}.dump(),
                    "application/json");
  }

  // GET .../mailFolders/{id}/messages/delta. The first round ($select=..., no token) gives every
  // message of the folder; its pages' @odata.nextLink carry $skiptoken=OFFSET.BASE.SNAPSHOT, the
  // last page's @odata.deltaLink $deltatoken=SNAPSHOT. A round from a deltaLink gives the
  // messages that arrived after its snapshot, and a message "@removed".
  void Delta(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    const std::string folder = req.matches[1];
    const std::string prefer = req.get_header_value("Prefer");
    int size = page_size;
    if (!prefer.starts_with("odata.maxpagesize=")) {
      Problem("delta: no Prefer: odata.maxpagesize=N");
    } else {
      size = std::min(size, std::atoi(prefer.c_str() + 18));
    }
    int offset = 0, base = 0, snapshot = made_;
    if (req.has_param("$skiptoken")) {
      std::sscanf(req.get_param_value("$skiptoken").c_str(), "%d.%d.%d", &offset, &base, &snapshot);
    } else if (req.has_param("$deltatoken")) {
      base = std::atoi(req.get_param_value("$deltatoken").c_str());
      ++delta_rounds_;
    } else {
      ++full_rounds_;
      if (req.get_param_value("$select") != "id,internetMessageId,receivedDateTime") {
        Problem("delta: expected $select=id,internetMessageId,receivedDateTime: " + req.target);
      }
    }
    if (req.params.size() != 1) Problem("delta: one query parameter expected: " + req.target);
    std::map<int, std::string> arrived;  // seq → id
    for (const auto& [id, m] : messages_) {
      if (m.folder == folder && m.seq > base && m.seq <= snapshot) arrived[m.seq] = id;
    }
    json value = json::array();
    if (base > 0 && offset == 0) {
      value.push_back({{"id", "AAMkAGI2-gone="}, {"@removed", {{"reason", "deleted"}}}});
    }
    int i = 0;
    for (const auto& [seq, id] : arrived) {
      if (i >= offset && i < offset + size) {
        value.push_back({{"@odata.type", "#microsoft.graph.message"},
                         {"id", id},
                         {"internetMessageId", "<" + id + "@example.com>"},
                         {"receivedDateTime", "2026-03-02T10:00:00Z"}});
      }
      ++i;
    }
    json page = {
        {"@odata.context", "https://graph.microsoft.com/v1.0/$metadata#Collection(message)"},
        {"value", value}};
    const std::string link = Base() + req.path;
    if (offset + size < static_cast<int>(arrived.size())) {
      page["@odata.nextLink"] =
          (foreign_next_link ? "https://graph.example.net" + req.path : link) +
          "?%24skiptoken=" + std::to_string(offset + size) + "." + std::to_string(base) + "." +
          std::to_string(snapshot);
    } else {
      page["@odata.deltaLink"] = link + "?%24deltatoken=" + std::to_string(snapshot);
    }
    res.set_content(page.dump(), "application/json");
  }

  void Value(const httplib::Request& req, httplib::Response& res) {
    // How many fetches are in flight at once: each takes value_delay_ms before it answers.
    const int now = ++in_flight_;
    for (int seen = most_in_flight;
         now > seen && !most_in_flight.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(value_delay_ms.load()));
    --in_flight_;
    std::lock_guard lock(mu_);
    if (!req.params.empty()) Problem("$value takes no query: " + req.target);
    if (req.matches[1] == "AAMkAGI2-gone=") Problem("$value of a message listed as @removed");
    if (throttle_first_values > 0) {
      --throttle_first_values;
      res.set_header("Retry-After", std::to_string(retry_after.load()));
      return GraphError(res, 429, "ApplicationThrottled",
                        "Application is over its MailboxConcurrency limit.");
    }
    if (fail_value_number > 0 && ++values_ == fail_value_number) {
      return GraphError(res, 500, "ErrorInternalServerError", "An internal server error.");
    }
    const auto it = messages_.find(req.matches[1]);
    if (it == messages_.end()) {
      return GraphError(res, 404, "ErrorItemNotFound", "The specified object was not found.");
    }
    res.set_content(it->second.mime, "text/plain");
  }

  void Move(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    const json body = json::parse(req.body, nullptr, false);
    if (req.get_header_value("Content-Type") != "application/json" || !body.is_object() ||
        body.size() != 1 || !body.contains("destinationId") ||
        !folders_.count(body["destinationId"].get<std::string>())) {
      Problem("move: not {\"destinationId\": an existing folder}: " + req.body);
      return GraphError(res, 400, "ErrorInvalidIdMalformed", "Id is malformed.");
    }
    const auto it = messages_.find(req.matches[1]);
    if (it == messages_.end()) {
      return GraphError(res, 404, "ErrorItemNotFound", "The specified object was not found.");
    }
    // A moved message gets a new id.
    Message m = it->second;
    messages_.erase(it);
    m.folder = body["destinationId"];
    m.seq = ++made_;
    const std::string id = "AAMkAGI2-moved_" + std::to_string(made_) + "=";
    messages_[id] = m;
    res.status = 201;
    res.set_content(json{{"id", id}, {"parentFolderId", m.folder}}.dump(), "application/json");
  }

  void Delete(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    if (!req.body.empty()) Problem("DELETE with a body");
    if (messages_.erase(req.matches[1]) == 0) {
      return GraphError(res, 404, "ErrorItemNotFound", "The specified object was not found.");
    }
    res.status = 204;
  }

  std::mutex mu_;
  std::map<std::string, Folder> folders_;
  std::map<std::string, Message> messages_;
  std::set<std::string> valid_tokens_;
  std::vector<std::string> problems_, requests_;
  int made_ = 0, tokens_issued_ = 0, values_ = 0, full_rounds_ = 0, delta_rounds_ = 0;
  int batches_ = 0, largest_batch_ = 0, http_requests_ = 0;
  int polls_ = 0;
  std::chrono::steady_clock::time_point last_poll_;
  std::string refresh_;
  std::atomic<int> in_flight_{0};
  LoopbackHttpsServer https_;  // destroyed first: its thread ends before the rest
  httplib::Server* server_ = nullptr;
};

}  // namespace dmarc::testing::graph
