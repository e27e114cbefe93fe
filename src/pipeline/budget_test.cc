// Budgets per input (issue #15): what one hostile input may cost is bounded, whatever its
// nesting. Each test builds its hostile input with a small generator.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstddef>
#include <memory>
#include <string>

#include "model/heap_bytes.h"
#include "parse/aggregate.h"
#include "pipeline/extract.h"
#include "pipeline/ingest.h"
#include "store/sha256.h"
#include "testing/base64.h"
#include "testing/compress.h"
#include "testing/test_util.h"
#include "testing/zip_writer.h"

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer's allocator (its header, sanitizer/allocator_interface.h, is not installed
// with GCC's).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace dmarc::pipeline {
namespace {

using dmarc::testing::GzipOf;
using dmarc::testing::ReadFile;
using dmarc::testing::TestData;
using dmarc::testing::ZipOf;

// An mbox of `n` spam mails, each with its own subject.
std::string SpamMbox(int n) {
  std::string mbox;
  for (int i = 1; i <= n; ++i) {
    mbox += fmt::format(
        "From spam@example.net Mon Jan  1 00:00:00 2024\nFrom: spam@example.net\n"
        "Subject: offer {}\n\nBuy now, offer number {}.\n\n",
        i, i);
  }
  return mbox;
}

ExtractOptions Keeping() {
  ExtractOptions options;
  options.keep_rejected = true;
  return options;
}

TEST(RejectionBudget, EachRejectionKeepsItsOwnMessageNotTheInput) {
  const std::string mbox = SpamMbox(5);
  const Extracted got = ExtractReports(mbox, "box.mbox", Keeping());
  ASSERT_EQ(got.rejections.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const Rejection& r = got.rejections[i];
    EXPECT_EQ(r.origin, fmt::format("box.mbox[message {}]", i + 1));
    EXPECT_EQ(r.raw.rfind("From spam@example.net", 0), 0u) << r.raw;
    EXPECT_NE(r.raw.find(fmt::format("Subject: offer {}\n", i + 1)), std::string::npos) << r.raw;
    EXPECT_EQ(r.raw.find(fmt::format("Subject: offer {}\n", (i + 1) % 5 + 1)), std::string::npos);
    EXPECT_EQ(r.size, r.raw.size());
    EXPECT_EQ(r.sha256, store::Sha256Hex(r.raw));
  }
}

TEST(RejectionBudget, RejectionsOfOneInputAreBoundedInCountAndBytes) {
  // 3,000 spam mails (1.3 MB) made 3,000 rejections, each with its own copy of the first MiB of
  // the whole mbox: 3.1 GB.
  ExtractOptions options = Keeping();
  options.aggregate.limits.max_rejected_bytes = 64 * 1024;
  const Extracted got = ExtractReports(SpamMbox(3000), "box.mbox", options);
  ASSERT_EQ(got.rejections.size(), options.limits().max_rejections + 1);
  std::size_t kept = 0;
  for (const auto& r : got.rejections) kept += r.raw.size();
  EXPECT_LE(kept, 64u * 1024);
  EXPECT_GT(kept, 60u * 1024);  // the budget is used, not left empty
  EXPECT_TRUE(got.rejections[999].raw.empty());
  EXPECT_EQ(got.rejections[999].origin, "box.mbox[message 1000]");  // the reason stays
  const Rejection& last = got.rejections.back();
  EXPECT_EQ(last.origin, "box.mbox");
  EXPECT_NE(last.reason.find("2000 more rejection(s)"), std::string::npos) << last.reason;
  EXPECT_NE(last.reason.find("--max-rejections"), std::string::npos) << last.reason;
}

TEST(RejectionBudget, AZipEntryKeepsItsOwnBytesInsideAMail) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (int i = 0; i < 3; ++i) {
    entries.emplace_back(fmt::format("r{}.xml", i), fmt::format("<feedback>broken {}", i));
  }
  const std::string mail =
      "From: a@example.org\r\nSubject: reports\r\nMIME-Version: 1.0\r\n"
      "Content-Type: application/zip; name=\"r.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      dmarc::testing::Base64(ZipOf(entries)) + "\r\n";
  const Extracted got = ExtractReports(mail, "mail.eml", Keeping());
  ASSERT_GE(got.rejections.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got.rejections[i].origin, fmt::format("mail.eml[part 1: r.zip][r{}.xml]", i));
    EXPECT_EQ(got.rejections[i].raw, entries[i].second);
  }
}

TEST(RejectionBudget, TextFromTheSenderIsBounded) {
  const std::string subject(100'000, 'x');
  const Extracted got = ExtractReports("Subject: " + subject + "\r\n\r\nhello\r\n", "m.eml", {});
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_LE(got.rejections[0].reason.size(), kMaxRejectionText + 3);
}

// A zip of `width` zips, each holding `width` entries of `bytes` text bytes.
std::string NestedZip(int width, std::size_t bytes) {
  std::vector<std::pair<std::string, std::string>> outer;
  for (int i = 0; i < width; ++i) {
    std::vector<std::pair<std::string, std::string>> inner;
    for (int j = 0; j < width; ++j) {
      std::string text = fmt::format("<feedback><!-- {} {} -->", i, j);
      while (text.size() < bytes) text += fmt::format("<x>{}</x>", text.size());
      inner.emplace_back(fmt::format("{}.xml", j), text);
    }
    outer.emplace_back(fmt::format("{}.zip", i), ZipOf(inner));
  }
  return ZipOf(outer);
}

TEST(DecompressionBudget, IsOneForTheWholeInputAcrossNestingLevels) {
  // Each inner zip stays under the limit, the whole input does not: nested archives used to get
  // a fresh budget at each level (a 26 MB nested zip cost 73 s of CPU).
  ExtractOptions options = Keeping();
  options.aggregate.limits.max_decompressed_bytes = 1024 * 1024;
  const std::string input = NestedZip(4, 100 * 1024);  // 1.6 MB of text in all
  const Extracted got = ExtractReports(input, "nested.zip", options);
  EXPECT_EQ(got.ReportCount(), 0u);
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_EQ(got.rejections[0].origin, "nested.zip");
  EXPECT_NE(got.rejections[0].reason.find("limit of 1048576 bytes for the whole input"),
            std::string::npos)
      << got.rejections[0].reason;
  EXPECT_NE(got.rejections[0].reason.find("the whole input is rejected"), std::string::npos);
  EXPECT_EQ(got.rejections[0].sha256, store::Sha256Hex(input));
  // Under the budget, the same nesting is read entry by entry.
  options.aggregate.limits.max_decompressed_bytes = 4 * 1024 * 1024;
  const Extracted fits = ExtractReports(input, "nested.zip", options);
  EXPECT_EQ(fits.rejections.size(), 16u);  // each entry on its own
}

TEST(DecompressionBudget, GzipLevelsShareIt) {
  ExtractOptions options;
  options.aggregate.limits.max_decompressed_bytes = 1024 * 1024;
  std::string text = "<feedback>";
  while (text.size() < 700 * 1024) text += fmt::format("<x>{}</x>", text.size());
  // 700 KiB of XML inside a gzip whose own output, the inner gzip, is small: within the limit of
  // each level alone; and a zip of two of them, over it for the input.
  const std::string input = ZipOf({{"a.xml.gz", GzipOf(text)}, {"b.xml.gz", GzipOf(text)}});
  const Extracted got = ExtractReports(input, "two.zip", options);
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_NE(got.rejections[0].reason.find("for the whole input"), std::string::npos)
      << got.rejections[0].reason;
}

// A mail with `n` copies of an aggregate report attached.
std::string MailWithReports(int n) {
  const std::string xml = dmarc::testing::Base64(
      ReadFile(TestData("real/parsedmarc-samples/aggregate/"
                        "rfc9990-example.net!example.com!1700000000!1700086399.xml")));
  std::string mail =
      "From: r@example.net\r\nSubject: reports\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
  for (int i = 0; i < n; ++i) {
    mail += fmt::format(
        "--b\r\nContent-Type: text/xml; name=\"r{}.xml\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        i, xml);
  }
  return mail + "--b--\r\n";
}

TEST(MimeParts, MoreThanTheLimitIsARejectionAndTheFirstAreRead) {
  // 5,000 reports in one mail gave 1,000 parsed and exit 0: the rest were dropped silently.
  ExtractOptions options;
  options.aggregate.limits.max_mime_parts = 10;
  const Extracted got = ExtractReports(MailWithReports(25), "many.eml", options);
  EXPECT_EQ(got.reports.size(), 10u);
  ASSERT_EQ(got.rejections.size(), 1u);
  EXPECT_EQ(got.rejections[0].origin, "many.eml");
  EXPECT_NE(got.rejections[0].reason.find("more than 10 MIME parts (--max-parts)"),
            std::string::npos)
      << got.rejections[0].reason;
  options.aggregate.limits.max_mime_parts = 25;
  const Extracted all = ExtractReports(MailWithReports(25), "many.eml", options);
  EXPECT_EQ(all.reports.size(), 25u);
  EXPECT_TRUE(all.rejections.empty());
}

TEST(HeldBytes, GrowsWithTheReportsAndRejectionsAnInputHolds) {
  ExtractOptions options = Keeping();
  const InputResult small = ExtractBuffer(MailWithReports(1), "one.eml", options);
  const InputResult large = ExtractBuffer(MailWithReports(20), "twenty.eml", options);
  EXPECT_GT(HeldBytes(small), 0u);
  EXPECT_GT(HeldBytes(large), 15 * HeldBytes(small));
  const InputResult spam = ExtractBuffer(SpamMbox(100), "box.mbox", options);
  EXPECT_GT(HeldBytes(spam), SpamMbox(100).size());
}

// Bytes malloc has handed out and not taken back, on this thread's arena (the test's thread is the
// main one).
std::size_t AllocatedBytes() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

TEST(HeapBytes, CountsWhatAReportTakesFromMalloc) {
  const std::string xml = ReadFile(
      TestData("real/parsedmarc-samples/aggregate/!large-example.com!1711897200!1711983600.xml"));
  auto parsed = parse::ParseAggregateXml(xml, {});
  ASSERT_TRUE(parsed) << parsed.error();
  ASSERT_GT(parsed->records.size(), 100u);
  const std::size_t before = AllocatedBytes();
  auto copy = std::make_unique<model::AggregateReport>(*parsed);
  const std::size_t taken = AllocatedBytes() - before - sizeof(model::AggregateReport);
  const std::size_t counted = model::HeapBytes(*copy);
  // malloc adds its own bytes to each block (8 here, and rounds to 16): the count is a little
  // under what was taken, never over it.
  EXPECT_LE(counted, taken);
  EXPECT_GE(counted, taken * 8 / 10) << "taken " << taken;
  // And the ingest weighs a report by it: a parsed report is not weighed as its document tree.
  InputResult in;
  in.extracted.reports.push_back({"r.xml", std::move(*copy), {}, 0});
  EXPECT_GE(HeldBytes(in), counted);
  EXPECT_LT(HeldBytes(in), counted + 1024);
}

}  // namespace
}  // namespace dmarc::pipeline
