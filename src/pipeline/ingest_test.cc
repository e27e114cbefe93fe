#include "pipeline/ingest.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

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
    if (fail_filing) return MakeError("the connection was lost");
    return Ok();
  }

  std::vector<collect::Filing> filed;
  bool committed_when_filed = false;
  bool fail_filing = false;

 private:
  store::ReportStore& store_;
  bool taken_ = false;
};

struct Seen : IngestObserver {
  void OnStart(const collect::Source&, std::size_t n) override { waiting = n; }
  void OnInput(const InputResult&) override { ++inputs; }
  void OnBatch(const BatchDone& b) override {
    ++batches;
    batch_inputs.push_back(b.classes.size());
    classes.insert(classes.end(), b.classes.begin(), b.classes.end());
    new_reports += b.stored.new_reports;
    all_filed = all_filed && b.filed;
  }
  std::size_t waiting = 0, inputs = 0, batches = 0, new_reports = 0;
  bool all_filed = true;
  std::vector<MailClass> classes;
  std::vector<std::size_t> batch_inputs;  // per batch, its inputs
};

// The SQLite store, saying whether its commits run elsewhere as told. Each commit but the last
// waits (up to `wait`) for the observer to see an input of the next batch: with one input per
// batch, commit k overlapped its successor's extraction when input k + 2 was seen meanwhile.
class Watched : public store::ReportStore {
 public:
  Watched(store::ReportStore& inner, bool elsewhere, std::size_t batches,
          std::chrono::milliseconds wait)
      : inner_(inner), elsewhere_(elsewhere), batches_(batches), wait_(wait) {}
  Result<store::BatchResult> Store(const store::Batch& batch) override {
    const std::size_t k = commits_++;
    if (k + 1 < batches_) {
      const auto until = std::chrono::steady_clock::now() + wait_;
      while (seen < k + 2 && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      overlapped.push_back(seen >= k + 2);
    }
    return inner_.Store(batch);
  }
  Result<store::Stats> QueryStats(const store::Filter& f) override { return inner_.QueryStats(f); }
  Result<std::size_t> ForEachAggregate(
      const store::Filter& f, const std::function<void(model::AggregateReport&&)>& visit) override {
    return inner_.ForEachAggregate(f, visit);
  }
  Result<std::size_t> ForEachFailure(
      const store::Filter& f, const std::function<void(model::FailureReport&&)>& visit) override {
    return inner_.ForEachFailure(f, visit);
  }
  Result<std::size_t> ForEachSmtpTls(
      const store::Filter& f, const std::function<void(model::SmtpTlsReport&&)>& visit) override {
    return inner_.ForEachSmtpTls(f, visit);
  }
  Result<std::vector<store::RejectedInput>> Rejections() override { return inner_.Rejections(); }
  std::string Describe() const override { return inner_.Describe(); }
  bool CommitsElsewhere() const override { return elsewhere_; }

  std::atomic<std::size_t> seen{0};  // inputs the observer saw
  std::vector<bool> overlapped;      // per commit but the last

 private:
  store::ReportStore& inner_;
  const bool elsewhere_;
  const std::size_t batches_;
  const std::chrono::milliseconds wait_;
  std::size_t commits_ = 0;
};

struct Counting : IngestObserver {
  explicit Counting(Watched& st) : st_(st) {}
  void OnInput(const InputResult&) override { ++st_.seen; }
  Watched& st_;
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
  EXPECT_TRUE(seen.all_filed);
  auto stats = store_->QueryStats({});
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->rejected_inputs, 2u);
}

// Mails that could not be filed stay in the mailbox, but their reports are stored: the batch is
// still told (counted, outputs woken), marked as not filed, and the drain fails naming both.
TEST_F(IngestTest, ABatchWhoseFilingFailsIsStillToldAsStored) {
  OneBatch source(*store_);
  source.fail_filing = true;
  Seen seen;
  const std::atomic<bool> stop{false};
  Status drained = Ingest(*store_, IngestOptions{}, seen).Drain(source, stop);
  ASSERT_FALSE(drained);
  EXPECT_NE(drained.error().find("reports stored, but filing the mails failed: the connection "
                                 "was lost"),
            std::string::npos)
      << drained.error();
  EXPECT_EQ(seen.batches, 1u);
  EXPECT_EQ(seen.new_reports, 1u);
  EXPECT_FALSE(seen.all_filed);
  EXPECT_EQ(seen.classes.size(), 3u);
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

TEST_F(IngestTest, FilesAreCommittedAThousandInputsAtATimeWhateverTheyWeigh) {
  IngestOptions options;  // batch_records unbounded: only the count of inputs ends a batch
  options.jobs = 2;
  Seen seen;
  const std::vector<std::string> files(2500, kSample);
  ASSERT_TRUE(Ingest(*store_, options, seen).Files(files));
  EXPECT_EQ(seen.inputs, 2500u);
  EXPECT_EQ(seen.batch_inputs, (std::vector<std::size_t>{1000, 1000, 500}));
  EXPECT_EQ(seen.new_reports, 1u);
}

// A batch is cut once its inputs weigh half of --max-batch-bytes (what their reports' model
// holds, HeldBytes): the batch being committed and the results read ahead meanwhile share it.
TEST_F(IngestTest, FilesAreCommittedOnceABatchHoldsHalfOfMaxBatchBytes) {
  const std::string large = std::string(DMARC_SOURCE_DIR) +
                            "/testdata/real/parsedmarc-samples/aggregate/"
                            "!large-example.com!1711897200!1711983600.xml";
  // An input weighs `most` with its XML kept compressed, `least` as a duplicate (not kept).
  ExtractOptions keeping;
  keeping.keep_raw_xml = true;
  const std::size_t most = HeldBytes(ExtractInput(large, keeping));
  const std::size_t least = HeldBytes(ExtractInput(large, ExtractOptions{}));
  ASSERT_GT(least, 1000000u);  // its 2,286 records, not its 909 KB of XML weighted
  ASSERT_LT(2 * most, 3 * least);
  IngestOptions options;
  options.jobs = 2;
  options.extract.aggregate.limits.max_batch_bytes = 2 * (2 * most + 1);  // cut at 3 inputs
  Seen seen;
  ASSERT_TRUE(Ingest(*store_, options, seen).Files(std::vector<std::string>(7, large)));
  EXPECT_EQ(seen.batch_inputs, (std::vector<std::size_t>{3, 3, 1}));
  EXPECT_EQ(seen.new_reports, 1u);
}

TEST_F(IngestTest, FilesIntoAStoreCommittingElsewhereAreExtractedWhileTheBatchBeforeCommits) {
  IngestOptions options;
  options.batch_records = 1;  // one report per batch
  const std::vector<std::string> files = {kSample, kSample, kSample, kSample};
  Watched remote(*store_, true, files.size(), std::chrono::seconds(20));
  Counting seen(remote);
  ASSERT_TRUE(Ingest(remote, options, seen).Files(files));
  EXPECT_EQ(remote.overlapped, std::vector<bool>(files.size() - 1, true));
  auto stats = store_->QueryStats({});
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->reports, 1u);
}

// The workers may read ahead while a batch commits (at most a batch more), but its results join
// the next batch, and the observer sees them, only once the commit returned: one batch at a time.
TEST_F(IngestTest, FilesIntoALocalStoreAreHandedOnOnlyOnceTheBatchBeforeIsCommitted) {
  IngestOptions options;
  options.batch_records = 1;
  const std::vector<std::string> files = {kSample, kSample, kSample};
  Watched local(*store_, false, files.size(), std::chrono::milliseconds(300));
  Counting seen(local);
  ASSERT_TRUE(Ingest(local, options, seen).Files(files));
  EXPECT_EQ(local.overlapped, std::vector<bool>(files.size() - 1, false));
}

}  // namespace
}  // namespace dmarc::pipeline
