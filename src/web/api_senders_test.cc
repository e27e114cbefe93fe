// GET /api/senders and POST /api/senders/status over real sockets: the generated scenario's
// inventory (store/senders_scenario.h), paging, search and the status filter; a state change
// refused without sign-in, from another origin or without the dashboard's header, and recorded
// with who made it when allowed.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "store/advisor_scenario.h"
#include "store/senders_scenario.h"
#include "store/store.h"
#include "web/auth.h"
#include "web/server.h"

namespace dmarc::web {
namespace {

namespace fs = std::filesystem;
namespace sc = store::senders_scenario;

constexpr const char* kToken = "5d1e8a3fb7c04e29a6f1d83c0b5e7a94";

class SendersApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dmarc-senders-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = "sqlite:" + (dir_ / "t.db").string();
    auto st = store::OpenStore(db_, {});
    ASSERT_TRUE(st.ok()) << st.error();
    const auto reports = sc::Reports();
    store::Batch batch;
    for (const auto& r : reports) batch.aggregates.push_back({"test", &r});
    ASSERT_TRUE((*st)->Store(batch).ok());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    if (thread_.joinable()) thread_.join();
    fs::remove_all(dir_);
  }
  void Start(bool with_token, ServeOptions o = {}) {
    o.db = db_;
    o.listen = "127.0.0.1:0";
    if (with_token) {
      o.token_file = (dir_ / "token").string();
      std::ofstream(o.token_file) << kToken << "\n";
    }
    auto s = StartServer(o);
    ASSERT_TRUE(s.ok()) << s.error();
    server_ = std::move(s).value();
    thread_ = std::thread([this] { server_->Run(); });
    for (int i = 0; i < 200; ++i) {
      httplib::Client c("127.0.0.1", server_->port());
      if (c.Get("/favicon.svg")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  httplib::Client Client() { return httplib::Client("127.0.0.1", server_->port()); }
  static httplib::Headers Bearer() { return {{"Authorization", std::string("Bearer ") + kToken}}; }
  nlohmann::json Senders(const std::string& query) {
    auto c = Client();
    auto r = c.Get("/api/senders?" + query, Bearer());
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    return nlohmann::json::parse(r->body);
  }
  httplib::Result Post(const httplib::Headers& headers, const std::string& body) {
    auto c = Client();
    return c.Post("/api/senders/status", headers, body, "application/json");
  }

  fs::path dir_;
  std::string db_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(SendersApiTest, ListsTheScenarioInventoryPagedSearchedAndFiltered) {
  Start(true);
  auto c = Client();
  EXPECT_EQ(c.Get("/api/senders?domain=example.com")->status, 401);
  EXPECT_EQ(c.Get("/api/senders", Bearer())->status, 400);  // no domain
  EXPECT_EQ(c.Get("/api/senders?domain=example.com&status=trusted", Bearer())->status, 400);
  nlohmann::json all = Senders("domain=example.com");
  ASSERT_EQ(all["total"], 4);
  ASSERT_EQ(all["senders"].size(), 4u);
  const auto& mc = all["senders"][0];
  EXPECT_EQ(mc["sender"], "Mailchimp");
  EXPECT_EQ(mc["messages"], 150);
  EXPECT_EQ(mc["dkim_aligned_rate"], 1.0);
  EXPECT_EQ(mc["suggested_status"], "approved");
  EXPECT_EQ(mc["status"], "unknown");
  EXPECT_EQ(mc["ip_count"], 2);
  EXPECT_EQ(all["senders"][1]["sender"], "SendGrid");
  EXPECT_EQ(all["senders"][1]["suggested_status"], "unknown");
  EXPECT_EQ(all["senders"][2]["sender"], "AS64500");
  EXPECT_EQ(all["senders"][3]["sender"], "smallhost.example");
  nlohmann::json page = Senders("domain=example.com&offset=1&limit=2");
  EXPECT_EQ(page["total"], 4);
  ASSERT_EQ(page["senders"].size(), 2u);
  EXPECT_EQ(page["senders"][0]["sender"], "SendGrid");
  nlohmann::json found = Senders("domain=example.com&q=SENDGRID");
  ASSERT_EQ(found["total"], 1);
  EXPECT_EQ(found["senders"][0]["sender"], "SendGrid");
  EXPECT_EQ(Senders("domain=example.com&status=approved")["total"], 0);
}

TEST_F(SendersApiTest, StatusChangesNeedSignInTheDashboardHeaderAndOurOrigin) {
  Start(true);
  const std::string body = R"({"domain":"example.com","sender":"Mailchimp","status":"approved"})";
  httplib::Headers own = {{"X-Requested-With", "dmarc-report"}};
  EXPECT_EQ(Post(own, body)->status, 401);  // not signed in
  httplib::Headers no_header = Bearer();
  EXPECT_EQ(Post(no_header, body)->status, 403);  // a form of another site cannot set it
  httplib::Headers foreign = Bearer();
  foreign.emplace("X-Requested-With", "dmarc-report");
  foreign.emplace("Origin", "http://evil.example");
  EXPECT_EQ(Post(foreign, body)->status, 403);
  EXPECT_EQ(Senders("domain=example.com&status=approved")["total"], 0);  // nothing changed

  httplib::Headers ok = Bearer();
  ok.emplace("X-Requested-With", "dmarc-report");
  EXPECT_EQ(Post(ok, R"({"domain":"example.com","sender":"Mailchimp","status":"trusted"})")->status,
            400);
  EXPECT_EQ(Post(ok, "not json")->status, 400);
  auto set = Post(ok, body);
  ASSERT_EQ(set->status, 200) << set->body;
  nlohmann::json approved = Senders("domain=example.com&status=approved");
  ASSERT_EQ(approved["total"], 1);
  EXPECT_EQ(approved["senders"][0]["sender"], "Mailchimp");
  EXPECT_EQ(approved["senders"][0]["status_changed_by"], "token");
  EXPECT_GT(approved["senders"][0]["status_changed_at"].get<std::int64_t>(), sc::kNow - 86400);
  ASSERT_EQ(Post(ok, R"({"domain":"example.com","sender":"Mailchimp","status":"unknown"})")->status,
            200);
  EXPECT_EQ(Senders("domain=example.com&status=approved")["total"], 0);
}

TEST_F(SendersApiTest, WithoutSignInConfiguredNobodyChangesAStatus) {
  Start(false);
  auto c = Client();
  EXPECT_EQ(c.Get("/api/senders?domain=example.com")->status, 200);  // reading is open on loopback
  auto r = c.Post("/api/senders/status", {{"X-Requested-With", "dmarc-report"}},
                  R"({"domain":"example.com","sender":"Mailchimp","status":"approved"})",
                  "application/json");
  EXPECT_EQ(r->status, 403);
}

// A users file of alice and bob (passwords "<name>-pw-1234"), each line from HashPassword.
std::string UsersFile(const fs::path& dir, const std::vector<std::string>& names) {
  const std::string path = (dir / "users").string();
  std::ofstream out(path);
  for (const auto& n : names) {
    auto hash = HashPassword(n + "-pw-1234");
    EXPECT_TRUE(hash.ok()) << hash.error();
    out << n << ":" << (hash.ok() ? *hash : "") << "\n";
  }
  return path;
}

// Roles: with [web] editors, only the editors (and the token) change statuses; the others read.
// GET /api/session tells the page who is signed in and whether they may edit.
TEST_F(SendersApiTest, OnlyEditorsAndTheTokenChangeStatusesWhenEditorsAreNamed) {
  ServeOptions o;
  o.users_file = UsersFile(dir_, {"alice", "bob"});
  o.editors = {"alice"};
  Start(true, o);
  auto c = Client();
  // Signs in; returns the session cookie ("name=value").
  auto sign_in = [&](const std::string& user) {
    nlohmann::json body = {{"user", user}, {"password", user + "-pw-1234"}};
    auto r = c.Post("/api/login", {{"X-Requested-With", "dmarc-report"}}, body.dump(),
                    "application/json");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    const std::string cookie = r ? r->get_header_value("Set-Cookie") : "";
    return cookie.substr(0, cookie.find(';'));
  };
  auto post_as = [&](const std::string& cookie, const std::string& status) {
    httplib::Headers h = {{"Cookie", cookie}, {"X-Requested-With", "dmarc-report"}};
    return Post(h, R"({"domain":"example.com","sender":"SendGrid","status":")" + status + R"("})");
  };
  auto session_of = [&](const httplib::Headers& h) {
    auto r = c.Get("/api/session", h);
    return r ? nlohmann::json::parse(r->body) : nlohmann::json();
  };
  const std::string bob = sign_in("bob");
  const std::string alice = sign_in("alice");
  ASSERT_FALSE(bob.empty());
  nlohmann::json s = session_of({{"Cookie", bob}});
  EXPECT_EQ(s["user"], "bob");
  EXPECT_EQ(s["can_edit"], false);
  auto refused = post_as(bob, "approved");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_NE(refused->body.find("bob may not change statuses"), std::string::npos) << refused->body;
  EXPECT_EQ(Senders("domain=example.com&status=approved")["total"], 0);
  s = session_of({{"Cookie", alice}});
  EXPECT_EQ(s["user"], "alice");
  EXPECT_EQ(s["can_edit"], true);
  auto allowed = post_as(alice, "approved");
  ASSERT_TRUE(allowed);
  EXPECT_EQ(allowed->status, 200) << allowed->body;
  nlohmann::json approved = Senders("domain=example.com&status=approved");
  ASSERT_EQ(approved["total"], 1);
  EXPECT_EQ(approved["senders"][0]["status_changed_by"], "alice");
  s = session_of(Bearer());
  EXPECT_EQ(s["user"], "token");
  EXPECT_EQ(s["can_edit"], true);
  httplib::Headers token = Bearer();
  token.emplace("X-Requested-With", "dmarc-report");
  EXPECT_EQ(
      Post(token, R"({"domain":"example.com","sender":"SendGrid","status":"forwarder"})")->status,
      200);
  EXPECT_EQ(Senders("domain=example.com&status=forwarder")["total"], 1);
  s = session_of({});
  EXPECT_EQ(s["user"], nullptr);
  EXPECT_EQ(s["can_edit"], false);
}

// An editor who is not a user, or a user named like the token's signer, is refused at start.
TEST_F(SendersApiTest, EditorsMustBeUsersAndNoUserMayBeCalledToken) {
  ServeOptions o;
  o.db = db_;
  o.listen = "127.0.0.1:0";
  o.users_file = UsersFile(dir_, {"alice"});
  o.editors = {"carol"};
  auto s = StartServer(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("--editor carol: no such user"), std::string::npos) << s.error();
  o.users_file = UsersFile(dir_, {"alice", "token"});
  o.editors = {};
  s = StartServer(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("\"token\" is reserved"), std::string::npos) << s.error();
}

// GET /api/advise on the advisor scenario (store/advisor_scenario.h, dated to the clock's now):
// the advice `advise --json` prints, read under the same sign-in; bad parameters refused.
// A store of the advisor scenario (dated to the clock's now) with these sender statuses.
void StoreAdvisorScenario(const std::string& db,
                          const std::vector<std::pair<std::string, std::string>>& statuses) {
  namespace ad = store::advisor_scenario;
  auto st = store::OpenStore(db, {});
  ASSERT_TRUE(st.ok()) << st.error();
  const auto reports = ad::Reports(static_cast<std::int64_t>(std::time(nullptr)));
  store::Batch batch;
  for (const auto& r : reports) batch.aggregates.push_back({"test", &r});
  ASSERT_TRUE((*st)->Store(batch).ok());
  for (const auto& [sender, status] : statuses) {
    ASSERT_TRUE((*st)->SetSenderStatus({ad::kDomain, sender, status, "test", 1}).ok());
  }
}

TEST_F(SendersApiTest, AdvisesOnTheAdvisorScenario) {
  namespace ad = store::advisor_scenario;
  db_ = "sqlite:" + (dir_ / "advise.db").string();
  StoreAdvisorScenario(db_, {{"Mailchimp", "approved"},
                             {"outbound.example", "approved"},
                             {"badguy.example", "unapproved"},
                             {"forwarder.example", "forwarder"}});
  Start(true);
  auto c = Client();
  EXPECT_EQ(c.Get("/api/advise?domain=example.com")->status, 401);
  EXPECT_EQ(c.Get("/api/advise", Bearer())->status, 400);  // no domain
  EXPECT_EQ(c.Get("/api/advise?domain=example.com&days=0", Bearer())->status, 400);
  EXPECT_EQ(c.Get("/api/advise?domain=example.com&days=367", Bearer())->status, 400);
  EXPECT_EQ(c.Get("/api/advise?domain=example.com&days=x", Bearer())->status, 400);
  EXPECT_EQ(c.Get("/api/advise?domain=example.com&until=yesterday", Bearer())->status, 400);
  auto r = c.Get("/api/advise?domain=example.com", Bearer());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const nlohmann::json j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["days"], 30);
  EXPECT_EQ(j["recommendation"]["rule"], "fix_first");
  EXPECT_EQ(j["simulation"]["approved_blocked"], ad::kMcUnaligned);
  EXPECT_EQ(j["simulation"]["forwarded_hit"], ad::kOwnForwarded + ad::kList + ad::kForwarder +
                                                  ad::kGroups + ad::kListServer + ad::kSurvived);
  EXPECT_EQ(j["simulation"]["spoofing_blocked"], ad::kSpoof + ad::kBad + ad::kResidential);
  // Why each forwarded sender's mail counts as forwarded (most messages first).
  const auto& fwd = j["simulation"]["forwarded"];
  ASSERT_EQ(fwd.size(), 6u);
  EXPECT_EQ(fwd[1]["sender"], "google.com");
  ASSERT_EQ(fwd[1]["reasons"].size(), 1u);
  EXPECT_EQ(fwd[1]["reasons"][0]["reason"], "known_forwarder");
  EXPECT_EQ(fwd[1]["reasons"][0]["detail"], "Google Groups (mailing_list)");
  EXPECT_EQ(fwd[1]["reasons"][0]["text"], "a known forwarder: Google Groups (mailing_list)");
  EXPECT_EQ(fwd[1]["reasons"][0]["messages"], ad::kGroups);
  EXPECT_EQ(fwd[2]["reasons"][0]["reason"], "dkim_survived");
  EXPECT_FALSE(j["simulation"]["unapproved"][0].contains("reasons"));
  ASSERT_EQ(j["fixes"].size(), 1u);
  EXPECT_EQ(j["fixes"][0]["cause"], ad::kMcCause);
  // The proposed record: by default the next step; else the one asked for (t=y: one step less).
  EXPECT_EQ(j["simulation"]["proposed"]["record"], "p=quarantine; sp=none");
  EXPECT_EQ(j["simulation"]["effect"]["approved"]["quarantined"], ad::kMcUnaligned);
  auto sim = c.Get("/api/advise?domain=example.com&simulate=v%3DDMARC1%3B%20p%3Dreject%3B%20t%3Dy",
                   Bearer());
  ASSERT_EQ(sim->status, 200) << sim->body;
  const nlohmann::json k = nlohmann::json::parse(sim->body);
  EXPECT_EQ(k["simulation"]["proposed"]["record"], "p=reject; t=y");
  EXPECT_EQ(k["simulation"]["proposed"]["t"], "y");
  EXPECT_EQ(k["simulation"]["effect"]["approved"]["quarantined"], ad::kMcUnaligned);
  EXPECT_EQ(k["simulation"]["effect"]["spoofing"]["rejected"], 0);
  EXPECT_EQ(k["simulation"]["approved_blocked"], ad::kMcUnaligned);  // the same messages fail
  auto bad = c.Get("/api/advise?domain=example.com&simulate=p%3Ddrop", Bearer());
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad->body)["error"],
            "simulate: p: none, quarantine or reject, not \"drop\"");
  auto four = c.Get("/api/advise?domain=example.com&days=4", Bearer());
  ASSERT_EQ(four->status, 200) << four->body;
  const nlohmann::json s = nlohmann::json::parse(four->body);
  EXPECT_EQ(s["days"], 4);
  EXPECT_EQ(s["readiness"]["approved_messages"], ad::kOwn + ad::kOwnForwarded);
  EXPECT_EQ(s["recommendation"]["rule"], "move_to_quarantine");
  auto none = c.Get("/api/advise?domain=example.com&until=2000-01-01", Bearer());
  ASSERT_EQ(none->status, 200) << none->body;
  EXPECT_EQ(nlohmann::json::parse(none->body)["recommendation"]["rule"], "no_data");
}

// serve --forwarders-file: the advice counts the user's known forwarders; an unreadable file
// stops the server at start.
TEST_F(SendersApiTest, AdvisesWithTheUsersForwarders) {
  namespace ad = store::advisor_scenario;
  db_ = "sqlite:" + (dir_ / "forwarders.db").string();
  StoreAdvisorScenario(db_, {});
  ServeOptions o;
  o.forwarders_files = {(dir_ / "forwarders.tsv").string()};
  std::ofstream(o.forwarders_files[0]) << "forwarder.example\tOur alumni forwarder\tforwarder\n";
  Start(true, o);
  auto r = Client().Get("/api/advise?domain=example.com", Bearer());
  ASSERT_EQ(r->status, 200) << r->body;
  const nlohmann::json fwd = nlohmann::json::parse(r->body)["simulation"]["forwarded"];
  ASSERT_FALSE(fwd.empty());
  EXPECT_EQ(fwd[0]["sender"], "forwarder.example");
  EXPECT_EQ(fwd[0]["messages"], ad::kForwarder);
  EXPECT_EQ(fwd[0]["reasons"][0]["detail"], "Our alumni forwarder (forwarder)");
  o.db = db_;
  o.listen = "127.0.0.1:0";
  o.forwarders_files = {(dir_ / "none.tsv").string()};
  auto s = StartServer(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("none.tsv"), std::string::npos) << s.error();
}

}  // namespace
}  // namespace dmarc::web
