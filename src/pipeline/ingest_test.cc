#include "pipeline/ingest.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "testing/test_util.h"

namespace dmarc::pipeline {
namespace {

namespace fs = std::filesystem;
using collect::MailClass;

const std::string kSample = std::string(DMARC_SOURCE_DIR) +
                            "/testdata/real/parsedmarc-samples/aggregate/"
                            "!example.com!1538204542!1538463818.xml";

// One batch of three mails: a report, a mail without one, one that could not be read. Checks at
// filing time that the batch's report is already committed.
class OneBatch : public collect::Source {
 public:
  explicit OneBatch(store::ReportStore& st) : store_(st) {}
  std::string Describe() const override { return "test"; }
  Result<std::size_t> Open() override { return 3; }
  Result<std::vector<collect::MailItem>> Next() override {
    if (taken_) return std::vector<collect::MailItem>{};
    taken_ = true;
    return std::vector<collect::MailItem>{
        {"1", "m1", dmarc::testing::ReadFile(kSample), std::nullopt},
        {"2", "m2", "Subject: hello\r\n\r\nnot a report\r\n", std::nullopt},
        {"3", "m3", "", "too large"}};
  }
  Status File(const std::vector<collect::Filing>& filings) override {
    auto stats = store_.QueryStats({});
    committed_when_filed = stats && stats->reports == 1;
    filed = filings;
    return Ok();
  }

  std::vector<collect::Filing> filed;
  bool committed_when_filed = false;

 private:
  store::ReportStore& store_;
  bool taken_ = false;
};

struct Seen : IngestObserver {
  void OnStart(const collect::Source&, std::size_t n) override { waiting = n; }
  void OnInput(const InputResult&) override { ++inputs; }
  void OnBatch(const BatchDone& b) override {
    ++batches;
    classes.insert(classes.end(), b.classes.begin(), b.classes.end());
    new_reports += b.stored.new_reports;
  }
  std::size_t waiting = 0, inputs = 0, batches = 0, new_reports = 0;
  std::vector<MailClass> classes;
};

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = dmarc::testing::FreshTestDir("dmarc-ingest");
    auto st = store::OpenStore("sqlite:" + (dir_ / "t.db").string(), store::OpenOptions{});
    ASSERT_TRUE(st) << st.error();
    store_ = std::move(st).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  fs::path dir_;
  std::unique_ptr<store::ReportStore> store_;
};

TEST_F(IngestTest, ASourceBatchIsFiledByClassOnlyAfterItsCommit) {
  OneBatch source(*store_);
  Seen seen;
  const std::atomic<bool> stop{false};
  ASSERT_TRUE(Ingest(*store_, IngestOptions{}, seen).Drain(source, stop));
  EXPECT_TRUE(source.committed_when_filed);
  ASSERT_EQ(source.filed.size(), 3u);
  EXPECT_EQ(source.filed[0].id, "1");
  EXPECT_EQ(source.filed[0].mail_class, MailClass::kAggregate);
  EXPECT_EQ(source.filed[1].mail_class, MailClass::kInvalid);
  EXPECT_EQ(source.filed[2].mail_class, MailClass::kInvalid);
  EXPECT_EQ(seen.waiting, 3u);
  EXPECT_EQ(seen.inputs, 3u);
  EXPECT_EQ(seen.batches, 1u);
  EXPECT_EQ(seen.new_reports, 1u);
  auto stats = store_->QueryStats({});
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->rejected_inputs, 2u);
}

TEST_F(IngestTest, FilesAreCommittedOnceABatchHoldsBatchRecords) {
  IngestOptions options;
  options.batch_records = 1;
  Seen seen;
  const std::vector<std::string> files = {kSample, kSample, (dir_ / "missing.xml").string()};
  ASSERT_TRUE(Ingest(*store_, options, seen).Files(files));
  EXPECT_EQ(seen.inputs, 3u);
  // Each report fills a batch; the missing file's rejection goes with the last.
  EXPECT_EQ(seen.batches, 3u);
  EXPECT_EQ(seen.new_reports, 1u);  // the second is a duplicate
}

}  // namespace
}  // namespace dmarc::pipeline
