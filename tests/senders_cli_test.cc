// `dmarc-report senders`: the generated scenario's inventory listed (table and JSON), statuses
// set, replaced and reset from the command line, with who and when; bad input refused.
// `dmarc-report advise`: the enforcement advisor on its scenario (store/advisor_scenario.h,
// dated to the clock's now): the JSON of GET /api/advise and the text.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "store/advisor_scenario.h"
#include "store/senders_scenario.h"
#include "store/store.h"
// GCC 12's -Wrestrict misreads the string concatenation inlined from RunDmarcReport here
// (a known false positive, GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include "testing/run_program.h"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include "testing/test_util.h"

namespace {

namespace fs = std::filesystem;
namespace sc = dmarc::store::senders_scenario;
namespace ad = dmarc::store::advisor_scenario;

class SendersCli : public ::testing::Test {
 protected:
  void SetUp() override { Prepare(sc::Reports()); }
  // A fresh store holding these reports.
  void Prepare(const std::vector<dmarc::model::AggregateReport>& reports) {
    dir_ = dmarc::testing::FreshTestDir(
        "dmarc-senders-cli", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    db_ = (dir_ / "store.db").string();
    auto st = dmarc::store::OpenStore("sqlite:" + db_, {});
    ASSERT_TRUE(st.ok()) << st.error();
    dmarc::store::Batch batch;
    for (const auto& r : reports) batch.aggregates.push_back({"test", &r});
    ASSERT_TRUE((*st)->Store(batch).ok());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  // `dmarc-report senders ARGS --db STORE`.
  dmarc::testing::Outcome Run(const std::vector<std::string>& args) {
    std::vector<std::string> all{"senders"};
    all.insert(all.end(), args.begin(), args.end());
    return RunCommand(all);
  }
  // `dmarc-report ARGS --db STORE`.
  dmarc::testing::Outcome RunCommand(std::vector<std::string> args) {
    args.emplace_back("--db");
    args.push_back(db_);
    return dmarc::testing::RunDmarcReport(args, dir_);
  }
  nlohmann::json ListJson(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"list", "--domain", "example.com", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Run(args);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    return nlohmann::json::parse(r.out);
  }
  fs::path dir_;
  std::string db_;
};

TEST_F(SendersCli, ListsTheInventoryAndSetsStatuses) {
  nlohmann::json all = ListJson();
  ASSERT_EQ(all["senders"].size(), 4u);
  EXPECT_EQ(all["senders"][0]["sender"], "Mailchimp");
  EXPECT_EQ(all["senders"][0]["messages"], 150);
  EXPECT_EQ(all["senders"][0]["suggested_status"], "approved");
  EXPECT_EQ(all["senders"][2]["sender"], "AS64500");
  auto table = Run({"list", "--domain", "example.com"});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("smallhost.example"), std::string::npos);
  EXPECT_NE(table.out.find("Mailchimp"), std::string::npos);

  ASSERT_EQ(Run({"approve", "example.com", "Mailchimp", "--by", "alice"}).status, 0);
  ASSERT_EQ(Run({"reject", "example.com", "AS64500"}).status, 0);
  ASSERT_EQ(Run({"approve", "example.com", "SendGrid"}).status, 0);
  ASSERT_EQ(Run({"reset", "example.com", "SendGrid"}).status, 0);
  nlohmann::json after = ListJson();
  EXPECT_EQ(after["senders"][0]["status"], "approved");
  EXPECT_EQ(after["senders"][0]["status_changed_by"], "alice");
  EXPECT_EQ(after["senders"][1]["status"], "unknown");
  EXPECT_EQ(after["senders"][2]["status"], "unapproved");
  EXPECT_TRUE(after["senders"][2]["status_changed_by"].get<std::string>().starts_with("cli:"));
  nlohmann::json approved = ListJson({"--status", "approved"});
  ASSERT_EQ(approved["senders"].size(), 1u);
  EXPECT_EQ(approved["senders"][0]["sender"], "Mailchimp");
}

TEST_F(SendersCli, BadInputIsRefused) {
  EXPECT_NE(Run({"approve", "example.com"}).status, 0);  // no sender
  EXPECT_NE(Run({"list"}).status, 0);                    // no domain
  EXPECT_NE(Run({"list", "--domain", "example.com", "--status", "trusted"}).status, 0);
  EXPECT_NE(Run({"approve", "example.com", std::string(300, 'x')}).status, 0);
  EXPECT_EQ(ListJson({"--status", "approved"})["senders"].size(), 0u);
  auto missing = dmarc::testing::RunDmarcReport(
      {"senders", "approve", "example.com", "X", "--db", (dir_ / "none.db").string()}, dir_);
  EXPECT_NE(missing.status, 0);
  EXPECT_FALSE(fs::exists(dir_ / "none.db"));
}

// The advisor's scenario, with its senders' statuses set from the command line as a test needs.
class AdviseCli : public SendersCli {
 protected:
  void SetUp() override { Prepare(ad::Reports(static_cast<std::int64_t>(std::time(nullptr)))); }
  void Status(const std::string& action, const std::string& sender) {
    ASSERT_EQ(Run({action, ad::kDomain, sender}).status, 0);
  }
};

TEST_F(AdviseCli, PrintsTheAdviceAsJsonAndText) {
  auto before = RunCommand({"advise", "--domain", ad::kDomain, "--json"});
  ASSERT_EQ(before.status, 0) << before.err;
  EXPECT_EQ(nlohmann::json::parse(before.out)["recommendation"]["rule"], "approve_senders");
  auto before_text = RunCommand({"advise", "--domain", ad::kDomain});
  EXPECT_NE(before_text.out.find("dmarc-report senders approve example.com 'outbound.example'\n"
                                 "  dmarc-report senders approve example.com 'Mailchimp'\n"),
            std::string::npos)
      << before_text.out;

  Status("approve", "Mailchimp");
  Status("approve", "outbound.example");
  Status("reject", "badguy.example");
  Status("forwarder", "forwarder.example");
  auto r = RunCommand({"advise", "--domain", ad::kDomain, "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["domain"], ad::kDomain);
  EXPECT_EQ(j["days"], 30);
  EXPECT_EQ(j["policy"]["p"], "none");
  EXPECT_EQ(j["recommendation"]["rule"], "fix_first");
  EXPECT_EQ(j["recommendation"]["action"], "fix first: Mailchimp");
  const std::uint64_t approved = ad::kMcAligned + ad::kMcUnaligned + ad::kOwn + ad::kOwnForwarded;
  EXPECT_EQ(j["readiness"]["approved_messages"], approved);
  EXPECT_EQ(j["readiness"]["approved_pass"], ad::kMcAligned + ad::kOwn);
  EXPECT_EQ(j["simulation"]["approved_blocked"], ad::kMcUnaligned);
  EXPECT_EQ(j["simulation"]["approved"][0]["sender"], "Mailchimp");
  EXPECT_EQ(j["simulation"]["approved"][0]["causes"][0]["cause"], ad::kMcCause);
  EXPECT_EQ(j["simulation"]["forwarded_hit"], ad::kOwnForwarded + ad::kList + ad::kForwarder +
                                                  ad::kGroups + ad::kListServer + ad::kSurvived);
  EXPECT_EQ(j["simulation"]["spoofing_blocked"], ad::kSpoof + ad::kBad + ad::kResidential);
  EXPECT_TRUE(j["simulation"]["note"].is_null());
  ASSERT_EQ(j["fixes"].size(), 1u);
  EXPECT_EQ(j["fixes"][0]["remedy"], ad::kMcRemedy);
  EXPECT_EQ(j["senders"].size(), 11u);

  auto text = RunCommand({"advise", "--domain", ad::kDomain});
  ASSERT_EQ(text.status, 0) << text.err;
  for (const std::string& line :
       {std::string("Published policy: p=none sp=none pct=100 adkim=r aspf=r"),
        std::string("Recommendation: fix first: Mailchimp"),
        "Approved senders' mail blocked: " + std::to_string(ad::kMcUnaligned),
        "Spoofing stopped (unapproved and unknown senders): " +
            std::to_string(ad::kSpoof + ad::kBad + ad::kResidential),
        "1. " + j["fixes"][0]["text"].get<std::string>()}) {
    EXPECT_NE(text.out.find(line), std::string::npos) << line << "\n" << text.out;
  }
  // A shorter period leaves Mailchimp's mail of 10 and 5 days ago out.
  auto short_period = RunCommand({"advise", "--domain", ad::kDomain, "--days", "4", "--json"});
  ASSERT_EQ(short_period.status, 0) << short_period.err;
  const nlohmann::json s = nlohmann::json::parse(short_period.out);
  EXPECT_EQ(s["readiness"]["approved_messages"], ad::kOwn + ad::kOwnForwarded);
  EXPECT_EQ(s["recommendation"]["rule"], "move_to_quarantine");
  // A period ending 8 days ago holds only Mailchimp's aligned mail of 10 days ago (and
  // badguy.example's of 8 days ago) of the approved senders: ready for p=quarantine.
  const std::time_t then = std::time(nullptr) - 8 * ad::kDay;
  char day[16];
  std::tm tm{};
  std::strftime(day, sizeof day, "%Y-%m-%d", gmtime_r(&then, &tm));
  auto earlier = RunCommand({"advise", "--domain", ad::kDomain, "--until", day, "--json"});
  ASSERT_EQ(earlier.status, 0) << earlier.err;
  const nlohmann::json e = nlohmann::json::parse(earlier.out);
  EXPECT_EQ(e["readiness"]["approved_messages"], ad::kMcAligned);
  EXPECT_EQ(e["readiness"]["percent"], 100.0);
  EXPECT_EQ(e["simulation"]["spoofing_blocked"], ad::kBad);
  EXPECT_EQ(e["recommendation"]["rule"], "move_to_quarantine");
}

// --forwarders-file adds to the bundled list and removes from it: forwarder.example (no status)
// becomes a known forwarder, Google Groups is no longer one; the text says why mail is forwarded.
TEST_F(AdviseCli, ReadsTheUsersForwardersFile) {
  auto bundled = RunCommand({"advise", "--domain", ad::kDomain});
  ASSERT_EQ(bundled.status, 0) << bundled.err;
  EXPECT_NE(bundled.out.find("forwarded: a known forwarder: Google Groups (mailing_list) (" +
                             std::to_string(ad::kGroups) + ")"),
            std::string::npos)
      << bundled.out;
  const fs::path file = dir_ / "forwarders.tsv";
  {
    std::ofstream out(file);
    out << "forwarder.example\tOur alumni forwarder\tforwarder\n"
        << "googlegroups.com\tGoogle Groups\tnone\n";
  }
  auto r =
      RunCommand({"advise", "--domain", ad::kDomain, "--json", "--forwarders-file", file.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["simulation"]["forwarded_hit"],
            ad::kOwnForwarded + ad::kList + ad::kForwarder + ad::kListServer + ad::kSurvived);
  const auto& fwd = j["simulation"]["forwarded"];
  ASSERT_FALSE(fwd.empty());
  EXPECT_EQ(fwd[0]["sender"], "forwarder.example");
  EXPECT_EQ(fwd[0]["reasons"][0]["detail"], "Our alumni forwarder (forwarder)");
  auto missing = RunCommand(
      {"advise", "--domain", ad::kDomain, "--forwarders-file", (dir_ / "none.tsv").string()});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("none.tsv"), std::string::npos) << missing.err;
  // The HTML report embeds the same advice.
  const std::string html = (dir_ / "report.html").string();
  ASSERT_EQ(RunCommand({"report", "--html", html, "--domain", ad::kDomain, "--forwarders-file",
                        file.string()})
                .status,
            0);
  std::ifstream in(html);
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("Our alumni forwarder (forwarder)"), std::string::npos);
  EXPECT_EQ(RunCommand({"report", "--html", html, "--domain", ad::kDomain, "--forwarders-file",
                        (dir_ / "none.tsv").string()})
                .status,
            2);
}

// Failure reports of the period (testdata/derived: the receiver's arc=pass, a Google Groups
// envelope SPF passed for, forged ARC headers only) are counted as the advisor classifies them.
TEST_F(AdviseCli, CountsTheFailureReportsThatWereForwarded) {
  std::vector<std::string> import{"import", "-q", "--offline"};
  for (const char* f :
       {"failure-arc-pass.eml", "failure-arc-forged.eml", "failure-google-groups.eml"}) {
    import.push_back(dmarc::testing::TestData(std::string("derived/") + f));
  }
  auto imported = RunCommand(import);
  ASSERT_EQ(imported.status, 0) << imported.err;
  auto r = RunCommand({"advise", "--domain", "example.com", "--until", "2019-05-01", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json fr = nlohmann::json::parse(r.out)["failure_reports"];
  EXPECT_EQ(fr["reports"], 3);
  EXPECT_EQ(fr["forwarded"], 1);
  EXPECT_EQ(fr["mailing_list"], 1);
  EXPECT_EQ(fr["arc_headers"], 2);
  auto text = RunCommand({"advise", "--domain", "example.com", "--until", "2019-05-01"});
  EXPECT_NE(text.out.find("Failure reports: 3, 1 forwarded and 1 from mailing lists"),
            std::string::npos)
      << text.out;
  // Outside the period: none.
  auto later = RunCommand({"advise", "--domain", "example.com", "--until", "2019-06-30", "--json"});
  EXPECT_EQ(nlohmann::json::parse(later.out)["failure_reports"]["reports"], 0);
}

TEST_F(AdviseCli, BadInputIsRefused) {
  EXPECT_NE(RunCommand({"advise"}).status, 0);  // no domain
  EXPECT_NE(RunCommand({"advise", "--domain", ad::kDomain, "--days", "0"}).status, 0);
  EXPECT_NE(RunCommand({"advise", "--domain", ad::kDomain, "--days", "x"}).status, 0);
  EXPECT_NE(RunCommand({"advise", "--domain", ad::kDomain, "--until", "2026-13-01"}).status, 0);
  auto missing = dmarc::testing::RunDmarcReport(
      {"advise", "--domain", ad::kDomain, "--db", (dir_ / "none.db").string()}, dir_);
  EXPECT_NE(missing.status, 0);
  EXPECT_FALSE(fs::exists(dir_ / "none.db"));
}

}  // namespace
