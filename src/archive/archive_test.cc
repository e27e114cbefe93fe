#include "archive/archive.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "testing/compress.h"
#include "testing/test_util.h"

namespace dmarc::archive {
namespace {

using dmarc::testing::GzipOf;
using dmarc::testing::ReadFile;
using dmarc::testing::TestData;

TEST(Sniff, RecognisesByContentNotName) {
  EXPECT_EQ(Sniff("\x1F\x8B\x08"), Kind::kGzip);
  EXPECT_EQ(Sniff(std::string("PK\x03\x04", 4)), Kind::kZip);
  EXPECT_EQ(Sniff(std::string("PK\x05\x06", 4)), Kind::kZip);
  EXPECT_EQ(Sniff("<?xml version=\"1.0\"?><feedback/>"), Kind::kXml);
  EXPECT_EQ(Sniff("\xEF\xBB\xBF  \n<feedback/>"), Kind::kXml);
  EXPECT_EQ(Sniff(" {\"organization-name\": 1}"), Kind::kJson);
  EXPECT_EQ(Sniff("From MAILER-DAEMON Thu Jan  1 00:00:00 2024\n"), Kind::kMbox);
  EXPECT_EQ(Sniff("Return-Path: <a@b>\nSubject: x\n\nbody"), Kind::kMail);
  EXPECT_EQ(Sniff(""), Kind::kEmpty);
  EXPECT_EQ(Sniff(" \r\n\t"), Kind::kEmpty);
  EXPECT_EQ(Sniff("hello world"), Kind::kUnknown);
  EXPECT_EQ(Sniff("x\x9C"), Kind::kUnknown);
}

TEST(Sniff, ClassifiesTheRealSamples) {
  const std::string base = TestData("real/parsedmarc-samples/");
  EXPECT_EQ(Sniff(ReadFile(base + "aggregate/fastmail.com!example.com!1516060800!1516147199!"
                                  "102675056.xml.gz")),
            Kind::kGzip);
  EXPECT_EQ(Sniff(ReadFile(base + "extract_report/nice-input.xml.zip")), Kind::kZip);
  EXPECT_EQ(Sniff(ReadFile(base + "aggregate/rfc9990-sample.xml")), Kind::kXml);
  EXPECT_EQ(Sniff(ReadFile(base + "aggregate/twilight.eml")), Kind::kMail);
  EXPECT_EQ(Sniff(ReadFile(base + "smtp_tls/rfc8460.json")), Kind::kJson);
}

TEST(Gunzip, RoundTrips) {
  const std::string data = "<feedback>" + std::string(100000, 'x') + "</feedback>";
  auto r = Gunzip(GzipOf(data), Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, data);
  EXPECT_TRUE(r->warnings.empty());
}

TEST(Gzip, IsReadBackByGunzip) {
  const std::string data = "<feedback>" + std::string(100000, 'y') + "\xC3\xA9</feedback>";
  auto packed = Gzip(data);
  ASSERT_TRUE(packed.ok()) << packed.error();
  EXPECT_LT(packed->size(), data.size() / 100);
  auto r = Gunzip(*packed, Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, data);
  auto empty = Gzip("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Sniff(*empty), Kind::kGzip);
}

TEST(Gunzip, JoinsConcatenatedMembers) {
  auto r = Gunzip(GzipOf("abc") + GzipOf("def"), Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "abcdef");
}

TEST(Gunzip, WarnsAboutTrailingGarbage) {
  auto r = Gunzip(GzipOf("abc") + "junk", Limits{});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->data, "abc");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("4 bytes"), std::string::npos);
}

TEST(Gunzip, RejectsTruncatedAndCorruptStreams) {
  const std::string gz = GzipOf(std::string(5000, 'a') + "tail");
  auto truncated = Gunzip(gz.substr(0, gz.size() - 12), Limits{});
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.error().find("truncated"), std::string::npos);
  std::string corrupt = gz;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x5A);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0xA5);
  EXPECT_FALSE(Gunzip(corrupt, Limits{}).ok());
}

TEST(Gunzip, StopsABombByRatio) {
  auto r = Gunzip(ReadFile(TestData("broken/gzip-bomb.xml.gz")), Limits{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("ratio"), std::string::npos);
}

TEST(Gunzip, StopsABombBySizeWhenRatioIsAllowed) {
  Limits limits;
  limits.max_compression_ratio = 1'000'000;
  limits.max_decompressed_bytes = 10 * 1024 * 1024;
  auto r = Gunzip(ReadFile(TestData("broken/gzip-bomb.xml.gz")), limits);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("exceeds the limit of 10485760 bytes"), std::string::npos);
}

TEST(Zip, VisitsEveryEntryInOrder) {
  std::vector<std::string> names;
  auto n = ForEachZipEntry(
      ReadFile(TestData("broken/zip-mixed.zip")), Limits{},
      [&](ZipEntry&& e) { names.push_back(e.name); },
      [&](const std::string& name, const std::string& reason) {
        ADD_FAILURE() << name << ": " << reason;
      });
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(names, (std::vector<std::string>{"readme.txt", "a.xml", "b.xml"}));
}

TEST(Zip, TraversalNamesAreOnlyLabels) {
  std::vector<std::string> names;
  auto n = ForEachZipEntry(
      ReadFile(TestData("broken/zip-path-traversal.zip")), Limits{},
      [&](ZipEntry&& e) {
        names.push_back(e.name);
        EXPECT_NE(e.data.find("<feedback>"), std::string::npos);
      },
      [](const std::string&, const std::string&) {});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(names[0], "../../etc/cron.d/evil.xml");
}

TEST(Zip, RefusesBombsTooManyEntriesAndTruncation) {
  std::vector<std::string> problems;
  auto problem = [&](const std::string& name, const std::string& reason) {
    problems.push_back(name + ": " + reason);
  };
  auto ignore = [](ZipEntry&&) { ADD_FAILURE() << "no entry should be visited"; };
  auto bomb = ForEachZipEntry(ReadFile(TestData("broken/zip-bomb.zip")), Limits{}, ignore, problem);
  ASSERT_TRUE(bomb.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("limit"), std::string::npos);

  // Declared size lies are caught while inflating, by ratio.
  Limits lenient;
  lenient.max_decompressed_bytes = 300u * 1024 * 1024;
  problems.clear();
  auto bomb2 = ForEachZipEntry(ReadFile(TestData("broken/zip-bomb.zip")), lenient, ignore, problem);
  ASSERT_TRUE(bomb2.ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("ratio"), std::string::npos);

  auto many =
      ForEachZipEntry(ReadFile(TestData("broken/zip-many-entries.zip")), Limits{}, ignore, problem);
  ASSERT_FALSE(many.ok());
  EXPECT_NE(many.error().find("1500 entries"), std::string::npos);

  auto truncated =
      ForEachZipEntry(ReadFile(TestData("broken/truncated.zip")), Limits{}, ignore, problem);
  EXPECT_FALSE(truncated.ok());
}

}  // namespace
}  // namespace dmarc::archive
