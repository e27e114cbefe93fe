// `dmarc-report senders`: the generated scenario's inventory listed (table and JSON), statuses
// set, replaced and reset from the command line, with who and when; bad input refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

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

class SendersCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir(
        "dmarc-senders-cli", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    db_ = (dir_ / "store.db").string();
    auto st = dmarc::store::OpenStore("sqlite:" + db_, {});
    ASSERT_TRUE(st.ok()) << st.error();
    const auto reports = sc::Reports();
    dmarc::store::Batch batch;
    for (const auto& r : reports) batch.aggregates.push_back({"test", &r});
    ASSERT_TRUE((*st)->Store(batch).ok());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  dmarc::testing::Outcome Run(const std::vector<std::string>& args) {
    std::vector<std::string> all{"senders"};
    for (const auto& a : args) all.push_back(a);
    all.emplace_back("--db");
    all.push_back(db_);
    return dmarc::testing::RunDmarcReport(all, dir_);
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

}  // namespace
