// `fetch` from a [graph] source (issue #19) against the fake Microsoft Graph of
// testing/fake_graph.h, which checks every request against Microsoft's documented API.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "testing/fake_api_fetch.h"
#include "testing/fake_graph.h"
#include "testing/process.h"
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using dmarc::testing::ReadFile;
using nlohmann::json;

using dmarc::testing::graph::FakeGraph;
using dmarc::testing::graph::kClientId;
using dmarc::testing::graph::kSecret;
using dmarc::testing::graph::kTenant;
using dmarc::testing::graph::kUpn;

std::string ReportMail(int i) { return dmarc::testing::SampleReportMail(i); }

class GraphFetch : public dmarc::testing::FakeApiFetch<FakeGraph> {
 protected:
  GraphFetch() : FakeApiFetch("dmarc-graph") {}
  void SetUp() override {
    FakeApiFetch::SetUp();
    graph_ = server_.get();
    ASSERT_TRUE(graph_->made()) << "openssl req: no certificate";
    const fs::path secret = dir_ / "client-secret";
    std::ofstream(secret) << kSecret << "\n";
    fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);
    secret_file_ = secret.string();
  }

  std::string Config(const std::string& extra, const std::string& folder = "Inbox/DMARC") {
    const fs::path p = dir_ / "fetch.toml";
    std::ofstream(p) << "[store]\nurl = \"sqlite:" << (dir_ / "store.db").string()
                     << "\"\n[enrich]\noffline = true\n[graph]\ntenant_id = \"" << kTenant
                     << "\"\nclient_id = \"" << kClientId << "\"\nclient_secret_file = \""
                     << secret_file_ << "\"\nmailbox = \"" << kUpn << "\"\nfolder = \"" << folder
                     << "\"\ngraph_url = \"" << graph_->Base() << "/v1.0\"\nlogin_url = \""
                     << graph_->Base() << "/\"\nca_file = \"" << graph_->Cert() << "\"\n"
                     << extra;
    return p.string();
  }

  std::string secret_file_;
  FakeGraph* graph_ = nullptr;
};

TEST_F(GraphFetch, PagesThroughTheFolderWaitsOutThrottlingAndArchivesEveryReport) {
  for (int i = 0; i < 5; ++i) graph_->Deliver(ReportMail(i));
  // A request of its own for each message: the 4 in flight are seen on the server.
  FetchWaitingOutARetryAfter(Config("batch_size = 2\nbatch_requests = 1\n"));
  if (HasFatalFailure()) return;
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 0) << Log();
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 5) << Log();
  EXPECT_NE(Log().find("5 aggregate"), std::string::npos) << Log();
  // One delta round of three pages of two; five MIME fetches and the throttled one; Archive and
  // Archive/Aggregate created once each; one token for the whole run.
  EXPECT_EQ(graph_->Count("GET", "/messages/delta"), 3);
  EXPECT_EQ(graph_->Count("GET", "/$value"), 6);
  EXPECT_EQ(graph_->Count("POST", "/move"), 5);
  EXPECT_EQ(graph_->Count("POST", "/mailFolders"), 1);
  EXPECT_EQ(graph_->Count("POST", "/childFolders"), 1);
  EXPECT_EQ(graph_->TokenRequests(), 1);
  EXPECT_EQ(graph_->Batches(), 0);
  // Several fetches at once, never more than Exchange Online's 4 per app and mailbox.
  EXPECT_GE(graph_->most_in_flight, 2);
  EXPECT_LE(graph_->most_in_flight, 4);
  EXPECT_EQ(Log().find(kSecret), std::string::npos) << "the secret is never logged";
  EXPECT_EQ(Log().find("graph-token-"), std::string::npos) << "the token is never logged";

  // Read again: the reports are known, and nothing is left to fetch.
  graph_->Deliver(ReportMail(0));
  ASSERT_EQ(Fetch(Config("")), 0) << Log();
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 6) << Log();
}

// `export` of the aggregate reports in the store at `db`.
std::string Exported(const std::string& db, const fs::path& dir) {
  const fs::path out = dir / "export.json";
  fs::remove(out);  // RunToEnd appends
  EXPECT_EQ(dmarc::testing::RunToEnd({"export", "--db", db}, out), 0) << ReadFile(out.string());
  return ReadFile(out.string());
}

TEST_F(GraphFetch, BatchedFetchStoresWhatUnbatchedFetchDoesAndBatchesTheMoves) {
  for (int i = 0; i < 45; ++i) graph_->Deliver(ReportMail(i));
  graph_->throttle_first_values = 0;
  graph_->value_delay_ms = 0;
  // Read with after = keep into a store of its own, one request per message.
  std::string one_by_one = ReadFile(Config("after = \"keep\"\nbatch_requests = 1\n"));
  const std::string store = (dir_ / "store.db").string(), single = (dir_ / "single.db").string();
  one_by_one.replace(one_by_one.find(store), store.size(), single);
  std::ofstream(dir_ / "single.toml") << one_by_one;
  ASSERT_EQ(Fetch((dir_ / "single.toml").string()), 0) << Log();
  EXPECT_EQ(graph_->Count("GET", "/$value"), 45);
  EXPECT_EQ(graph_->Batches(), 0);

  // Then in batches of 20 (the default), answered last to first, and archived in batches.
  ASSERT_EQ(Fetch(Config("")), 0) << Log();
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 45) << Log();
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 0) << Log();
  EXPECT_EQ(graph_->Count("GET", "/$value"), 90);
  EXPECT_EQ(graph_->Count("POST", "/move"), 45);
  EXPECT_EQ(graph_->LargestBatch(), 20);
  // 45 fetches in 3 batches (20, 20, 5; the store's batch_size is 50) and 45 moves in 3.
  EXPECT_EQ(graph_->Count("POST", "/$batch"), 6);
  const std::string batched = Exported(store, dir_), unbatched = Exported(single, dir_);
  EXPECT_GT(batched.size(), 1000u) << batched;
  EXPECT_EQ(batched, unbatched);
}

TEST_F(GraphFetch, AThrottledRequestInsideABatchIsSentAgainAlone) {
  for (int i = 0; i < 3; ++i) graph_->Deliver(ReportMail(i));
  graph_->throttle_first_values = 1;  // the first $value of the batch answers 429 Retry-After: 1
  FetchWaitingOutARetryAfter(Config("after = \"delete\"\n"));
  if (HasFatalFailure()) return;
  EXPECT_EQ(graph_->Total(), 0u) << Log();
  EXPECT_EQ(graph_->Count("GET", "/$value"), 4) << "three, and the throttled one again";
  // The batch of three, the throttled one alone, the three deletions.
  EXPECT_EQ(graph_->Count("POST", "/$batch"), 3);
  EXPECT_EQ(graph_->Count("DELETE", "="), 3);
}

TEST_F(GraphFetch, ThrottlingInsideABatchThatDoesNotEndFailsNamingTheMessage) {
  for (int i = 0; i < 3; ++i) graph_->Deliver(ReportMail(i));
  graph_->throttle_first_values = 1000;
  graph_->retry_after = 0;
  EXPECT_NE(Fetch(Config("")), 0) << Log();
  EXPECT_NE(Log().find("fetching a message failed: GET " + graph_->Base() + "/v1.0/users/" + kUpn +
                       "/messages/AAMkAGI2-msg_"),
            std::string::npos)
      << Log();
  EXPECT_NE(Log().find("answered 429: ApplicationThrottled"), std::string::npos) << Log();
  EXPECT_EQ(graph_->Count("POST", "/$batch"), 6) << "the first try and 5 retries";
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 3);
  EXPECT_EQ(graph_->Count("POST", "/move"), 0);
}

TEST_F(GraphFetch, AMailOverTheSizeLimitInABatchIsRefusedClearly) {
  graph_->throttle_first_values = 0;
  graph_->Deliver(ReportMail(0));
  graph_->Deliver("Subject: big\r\n\r\n" + std::string(150'000, 'x') + "\r\n");
  graph_->Deliver(ReportMail(1));
  ASSERT_EQ(Fetch(Config(""), {"--max-input-bytes", "100000"}), 0) << Log();
  EXPECT_EQ(graph_->Count("POST", "/$batch"), 2) << "one fetch, one archiving";
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 2) << Log();
  EXPECT_EQ(graph_->Count("Archive/Invalid"), 1) << Log();
  EXPECT_NE(Log().find("graph://" + std::string(kUpn) + "/Inbox/DMARC;id=AAMkAGI2-msg_2="),
            std::string::npos)
      << Log();
  EXPECT_NE(Log().find("larger than the limit of 100000 bytes"), std::string::npos) << Log();
}

TEST_F(GraphFetch, ABatchAnswerOverItsBoundIsGivenUpForOneRequestPerMail) {
  graph_->throttle_first_values = 0;
  graph_->value_delay_ms = 0;
  graph_->Deliver(ReportMail(0));
  // 13 MB of MIME is over 16 MiB in base64: the batch's answer is over its bound.
  std::string big = "Subject: big\r\n\r\n";
  big.append(13'000'000, 'x');
  graph_->Deliver(big + "\r\n");
  graph_->Deliver(big + "\r\n");
  graph_->Deliver(ReportMail(1));
  ASSERT_EQ(Fetch(Config(""), {"--max-input-bytes", "20000000"}), 0) << Log();
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 2) << Log();
  EXPECT_EQ(graph_->Count("Archive/Invalid"), 2) << Log();
  // The batch of four; then each alone until two big ones (over 16 MiB) are held; the last one
  // later, alone; the archiving in one batch.
  EXPECT_EQ(graph_->Count("GET", "/$value"), 8);
  EXPECT_EQ(graph_->Count("POST", "/$batch"), 2);
}

TEST_F(GraphFetch, DeleteRemovesReportsAndArchivesWhatHoldsNone) {
  graph_->Deliver(ReportMail(1));
  graph_->Deliver(ReportMail(2));
  graph_->Deliver("From: a@example.com\r\nSubject: hello\r\n\r\nnot a report\r\n");
  graph_->throttle_first_values = 0;
  ASSERT_EQ(Fetch(Config("after = \"delete\"\n")), 0) << Log();
  EXPECT_EQ(graph_->Count("DELETE", "="), 2) << Log();
  EXPECT_EQ(graph_->Count("Archive/Invalid"), 1) << Log();
  EXPECT_EQ(graph_->Total(), 1u) << Log();
}

TEST_F(GraphFetch, MoveToExpandsTheDateTemplate) {
  graph_->Deliver(ReportMail(0));
  graph_->throttle_first_values = 0;
  ASSERT_EQ(Fetch(Config("after = \"move\"\nmove_to = \"Done/[YEAR]\"\n")), 0) << Log();
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  EXPECT_EQ(graph_->Count("Done/" + std::to_string(1900 + utc.tm_year)), 1) << Log();
}

TEST_F(GraphFetch, AFailureBeforeTheCommitLeavesEveryMailInPlace) {
  for (int i = 0; i < 4; ++i) graph_->Deliver(ReportMail(i));
  graph_->throttle_first_values = 0;
  graph_->fail_value_number = 3;
  EXPECT_NE(Fetch(Config("")), 0) << Log();
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 4) << Log();
  EXPECT_EQ(graph_->Count("POST", "/move"), 0);
  EXPECT_EQ(graph_->Count("DELETE", "="), 0);
  EXPECT_NE(Log().find(std::string("graph://") + kUpn + "/Inbox/DMARC: fetching a message failed"),
            std::string::npos)
      << Log();
  EXPECT_NE(Log().find("answered 500: ErrorInternalServerError: An internal server error."),
            std::string::npos)
      << Log();

  // The next run takes them all.
  graph_->fail_value_number = 0;
  ASSERT_EQ(Fetch(Config("")), 0) << Log();
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 4) << Log();
}

TEST_F(GraphFetch, ARefusedSecretIsNamedAndNoMailboxIsAsked) {
  graph_->Deliver(ReportMail(0));
  graph_->refuse_secret = true;
  EXPECT_NE(Fetch(Config("")), 0) << Log();
  EXPECT_NE(Log().find("graph.login_url: POST " + graph_->Base() + "/" + kTenant +
                       "/oauth2/v2.0/token answered 401: invalid_client: AADSTS7000215: "
                       "Invalid client secret provided. (check graph.tenant_id, "
                       "graph.client_id and graph.client_secret)"),
            std::string::npos)
      << Log();
  EXPECT_EQ(Log().find(kSecret), std::string::npos);
  EXPECT_TRUE(graph_->Requests().empty());
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 1);
}

TEST_F(GraphFetch, WatchAsksTheDeltaLinkForNewMailInsteadOfListingAgain) {
  graph_->throttle_first_values = 0;
  graph_->Deliver(ReportMail(0));
  graph_->Deliver(ReportMail(1));
  log_ = dir_ / "fetch.log";
  const pid_t pid = dmarc::testing::Spawn(
      {"fetch", "--watch", "--config", Config("\n[fetch]\nwatch_interval = 1\n")}, log_);
  const auto wait_for = [this](int archived) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (graph_->Count("Archive/Aggregate") < archived &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return graph_->Count("Archive/Aggregate");
  };
  EXPECT_EQ(wait_for(2), 2) << Log();
  graph_->Deliver(ReportMail(2));
  EXPECT_EQ(wait_for(3), 3) << Log();
  ::kill(pid, SIGTERM);
  EXPECT_EQ(dmarc::testing::Wait(pid), 0) << Log();
  EXPECT_EQ(graph_->FullRounds(), 1) << "the folder is listed whole once";
  EXPECT_GE(graph_->DeltaRounds(), 1);
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 0);
}

TEST_F(GraphFetch, ACertificateSignsTheClientAssertionInsteadOfASecret) {
  const std::string cert = (dir_ / "app-cert.pem").string(), key = (dir_ / "app-key.pem").string();
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=dmarc-app"
      " -keyout '" +
      key + "' -out '" + cert + "' 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;  // NOLINT(cert-env33-c): fixed command
  graph_->app_cert_file = cert;
  graph_->throttle_first_values = 0;
  graph_->Deliver(ReportMail(0));
  std::string config =
      Config("certificate_file = \"" + cert + "\"\ncertificate_key_file = \"" + key + "\"\n");
  std::string text = ReadFile(config);
  text.erase(text.find("client_secret_file"), text.find('\n', text.find("client_secret_file")) -
                                                  text.find("client_secret_file") + 1);
  std::ofstream(config) << text;
  ASSERT_EQ(Fetch(config), 0) << Log();
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 1) << Log();
  EXPECT_EQ(graph_->TokenRequests(), 1);

  // A key that is not the certificate's is named before anything is sent.
  const std::string other = (dir_ / "other-key.pem").string();
  ASSERT_EQ(std::system(("openssl genrsa -out '" + other + "' 2048 2>/dev/null").c_str()), 0);
  text.replace(text.find(key), key.size(), other);
  std::ofstream(config) << text;
  graph_->Deliver(ReportMail(1));
  EXPECT_NE(Fetch(config), 0) << Log();
  EXPECT_NE(Log().find("graph.certificate_key_file: " + other + " is not the key of " + cert),
            std::string::npos)
      << Log();
  EXPECT_EQ(graph_->TokenRequests(), 1);
}

TEST_F(GraphFetch, AMailOverTheSizeLimitIsNotReadOnAndIsFiledAsInvalid) {
  graph_->throttle_first_values = 0;
  graph_->Deliver(ReportMail(0));
  graph_->Deliver("Subject: big\r\n\r\n" + std::string(200'000, 'x') + "\r\n");
  ASSERT_EQ(Fetch(Config(""), {"--max-input-bytes", "100000"}), 0) << Log();
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 1) << Log();
  EXPECT_EQ(graph_->Count("Archive/Invalid"), 1) << Log();
  EXPECT_NE(Log().find("larger than the limit of 100000 bytes"), std::string::npos) << Log();
}

TEST_F(GraphFetch, ThrottlingThatDoesNotEndFailsClearlyAndLeavesTheMails) {
  graph_->Deliver(ReportMail(0));
  graph_->throttle_first_values = 1000;
  graph_->retry_after = 0;
  EXPECT_NE(Fetch(Config("")), 0) << Log();
  EXPECT_NE(Log().find("fetching a message failed: GET "), std::string::npos) << Log();
  EXPECT_NE(Log().find("answered 429: ApplicationThrottled: Application is over its "
                       "MailboxConcurrency limit."),
            std::string::npos)
      << Log();
  EXPECT_EQ(graph_->Count("GET", "/$value"), 6) << "the first try and 5 retries";
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 1);
}

TEST_F(GraphFetch, ANextLinkOutsideGraphUrlIsNotFollowed) {
  for (int i = 0; i < 3; ++i) graph_->Deliver(ReportMail(i));
  graph_->foreign_next_link = true;
  EXPECT_NE(Fetch(Config("")), 0) << Log();
  EXPECT_NE(Log().find("@odata.nextLink https://graph.example.net/v1.0/users/"), std::string::npos)
      << Log();
  EXPECT_NE(Log().find("is not below graph.graph_url " + graph_->Base() + "/v1.0"),
            std::string::npos)
      << Log();
  EXPECT_EQ(graph_->Count("GET", "/$value"), 0);
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 3);
}

TEST_F(GraphFetch, AMissingFolderIsNamed) {
  graph_->Deliver(ReportMail(0));
  EXPECT_NE(Fetch(Config("", "Inbox/Reports")), 0) << Log();
  EXPECT_NE(Log().find("folder \"Inbox/Reports\" not found in mailbox dmarc@example.com"),
            std::string::npos)
      << Log();
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 1);
}

// Delegated: `login` runs the device-code flow and stores the refresh token sealed; `fetch` reads
// it, refreshes, keeps the rotated one, and says to sign in again once it is revoked.
class GraphLogin : public GraphFetch {
 protected:
  std::string DelegatedConfig() {
    std::string text = ReadFile(Config(""));
    const auto at = text.find("client_secret_file");
    text.erase(at, text.find('\n', at) - at + 1);
    text += "auth = \"device_code\"\ntoken_key_file = \"" + (dir_ / "token.key").string() + "\"\n";
    const fs::path p = dir_ / "delegated.toml";
    std::ofstream(p) << text;
    return p.string();
  }
  int Login(const std::string& config) {
    log_ = dir_ / "login.log";
    return dmarc::testing::RunToEnd({"login", "--config", config}, log_);
  }
};

TEST_F(GraphLogin, LoginStoresTheTokenSealedAndFetchUsesAndRotatesIt) {
  const std::string config = DelegatedConfig();
  // Not signed in yet: fetch says what to do.
  graph_->Deliver(ReportMail(0));
  graph_->throttle_first_values = 0;
  EXPECT_NE(Fetch(config), 0) << Log();
  EXPECT_NE(Log().find("token.key: No such file or directory (run dmarc-report login first)"),
            std::string::npos)
      << Log();
  EXPECT_NE(Log().find("dmarc-report login"), std::string::npos) << Log();

  ASSERT_EQ(Login(config), 0) << Log();
  EXPECT_NE(Log().find("enter the code FD5TH7G9K"), std::string::npos) << Log();
  EXPECT_NE(Log().find("signed in"), std::string::npos) << Log();
  const std::string first = graph_->Refresh();
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(Log().find(first), std::string::npos) << "the refresh token is never shown";
  EXPECT_EQ(fs::status(dir_ / "token.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // The store's bytes do not hold the token (SQLite keeps text as it is, so it would show).
  EXPECT_EQ(ReadFile((dir_ / "store.db").string()).find(first), std::string::npos);

  ASSERT_EQ(Fetch(config), 0) << Log();
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 1) << Log();
  const std::string rotated = graph_->Refresh();
  EXPECT_NE(rotated, first);
  EXPECT_EQ(Log().find(rotated), std::string::npos);
  EXPECT_EQ(ReadFile((dir_ / "store.db").string()).find(rotated), std::string::npos);

  // The next run takes only the rotated token: it was kept.
  graph_->Deliver(ReportMail(1));
  ASSERT_EQ(Fetch(config), 0) << Log();
  EXPECT_EQ(graph_->Count("Archive/Aggregate"), 2) << Log();

  // Revoked: a clear error naming login, and the mail stays.
  graph_->Revoke();
  graph_->Deliver(ReportMail(2));
  EXPECT_NE(Fetch(config), 0) << Log();
  EXPECT_NE(Log().find("the stored refresh token was refused (invalid_grant: AADSTS50173"),
            std::string::npos)
      << Log();
  EXPECT_NE(Log().find("sign in again with dmarc-report login"), std::string::npos) << Log();
  EXPECT_EQ(graph_->Count("Inbox/DMARC"), 1);
}

TEST_F(GraphLogin, ADeclinedOrExpiredSignInIsSaidAndStoresNothing) {
  const std::string config = DelegatedConfig();
  graph_->pending_polls = 0;
  graph_->device_error = "authorization_declined";
  EXPECT_EQ(Login(config), 1) << Log();
  EXPECT_NE(Log().find("the user declined the sign-in"), std::string::npos) << Log();
  graph_->device_error = "expired_token";
  EXPECT_EQ(Login(config), 1) << Log();
  EXPECT_NE(Log().find("the code expired before anyone signed in"), std::string::npos) << Log();
  EXPECT_FALSE(fs::exists(dir_ / "token.key")) << "nothing is made before a sign-in";
}

TEST_F(GraphLogin, AKeyFileOthersMayReadIsRefused) {
  const std::string config = DelegatedConfig();
  std::ofstream(dir_ / "token.key") << std::string(64, 'a') << "\n";
  fs::permissions(dir_ / "token.key", fs::perms::owner_read | fs::perms::group_read);
  graph_->pending_polls = 0;
  EXPECT_EQ(Login(config), 1) << Log();
  EXPECT_NE(Log().find("token.key may be read by others"), std::string::npos) << Log();
}

}  // namespace
